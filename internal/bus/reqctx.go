package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strconv"
	"time"
)

// What crosses the bus with a request besides its body, as NATS headers:
// the caller's deadline (what is left of it when the request is sent, in
// milliseconds: clocks of two machines need not agree) and the request id,
// so that a handler works under its caller's deadline and every role logs
// the id of the HTTP request it serves.
const (
	timeoutHeader   = "Ron-Timeout-Ms"
	requestIDHeader = "Ron-Request-Id"
)

// MaxHandlerTimeout caps the deadline a caller may give a handler: a reply
// later than this could not be sent anyway (the server lets a process
// answer a request within 10 minutes).
const MaxHandlerTimeout = 10 * time.Minute

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id id, which Request sends
// with every request made under ctx and the handler's ctx carries.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id ctx carries, "" if none.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// NewRequestID returns a fresh random request id (16 hex digits).
func NewRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// SaneRequestID says whether id, given by a client (X-Request-Id), may be
// used as a request id: 1 to 64 bytes of letters, digits, '-', '_', '.'
// and ':'.
func SaneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !tokenByte(c) && c != '.' && c != ':' {
			return false
		}
	}
	return true
}

// LogHandler wraps h so that a record logged with a context (InfoContext
// and the like) carries the context's request id as "request_id".
func LogHandler(h slog.Handler) slog.Handler { return ridHandler{h} }

type ridHandler struct{ slog.Handler }

func (h ridHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h ridHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return ridHandler{h.Handler.WithAttrs(as)}
}
func (h ridHandler) WithGroup(g string) slog.Handler { return ridHandler{h.Handler.WithGroup(g)} }

// callerTimeout reads the caller's remaining time from a request's header:
// ok false when there is none or it is not a positive number.
func callerTimeout(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms <= 0 {
		return 0, false
	}
	d := time.Duration(ms) * time.Millisecond
	return min(d, MaxHandlerTimeout), true
}
