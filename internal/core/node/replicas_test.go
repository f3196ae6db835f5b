package node

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/core/blob"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/config"
	"github.com/ronhost/ronhost/internal/core/store"
)

// TestReplicationNeedsTrustAndQuota: a peer the operator does not trust
// asks a node to hold an object: refused, and nothing is fetched or
// pinned. A trusted peer places replicas until its byte quota, then its
// object quota, refuses it; a replica the operator unpins frees its share;
// the charges survive in DATA/replicas.log.
func TestReplicationNeedsTrustAndQuota(t *testing.T) {
	ctx := context.Background()
	asker, _, _ := startNode(t, nil)
	rng := rand.New(rand.NewPCG(3, 14))
	put := func(size int) cid.CID {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		res, err := asker.store.Put(ctx, bytes.NewReader(b), store.PutOptions{Pin: true})
		if err != nil {
			t.Fatal(err)
		}
		return res.CID
	}
	small1, small2, big, tiny := put(100<<10), put(100<<10), put(300<<10), put(5000)

	stranger, _, _ := startNode(t, nil) // trusts nobody: the default
	holder, _, _ := startNode(t, func(c *config.Config) {
		c.Overlay.TrustedPeers = []string{asker.overlay.ID().String()}
		c.Overlay.ReplicaBytes = 256 << 10
		c.Overlay.ReplicaObjects = 2
	})
	for _, n := range []*Node{stranger, holder} {
		h := n.overlay.Host()
		if err := asker.overlay.Host().Connect(ctx, peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}); err != nil {
			t.Fatal(err)
		}
	}
	ask := func(n *Node, c cid.CID) error { return asker.blob.AskReplicate(ctx, n.overlay.ID(), c) }
	holds := func(n *Node, c cid.CID) bool {
		info, err := n.store.Info(ctx, c)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil && info.Pinned
	}
	refused := func(what string, err error, n *Node, c cid.CID) {
		t.Helper()
		if !errors.Is(err, blob.ErrRefused) {
			t.Fatalf("%s: %v, want refused", what, err)
		}
		if _, ierr := n.store.Info(ctx, c); !errors.Is(ierr, store.ErrNotFound) {
			t.Fatalf("%s: refused, yet the node stored the object (%v)", what, ierr)
		}
	}

	refused("an untrusted peer", ask(stranger, small1), stranger, small1)

	if err := ask(holder, small1); err != nil || !holds(holder, small1) {
		t.Fatalf("a trusted peer within its quota: %v (held: %v)", err, holds(holder, small1))
	}
	refused("over the byte quota (100 KiB held + 300 KiB > 256 KiB)", ask(holder, big), holder, big)
	if err := ask(holder, small2); err != nil || !holds(holder, small2) {
		t.Fatalf("a second replica within the quota: %v", err)
	}
	if err := ask(holder, small2); err != nil {
		t.Fatalf("asking again for a replica held (no new charge): %v", err)
	}
	refused("over the object quota (2 held)", ask(holder, tiny), holder, tiny)

	// The operator unpins a replica: its share is free again.
	if err := holder.store.Unpin(ctx, small1); err != nil {
		t.Fatal(err)
	}
	if err := ask(holder, tiny); err != nil || !holds(holder, tiny) {
		t.Fatalf("after an unpin freed a share: %v", err)
	}

	// What the ledger file says is what a restart charges.
	l, err := newReplicaLedger(filepath.Join(holder.opts.DataDir, ReplicasFile), nil, 1, 1, holder.storePinned)
	if err != nil {
		t.Fatal(err)
	}
	got := l.peers[asker.overlay.ID()]
	if len(got) != 2 || got[small2] != 100<<10 || got[tiny] != 5000 {
		t.Fatalf("the ledger reloads %v, want %s and %s", got, small2, tiny)
	}
}
