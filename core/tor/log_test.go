package tor

import (
	"context"
	"log/slog"
	"testing"
)

// testLogger sends log records to t.Log.
func testLogger(t testing.TB) *slog.Logger { return slog.New(tlogHandler{t: t}) }

type tlogHandler struct {
	t     testing.TB
	attrs []slog.Attr
}

func (h tlogHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h tlogHandler) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	for _, a := range h.attrs {
		msg = a.String() + " " + msg
	}
	r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
	h.t.Log(msg)
	return nil
}
func (h tlogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return h
}
func (h tlogHandler) WithGroup(string) slog.Handler { return h }
