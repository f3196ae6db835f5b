package overlay

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/poll"
)

// announcements counts a node's successful announcements per CID.
type announcements struct {
	mu sync.Mutex
	ok map[cid.CID]int
}

func (a *announcements) hook(c cid.CID, err error) {
	if err == nil {
		a.mu.Lock()
		a.ok[c]++
		a.mu.Unlock()
	}
}

func (a *announcements) count(c cid.CID) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ok[c]
}

// holds reports whether o's own provider store lists p as a provider of c:
// a record p put there.
func holds(o *Overlay, c cid.CID, p peer.ID) bool {
	_, d, err := o.running()
	if err != nil {
		return false
	}
	ps, err := d.ProviderStore().GetProviders(context.Background(), Key(c).Hash())
	return err == nil && slices.ContainsFunc(ps, func(ai peer.AddrInfo) bool { return ai.ID == p })
}

// TestReprovider: a root whose first announcement failed (no peer yet) is
// announced by the reprovider once a peer is there, announced again every
// period, and no more after Unprovide.
func TestReprovider(t *testing.T) {
	mn := mocknet.New()
	t.Cleanup(func() { mn.Close() })
	ha, _ := mn.GenPeer()
	hb, _ := mn.GenPeer()
	hc, _ := mn.GenPeer()
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), poll.Guard)
	defer cancel()

	var ann announcements
	ann.ok = make(map[cid.CID]int)
	a := New(Config{Host: ha, Reprovide: 50 * time.Millisecond})
	a.onAnnounce = ann.hook
	b := New(Config{Host: hb})
	bAddr := fmt.Sprintf("%s/p2p/%s", hb.Addrs()[0], hb.ID())
	c := New(Config{Host: hc, Bootstrap: []string{bAddr}})
	for _, o := range []*Overlay{a, b, c} {
		if err := o.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.Close() })
	}
	poll.UntilErr(t, poll.Deadline, "C ready", c.Ready)

	obj := cid.Sum([]byte("announced later"))
	if err := a.Provide(ctx, obj); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Provide with no peer = %v, want ErrNotReady", err)
	}
	if holds(b, obj, a.ID()) || holds(c, obj, a.ID()) {
		t.Fatal("a record reached a peer A was not connected to")
	}

	if err := a.Connect(ctx, bAddr); err != nil {
		t.Fatal(err)
	}
	poll.UntilErr(t, poll.Deadline, "the reprovider puts A's record on B and C", func() error {
		if !holds(b, obj, a.ID()) || !holds(c, obj, a.ID()) {
			return fmt.Errorf("B holds %v, C holds %v", holds(b, obj, a.ID()), holds(c, obj, a.ID()))
		}
		return nil
	})
	got, err := c.FindProviders(ctx, obj, 1)
	if err != nil || len(got) != 1 || got[0].ID != a.ID() {
		t.Fatalf("C's FindProviders = %v, %v; want A", got, err)
	}
	first := ann.count(obj)
	poll.UntilErr(t, poll.Deadline, "announced again", func() error {
		if n := ann.count(obj); n < first+2 {
			return fmt.Errorf("%d announcements, want %d", n, first+2)
		}
		return nil
	})

	// After Unprovide the reprovider leaves obj alone: another root goes
	// through two more rounds while obj gets at most the one in flight.
	a.Unprovide(obj)
	stopped := ann.count(obj)
	other := cid.Sum([]byte("still provided"))
	if err := a.Provide(ctx, other); err != nil {
		t.Fatal(err)
	}
	base := ann.count(other)
	poll.UntilErr(t, poll.Deadline, "other root reprovided twice", func() error {
		if n := ann.count(other); n < base+2 {
			return fmt.Errorf("%d announcements, want %d", n, base+2)
		}
		return nil
	})
	if n := ann.count(obj); n > stopped+1 {
		t.Fatalf("obj announced %d times after Unprovide", n-stopped)
	}
}

// TestProvidedOnFirstPeer: real hosts on loopback. P publishes before it
// has any peer (the announcement fails, ErrNotReady), then connects to A;
// C, which joined through A, finds P's record. P's reprovide period and
// its retry interval are hours, so only the routing table's first peer
// waking the reprovider can put the record there within the test.
func TestProvidedOnFirstPeer(t *testing.T) {
	dir := t.TempDir()
	a := start(t, Config{KeyFile: filepath.Join(dir, "a.key")})
	aAddr := ""
	for _, s := range a.Addrs() {
		if strings.Contains(s, "/tcp/") {
			aAddr = s
		}
	}
	c := start(t, Config{KeyFile: filepath.Join(dir, "c.key"), Bootstrap: []string{aAddr}})
	poll.UntilErr(t, poll.Guard, "C ready", c.Ready)

	p := New(Config{KeyFile: filepath.Join(dir, "p.key"), Reprovide: 6 * time.Hour})
	p.retry = 6 * time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), poll.Guard)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	obj := cid.Sum([]byte("published before the first peer"))
	if err := p.Provide(ctx, obj); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Provide with no peer = %v, want ErrNotReady", err)
	}
	if err := p.Connect(ctx, aAddr); err != nil {
		t.Fatal(err)
	}
	poll.UntilErr(t, time.Minute, "C finds P's record", func() error {
		got, err := c.FindProviders(ctx, obj, 1)
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].ID != p.ID() {
			return fmt.Errorf("C found %v, want P (%s)", got, p.ID())
		}
		return nil
	})
}
