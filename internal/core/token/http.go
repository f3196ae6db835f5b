package token

import (
	"fmt"
	"net/http"
	"strings"
)

// FromHTTP reads the token in r's "Authorization: Bearer <token>" header.
// It returns ErrMissing when there is no Authorization header, and an error
// wrapping ErrMalformed when the header is not one Bearer token.
func FromHTTP(r *http.Request) (Token, error) {
	vals := r.Header.Values("Authorization")
	switch {
	case len(vals) == 0 || len(vals) == 1 && strings.TrimSpace(vals[0]) == "":
		return Token{}, ErrMissing
	case len(vals) > 1:
		return Token{}, fmt.Errorf("%w: more than one Authorization header", ErrMalformed)
	}
	scheme, rest, ok := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Token{}, fmt.Errorf("%w: the Authorization header must be \"Bearer <token>\"", ErrMalformed)
	}
	return Parse(strings.TrimSpace(rest))
}
