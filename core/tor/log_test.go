package tor

import (
	"context"
	"log/slog"
	"testing"
)

// testLogger sends log records to t.Log.
func testLogger(t testing.TB) *slog.Logger { return slog.New(tlogHandler{t}) }

type tlogHandler struct{ t testing.TB }

func (h tlogHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h tlogHandler) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
	h.t.Log(msg)
	return nil
}
func (h tlogHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h tlogHandler) WithGroup(string) slog.Handler      { return h }
