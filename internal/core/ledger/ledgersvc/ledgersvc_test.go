package ledgersvc

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/ledger"
)

// TestLedgerOverTheBus: the ledger's verbs on a real bus. A malformed
// access is refused as invalid (the ledger's sentinel's code, not its
// text); a metered access is settled through plugins.split, which no
// instance serves here, so the manifest is reported failed (to be retried),
// in the reply and in the epoch.settled event.
func TestLedgerOverTheBus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	b := bus.New(bus.Options{Name: "n", Logger: log, RequestTimeout: 2 * time.Second})
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	l, err := ledger.Open(ctx, filepath.Join(t.TempDir(), "ledger"), ledger.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var mu sync.Mutex
	var events []bus.EpochSettled
	emit := func(kind string, v any) {
		if e, ok := v.(bus.EpochSettled); ok && kind == bus.KindEpochSettled {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}
	}
	s := New(l, b, emit, log)
	if err := b.Serve(contract.Ledger, "1.0.0", "", s.Endpoints()...); err != nil {
		t.Fatal(err)
	}

	_, err = bus.Call(ctx, b, contract.LedgerMeter, contract.MeterReq{TLD: "note", Price: 5, Node: "n"})
	if codes.Of(err) != codes.Invalid {
		t.Fatalf("meter without a manifest: %v, want invalid", err)
	}
	m := cid.Sum([]byte("a manifest"))
	if _, err := bus.Call(ctx, b, contract.LedgerMeter, contract.MeterReq{Manifest: m, TLD: "note", Price: 5, Node: "n", Bytes: 10}); err != nil {
		t.Fatal(err)
	}
	st, err := bus.Call(ctx, b, contract.LedgerSettle, contract.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Settlements) != 1 || len(st.Settlements[0].Failed) != 1 || st.Settlements[0].Failed[0].Manifest != m {
		t.Fatalf("settlements %+v, want one with %s failed", st, m)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 1 || len(events[0].Failed) != 1 || events[0].Failed[0] != m.String() {
		t.Fatalf("events %+v", events)
	}
}
