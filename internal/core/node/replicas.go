package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/core/blob"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// Replicas other peers asked this node to hold. Only peers the operator
// names in [overlay] trusted_peers may ask (core/blob refuses the others
// before anything is fetched); each of them may have at most
// replica_objects objects and replica_bytes bytes held here. What a peer had
// us hold is recorded in DATA/replicas.log (one JSON line per replica,
// fsynced before the answer), so a restart does not reset the quota. A
// replica the operator unpinned (or GC collected) no longer counts: the
// ledger drops such entries when a peer reaches its quota.

// ReplicasFile is the replica ledger under the data directory.
const ReplicasFile = "replicas.log"

// replicaEntry is one line of the ledger.
type replicaEntry struct {
	Peer string  `json:"peer"`
	CID  cid.CID `json:"cid"`
	Size int64   `json:"size"`
}

// replicaLedger charges trusted peers for the replicas they place here.
type replicaLedger struct {
	path     string
	trusted  map[peer.ID]bool
	maxBytes int64
	maxObjs  int
	pinned   func(ctx context.Context, c cid.CID) bool // whether the store still holds c pinned

	mu    sync.Mutex
	peers map[peer.ID]map[cid.CID]int64 // held or being placed
}

// newReplicaLedger parses the trusted peers and loads the ledger file.
func newReplicaLedger(path string, trusted []string, maxBytes int64, maxObjs int,
	pinned func(context.Context, cid.CID) bool) (*replicaLedger, error) {
	l := &replicaLedger{path: path, trusted: map[peer.ID]bool{}, maxBytes: maxBytes, maxObjs: maxObjs,
		pinned: pinned, peers: map[peer.ID]map[cid.CID]int64{}}
	for _, s := range trusted {
		id, err := peer.Decode(s)
		if err != nil {
			return nil, fmt.Errorf("node: [overlay] trusted_peers: %q is not a peer ID: %v", s, err)
		}
		l.trusted[id] = true
	}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("node: %w", err)
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		var e replicaEntry
		if len(line) == 0 || json.Unmarshal(line, &e) != nil || e.CID == (cid.CID{}) {
			continue // a torn last line after a crash: that replica was not acknowledged
		}
		id, err := peer.Decode(e.Peer)
		if err != nil {
			continue
		}
		l.add(id, e.CID, e.Size)
	}
	return l, nil
}

func (l *replicaLedger) add(p peer.ID, c cid.CID, size int64) {
	m := l.peers[p]
	if m == nil {
		m = map[cid.CID]int64{}
		l.peers[p] = m
	}
	m[c] = size
}

// Trusted reports whether p may ask for replicas (blob.Config.Trusted).
func (l *replicaLedger) Trusted(p peer.ID) bool { return l.trusted[p] }

func usage(m map[cid.CID]int64) (n int, bytes int64) {
	for _, s := range m {
		n++
		bytes += s
	}
	return n, bytes
}

// reserve charges p for c of size bytes before it is fetched. It returns
// whether c was already charged to p (nothing more to record), or an error
// wrapping blob.ErrRefused when p is over its quota even after replicas it
// no longer has here are dropped.
func (l *replicaLedger) reserve(ctx context.Context, p peer.ID, c cid.CID, size int64) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.peers[p]
	if _, ok := m[c]; ok {
		return true, nil
	}
	fits := func() bool {
		n, b := usage(m)
		return n+1 <= l.maxObjs && b+size <= l.maxBytes
	}
	if !fits() && len(m) > 0 {
		if err := l.pruneLocked(ctx, p); err != nil {
			return false, err
		}
	}
	if !fits() {
		n, b := usage(m)
		return false, fmt.Errorf("%w: peer %s is over its replica quota here (it holds %d objects and %d bytes; "+
			"at most %d objects and %d bytes per peer; %s is %d bytes)", blob.ErrRefused, p, n, b, l.maxObjs, l.maxBytes, c, size)
	}
	l.add(p, c, size)
	return false, nil
}

// release forgets a reservation whose replication failed.
func (l *replicaLedger) release(p peer.ID, c cid.CID) {
	l.mu.Lock()
	delete(l.peers[p], c)
	l.mu.Unlock()
}

// record appends p's replica of c to the ledger file, fsynced.
func (l *replicaLedger) record(p peer.ID, c cid.CID, size int64) error {
	b, _ := json.Marshal(replicaEntry{Peer: p.String(), CID: c, Size: size})
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("node: replica ledger: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("node: replica ledger: %w", err)
	}
	return nil
}

// pruneLocked drops p's replicas that this node no longer holds pinned and
// rewrites the ledger without them (and without any other peer's).
func (l *replicaLedger) pruneLocked(ctx context.Context, p peer.ID) error {
	m := l.peers[p]
	dropped := false
	for c := range m {
		if !l.pinned(ctx, c) {
			delete(m, c)
			dropped = true
		}
	}
	if !dropped {
		return nil
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	for id, m := range l.peers {
		for c, size := range m {
			b, _ := json.Marshal(replicaEntry{Peer: id.String(), CID: c, Size: size})
			w.Write(append(b, '\n'))
		}
	}
	w.Flush()
	if err := writeFileAtomic(l.path, buf.Bytes(), 0o600); err != nil {
		return err
	}
	return nil
}

// peerReplicator is the node as the blob service's Replicator: a trusted
// peer asked it to hold a copy. It learns the object's size (a verified
// outboard), charges the peer's quota, and only then fetches.
type peerReplicator struct {
	n      *Node
	ledger *replicaLedger
}

func (r peerReplicator) Replicate(ctx context.Context, c cid.CID, from peer.ID) error {
	n := r.n
	var size int64
	if info, err := n.store.Info(ctx, c); err == nil {
		size = info.Size
	} else if errors.Is(err, store.ErrNotFound) {
		fctx, cancel := context.WithTimeout(ctx, n.opts.Config.Overlay.FetchTimeout.D())
		size, _, err = n.blob.Outboard(fctx, c, []peer.AddrInfo{{ID: from, Addrs: n.overlay.Host().Peerstore().Addrs(from)}})
		cancel()
		if err != nil {
			return fmt.Errorf("node: the size of %s: %w", c, err)
		}
	} else {
		return err
	}
	charged, err := r.ledger.reserve(ctx, from, c, size)
	if err != nil {
		n.log.Info("replica refused", "cid", c, "for", from, "err", err)
		return err
	}
	if err := n.replicate(ctx, c, from); err != nil {
		if !charged {
			r.ledger.release(from, c)
		}
		return err
	}
	if !charged {
		if err := r.ledger.record(from, c, size); err != nil {
			n.log.Warn("recording a replica", "cid", c, "for", from, "err", err)
			return err
		}
	}
	return nil
}

// storePinned reports whether the local store holds c pinned (an error
// other than not-found counts as held: the charge stays).
func (n *Node) storePinned(ctx context.Context, c cid.CID) bool {
	info, err := n.store.Info(ctx, c)
	if err != nil {
		return !errors.Is(err, store.ErrNotFound)
	}
	return info.Pinned
}

func replicasPath(dataDir string) string { return filepath.Join(dataDir, ReplicasFile) }
