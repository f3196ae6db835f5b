package node

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/config"
	"github.com/ronhost/ronhost/internal/core/mailbox"
)

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// loggedBusNode is busNode with the node's log lines in the returned buffer.
func loggedBusNode(t *testing.T, roles ...string) (*Node, string, string, []byte, *syncBuffer) {
	t.Helper()
	secret := bytes.Repeat([]byte{0x5a}, bus.SecretSize)
	dir := t.TempDir()
	path := filepath.Join(dir, "bus.secret")
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Node.Listen = "127.0.0.1:0"
	cfg.Plugins.CacheDir = testCache
	cfg.Payouts.AutoSettle = false
	cfg.Tor.Mode = "off"
	cfg.Node.Roles = roles
	cfg.Bus.Listen = "127.0.0.1:0"
	cfg.Bus.SecretFile = path
	logs := &syncBuffer{}
	data := filepath.Join(dir, "data")
	n := New(Options{DataDir: data, Config: cfg, Builtins: []Builtin{{TLD: "notes", Wasm: notesPlugin(t)}},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	loadPlugins(t, n)
	tok, err := os.ReadFile(filepath.Join(data, OperatorToken))
	if err != nil {
		t.Fatal(err)
	}
	return n, "http://" + n.Addr(), strings.TrimSpace(string(tok)), secret, logs
}

// TestDeadlineAndRequestIDCrossTheBus: the 5-minute deadline a settle asked
// for over HTTP reaches the ledger's handler in another process (the bus
// used to give it a fresh request timeout), the request id the client sent
// reaches the index's handler, and the gateway's failure log line, with
// that id, reaches the node's logger (the gateway used to be built
// without one).
func TestDeadlineAndRequestIDCrossTheBus(t *testing.T) {
	n, api, tok, secret, logs := loggedBusNode(t, "gateway", "store")

	type seen struct {
		left time.Duration
		id   string
	}
	got := make(chan seen, 4)
	ledger := roleClient(t, n, secret, "ledger")
	if err := ledger.Serve(contract.Ledger, BusAPIVersion, "",
		bus.Handle(contract.LedgerSettle, func(ctx context.Context, _ contract.Empty) (contract.Settlements, error) {
			dl, _ := ctx.Deadline()
			got <- seen{time.Until(dl), bus.RequestID(ctx)}
			return contract.Settlements{Settlements: []contract.Settlement{}}, nil
		})); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", api+"/v1/payouts/settle", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Request-Id", "settle-7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Request-Id") != "settle-7" {
		t.Fatalf("settle: %d, X-Request-Id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	s := <-got
	if s.left < 4*time.Minute || s.id != "settle-7" {
		t.Fatalf("the ledger's settle handler had %s left (want the backend's 5 minutes) and request id %q", s.left, s.id)
	}

	// A lookup answered with an entry that does not hash to the address:
	// the gateway refuses it (502) and logs why, with the request id.
	idx := roleClient(t, n, secret, "index")
	hash := cid.Sum([]byte("not a manifest"))
	if err := idx.Serve(contract.Index, BusAPIVersion, "",
		bus.Handle(contract.IndexLookup, func(ctx context.Context, r contract.LookupReq) (contract.Entry, error) {
			got <- seen{id: bus.RequestID(ctx)}
			return contract.Entry{Address: "crab://" + hash.Hex() + ".notes", Manifest: r.Hash, TLD: "notes",
				Payload: hash, Size: 14, Doc: []byte(`{"meta":{"tld":"notes"}}`)}, nil
		})); err != nil {
		t.Fatal(err)
	}
	// A client's id that is not sane is replaced.
	for _, id := range []string{"trace-42", "bad id with spaces"} {
		req, _ = http.NewRequest("GET", api+"/r/"+hash.Hex()+".notes", nil)
		req.Header.Set("X-Request-Id", id)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		rid := resp.Header.Get("X-Request-Id")
		if resp.StatusCode != http.StatusBadGateway || !bus.SaneRequestID(rid) || (rid == id) != (id == "trace-42") {
			t.Fatalf("a forged entry (X-Request-Id %q): %d, X-Request-Id %q", id, resp.StatusCode, rid)
		}
		if s := <-got; s.id != rid {
			t.Fatalf("the index's handler saw request id %q, the client %q", s.id, rid)
		}
	}
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "gateway: request failed") && strings.Contains(l, "request_id=trace-42") {
			line = l
		}
	}
	if line == "" || !strings.Contains(line, "component=gateway") || !strings.Contains(line, "status=502") {
		t.Fatalf("no gateway failure line with the request id in the node's log:\n%s", logs.String())
	}
}

// TestMailboxEventKinds: the contract's mailbox events are core/mailbox's.
func TestMailboxEventKinds(t *testing.T) {
	for got, want := range map[string]string{
		contract.KindMailboxReceived: mailbox.EventReceived, contract.KindMailboxDelivered: mailbox.EventDelivered,
		contract.KindMailboxAcked: mailbox.EventAcked, contract.KindMailboxFailed: mailbox.EventFailed,
	} {
		if got != want {
			t.Errorf("contract %q, core/mailbox %q", got, want)
		}
	}
}

// TestInvalidManifestIs422Everywhere: one manifest that is not TOML is
// refused the same way by the gateway's own check (before the payload) and
// by the index (the publish verb with Manifest.toml text): rejected, 422,
// with its field errors. The gateway used to answer 400.
func TestInvalidManifestIs422Everywhere(t *testing.T) {
	n, api, tok := startNode(t, nil)
	const bad = "[meta\ntld = \"notes\"\n"
	note := []byte("a note\n")

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("manifest", "Manifest.toml")
	w.Write([]byte(bad))
	w, _ = mw.CreateFormFile("payload", "note.md")
	w.Write(note)
	mw.Close()
	req, _ := http.NewRequest("POST", api+"/v1/publish", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var httpErr bus.Error
	if resp.StatusCode != http.StatusUnprocessableEntity || json.Unmarshal(b, &httpErr) != nil || httpErr.Code != codes.Rejected || len(httpErr.Errors) == 0 {
		t.Fatalf("the gateway's answer to a manifest that is not TOML: %d %s", resp.StatusCode, b)
	}

	code, out := httpDo(t, "POST", api+"/v1/objects", tok, note)
	var obj struct{ CID cid.CID }
	if code != http.StatusCreated || json.Unmarshal(out, &obj) != nil {
		t.Fatalf("POST /v1/objects: %d %s", code, out)
	}
	_, err = bus.Call(context.Background(), n.bus, contract.IndexPublish, contract.PublishReq{Manifest: bad,
		Payload: contract.Payload{CID: obj.CID, Size: int64(len(note))}})
	e := bus.AsError(err)
	if e == nil || e.Code != httpErr.Code || e.Code.Status() != resp.StatusCode || len(e.Errors) == 0 {
		t.Fatalf("the index's answer to the same manifest: %v; the gateway's: %d %s", err, resp.StatusCode, httpErr.Code)
	}
}
