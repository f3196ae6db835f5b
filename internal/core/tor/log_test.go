package tor

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
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

// recorder keeps the records a logger at debug level produces.
type recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.mu.Unlock()
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// TestBootstrapChatterOncePerStep: a tor that cannot reach its first relay
// writes a "Problem bootstrapping" warning and a failed-connections summary
// every second; the log keeps the first problem of each 10 % step as a
// warning and sends the rest, and tor's own progress notices, to debug.
// Other warnings and errors keep their level.
func TestBootstrapChatterOncePerStep(t *testing.T) {
	rec := &recorder{}
	w := &logWriter{log: slog.New(rec), warned: -1}
	problem := func(pct, count int) string {
		return fmt.Sprintf("Dec 07 02:10:51.000 [warn] Problem bootstrapping. Stuck at %d%% (conn): Connecting to a relay. (Connection refused; CONNECTREFUSED; count %d; recommendation warn; host 0000 at 127.0.0.1:9)\n", pct, count)
	}
	var in strings.Builder
	in.WriteString("Dec 07 02:10:50.000 [notice] Bootstrapped 0% (starting): Starting\n")
	in.WriteString("Dec 07 02:10:51.000 [notice] Bootstrapped 5% (conn): Connecting to a relay\n")
	for i := 1; i <= 30; i++ {
		in.WriteString(problem(5, i))
		fmt.Fprintf(&in, "Dec 07 02:10:52.000 [warn] %d connections have failed:\n", i)
		fmt.Fprintf(&in, "Dec 07 02:10:52.000 [warn]  %d connections died in state connect()ing with SSL state (No SSL object)\n", i)
	}
	in.WriteString("Dec 07 02:11:30.000 [notice] Bootstrapped 14% (handshake): Handshaking with a relay\n")
	for i := 31; i <= 40; i++ {
		in.WriteString(problem(14, i))
	}
	in.WriteString("Dec 07 02:11:40.000 [warn] You are running Tor as root. You don't need to, and you probably shouldn't.\n")
	in.WriteString("Dec 07 02:11:41.000 [err] Reading config failed\n")
	if _, err := w.Write([]byte(in.String())); err != nil {
		t.Fatal(err)
	}
	var warns, errs, debug []string
	for _, r := range rec.recs {
		switch {
		case r.Level >= slog.LevelError:
			errs = append(errs, r.Message)
		case r.Level >= slog.LevelWarn:
			warns = append(warns, r.Message)
		case r.Level < slog.LevelInfo:
			debug = append(debug, r.Message)
		}
	}
	if len(warns) != 3 || !strings.Contains(warns[0], "Stuck at 5%") || !strings.Contains(warns[1], "Stuck at 14%") || !strings.Contains(warns[2], "running Tor as root") {
		t.Fatalf("warnings:\n%s", strings.Join(warns, "\n"))
	}
	if len(errs) != 1 || len(debug) != 3+29+60+9 {
		t.Fatalf("%d errors, %d debug lines", len(errs), len(debug))
	}
}
