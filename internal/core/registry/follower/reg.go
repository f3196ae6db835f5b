package follower

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/registry"
)

// reg is one followed registry.
type reg struct {
	id, dir string
	topic   *pubsub.Topic
	sub     *pubsub.Subscription

	work sync.Mutex // one head judged at a time

	mu       sync.Mutex // guards the fields below
	log      *registry.Log
	halted   string // why, after a fork
	accepted uint64
	refused  map[string]uint64 // by reason
	frozen   bool              // warned that the head expired
}

// state is what a registry's state.json keeps.
type state struct {
	Objects  []string          `json:"objects"` // entry objects, in order
	Head     json.RawMessage   `json:"head,omitempty"`
	Halted   string            `json:"halted,omitempty"`
	Accepted uint64            `json:"accepted"`
	Refused  map[string]uint64 `json:"refused,omitempty"`
}

func (r *reg) current() *registry.Log {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log
}

func (r *reg) entries() uint64 {
	if l := r.current(); l != nil {
		return l.Len()
	}
	return 0
}

func (r *reg) headSeq() uint64 {
	if l := r.current(); l != nil {
		if sh, _ := l.Head(); sh != nil {
			return sh.Head.Seq
		}
	}
	return 0
}

func (r *reg) headRaw() []byte {
	if l := r.current(); l != nil {
		_, raw := l.Head()
		return raw
	}
	return nil
}

// refuse logs and counts a refused head.
func (r *reg) refuse(f *Follower, reason string, err error, from peer.ID) {
	r.mu.Lock()
	r.refused[reason]++
	r.mu.Unlock()
	f.log.Warn("registry head refused", "registry", r.id, "reason", reason, "err", err, "from", from)
	r.save(f)
}

// save writes the registry's state.
func (r *reg) save(f *Follower) {
	r.mu.Lock()
	st := state{Halted: r.halted, Accepted: r.accepted, Refused: r.refused, Objects: []string{}}
	if r.log != nil {
		st.Objects = r.log.Objects()
		_, st.Head = r.log.Head()
	}
	b, err := json.MarshalIndent(st, "", "  ")
	r.mu.Unlock()
	if err == nil {
		err = writeFile(filepath.Join(r.dir, "state.json"), append(b, '\n'))
	}
	if err != nil {
		f.log.Error("saving a registry's state", "registry", r.id, "err", err)
	}
}

// restore rebuilds the log from the state and the entry objects the store
// keeps; anything missing or wrong starts it afresh (peers have it).
func (r *reg) restore(ctx context.Context, f *Follower) {
	b, err := os.ReadFile(filepath.Join(r.dir, "state.json"))
	if err != nil {
		return
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		f.log.Error("a registry's state is damaged; relearning it from peers", "registry", r.id, "err", err)
		return
	}
	r.halted, r.accepted = st.Halted, st.Accepted
	for k, v := range st.Refused {
		r.refused[k] = v
	}
	l, err := rebuild(ctx, f, st)
	if err != nil {
		f.log.Error("a registry's state does not verify; relearning it from peers", "registry", r.id, "err", err)
		return
	}
	if l != nil && l.ID() != r.id {
		f.log.Error("a registry's state is another registry's; relearning it", "registry", r.id, "found", l.ID())
		return
	}
	r.log = l
}

func rebuild(ctx context.Context, f *Follower, st state) (*registry.Log, error) {
	if len(st.Objects) == 0 || st.Head == nil {
		return nil, nil
	}
	var objs []*registry.Object
	for _, s := range st.Objects {
		c, err := cid.Parse(s)
		if err != nil {
			return nil, err
		}
		b, err := f.objs.Fetch(ctx, c, registry.MaxObject)
		if err != nil {
			return nil, fmt.Errorf("entry object %s: %w", s, err)
		}
		o, err := registry.ParseObject(b)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	l, err := registry.Build(objs)
	if err != nil {
		return nil, err
	}
	sh, err := registry.ParseHead(st.Head)
	if err != nil {
		return nil, err
	}
	return l.Restore(sh, st.Head)
}

// Status is what a node knows of a registry it follows.
type Status struct {
	Registry    string                         `json:"registry"`
	Name        string                         `json:"name,omitempty"`
	Entries     uint64                         `json:"entries"`
	Head        uint64                         `json:"head"`
	Expires     string                         `json:"expires,omitempty"`
	Frozen      bool                           `json:"frozen"` // the head expired: no maintainer re-signed it
	Halted      string                         `json:"halted,omitempty"`
	Maintainers []string                       `json:"maintainers,omitempty"`
	Threshold   int                            `json:"threshold,omitempty"`
	Bindings    map[string]registry.Binding    `json:"bindings"`
	Revoked     map[string]registry.Revocation `json:"revoked"`
	Accepted    uint64                         `json:"accepted"` // heads accepted
	Refused     map[string]uint64              `json:"refused"`  // heads refused, by reason
}

func (r *reg) status(now time.Time) Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Status{Registry: r.id, Halted: r.halted, Accepted: r.accepted, Refused: map[string]uint64{},
		Bindings: map[string]registry.Binding{}, Revoked: map[string]registry.Revocation{}}
	for k, v := range r.refused {
		s.Refused[k] = v
	}
	if r.log != nil {
		s.Name, s.Entries = r.log.Name(), r.log.Len()
		s.Maintainers, s.Threshold = r.log.Maintainers()
		s.Bindings, s.Revoked = r.log.Bindings(), r.log.Revoked()
		if sh, _ := r.log.Head(); sh != nil {
			s.Head, s.Expires = sh.Head.Seq, sh.Head.Expires
			s.Frozen = !now.Before(sh.Head.ExpiresAt())
		}
	}
	return s
}

// Status reports every followed registry, in order of preference.
func (f *Follower) Status() []Status {
	f.mu.Lock()
	regs := append([]*reg(nil), f.regs...)
	f.mu.Unlock()
	out := []Status{}
	for _, r := range regs {
		out = append(out, r.status(f.cfg.Now()))
	}
	return out
}

// writeFile writes b to path through a synced temporary file and a rename.
func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
