package bus

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/ronhost/ronhost/internal/codes"
)

// Spec is what the bus needs to know of a verb to call it: its role, its
// name, and whether it is idempotent. Request, retries and hedging read
// idempotency from here and from nowhere else: a verb is declared once, with
// its types (Verb), in the contract (package bus/contract).
type Spec struct {
	Role string
	Verb string
	// Idempotent says that a second run of one request leaves the same
	// state and answer as one, so the request may be sent again after
	// silence or a failure that may have come after part of the work. A
	// publish, a meter, a settle are not: they are never sent again once an
	// instance may have run them.
	Idempotent bool
}

func (s Spec) String() string { return s.Role + "." + s.Verb }

// Verb is one verb of a role with its request and reply types, declared
// once (package bus/contract) and used on both sides: Call on the caller's,
// Handle on the server's.
type Verb[Req, Resp any] struct{ Spec }

// Declare declares a verb of role. idempotent: see Spec.
func Declare[Req, Resp any](role, verb string, idempotent bool) Verb[Req, Resp] {
	return Verb[Req, Resp]{Spec{Role: role, Verb: verb, Idempotent: idempotent}}
}

// Call sends req to v's role and returns its reply (Request).
func Call[Req, Resp any](ctx context.Context, b *Bus, v Verb[Req, Resp], req Req) (Resp, error) {
	var r Resp
	err := b.Request(ctx, v.Spec, req, &r)
	return r, err
}

// Endpoint is a verb and its handler, for Serve.
type Endpoint struct {
	Spec    Spec
	Handler Handler
}

// Handle makes the endpoint of v from a typed handler: the request is
// decoded into a Req (an empty body is {}; unknown fields are refused with
// codes.Invalid) and fn's Resp is the reply.
func Handle[Req, Resp any](v Verb[Req, Resp], fn func(context.Context, Req) (Resp, error)) Endpoint {
	return Endpoint{Spec: v.Spec, Handler: func(ctx context.Context, data []byte) (any, error) {
		var r Req
		if err := Decode(data, &r); err != nil {
			return nil, err
		}
		resp, err := fn(ctx, r)
		if err != nil {
			return nil, err
		}
		return resp, nil
	}}
}

// Decode parses a request body into v, refusing unknown fields
// (codes.Invalid). An empty body is {}.
func Decode(data []byte, v any) error {
	if len(data) == 0 {
		data = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(codes.Invalid, "bad request: %v", err)
	}
	return nil
}

// Serve puts role's endpoints on the bus (AddService). Every endpoint must
// be a verb of role.
func (b *Bus) Serve(role, version, description string, eps ...Endpoint) error {
	m := make(map[string]Handler, len(eps))
	for _, ep := range eps {
		if ep.Spec.Role != role {
			return fmt.Errorf("bus: %s is not a verb of the %s service", ep.Spec, role)
		}
		if _, dup := m[ep.Spec.Verb]; dup {
			return fmt.Errorf("bus: %s is served twice", ep.Spec)
		}
		m[ep.Spec.Verb] = ep.Handler
	}
	return b.AddService(role, version, description, m)
}
