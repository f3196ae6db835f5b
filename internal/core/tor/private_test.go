package tor

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/poll"
	"github.com/ronhost/ronhost/internal/tortest"
)

// TestPrivateNetworkOnion builds a private Tor network on 127.0.0.1, publishes
// an onion service through one managed client and fetches it through another;
// then kills the service's tor and fetches again once the supervisor has
// restarted it and republished the service.
func TestPrivateNetworkOnion(t *testing.T) {
	if err := tortest.Available(); err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := shortTempDir(t)
	began := time.Now()
	network, err := tortest.Start(ctx, t, filepath.Join(dir, "net"), tortest.Options{Authorities: 3, Relays: 5})
	if err != nil {
		t.Fatal(err)
	}
	client := func(name string) *Tor {
		tr := New(Options{DataDir: filepath.Join(dir, name), ExtraTorrc: network.ClientTorrc(),
			Logger:     testLogger(t).With("tor", name),
			RestartMin: 100 * time.Millisecond, RestartMax: time.Second})
		if err := tr.Start(ctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { tr.Close() })
		return tr
	}
	svc, cli := client("svc"), client("cli")

	if err := network.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("private network: consensus listing every node after %v", time.Since(began).Round(time.Millisecond))
	for name, tr := range map[string]*Tor{"svc": svc, "cli": cli} {
		if err := tr.WaitReady(ctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	t.Logf("both clients bootstrapped 100%% after %v", time.Since(began).Round(time.Millisecond))

	const body = "hello through a private onion"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })}
	go srv.Serve(ln)
	defer srv.Close()

	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	published := time.Now()
	onion, err := svc.Publish(ctx, key, 80, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if onion != OnionAddress(key.Public().(ed25519.PublicKey)) {
		t.Fatalf("Publish returned %s", onion)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: cli.Dialer().DialContext, DisableKeepAlives: true}}
	url := "http://" + onion + ".onion/"

	// The first fetch waits for the descriptor to reach the HSDirs.
	fetch := func(what string) time.Duration {
		t.Helper()
		var last error
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			start := time.Now()
			actx, acancel := context.WithTimeout(ctx, 15*time.Second)
			req, _ := http.NewRequestWithContext(actx, "GET", url, nil)
			resp, err := hc.Do(req)
			if err == nil {
				b, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				acancel()
				if rerr == nil && string(b) == body {
					return time.Since(start)
				}
				t.Fatalf("%s: body %q, %v", what, b, rerr)
			}
			acancel()
			if last == nil || last.Error() != err.Error() {
				t.Logf("%s: %v", what, err)
			}
			last = err
			select {
			case <-ctx.Done():
				t.Fatalf("%s: no answer from %s before the deadline; last error: %v", what, url, last)
			case <-tick.C:
			}
		}
	}
	fetch("first fetch")
	t.Logf("first fetch succeeded %v after Publish", time.Since(published).Round(time.Millisecond))
	t.Logf("warm fetch latency (new stream, existing rendezvous circuit): %v", fetch("warm fetch").Round(time.Millisecond))

	// Kill the service's tor: Ready degrades, the supervisor restarts it and
	// republishes the onion service, and the fetch works again.
	pid := svc.Status().PID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll.UntilCtx(t, ctx, "svc Ready to report the restart", func() bool {
		err := svc.Ready()
		return errors.Is(err, ErrNotReady) && strings.Contains(err.Error(), "restarting")
	})
	killed := time.Now()
	if err := svc.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("svc tor restarted and bootstrapped %v after SIGKILL", time.Since(killed).Round(time.Millisecond))
	fetch("fetch after restart")
	t.Logf("fetch after restart succeeded %v after SIGKILL", time.Since(killed).Round(time.Millisecond))
}
