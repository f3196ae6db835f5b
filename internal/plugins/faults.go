package plugins

import (
	"container/list"
	"errors"
	"fmt"
	"sync"
	"time"

	"lukechampine.com/blake3"
)

// contentKey names what a call was about: the BLAKE3 of the entry point and
// the manifest as the plugin reads it (or, for a raw call, the whole input).
// Faults are attributed to it. The same hash of a call's whole input names
// the inputs a plugin answered well.
type contentKey [32]byte

func newContentKey(e Entry, content []byte) contentKey {
	return contentKeyWith(blake3.New(32, nil), e, content)
}

// contentKeyWith is newContentKey with h, a new or reset 32-byte hasher.
func contentKeyWith(h *blake3.Hasher, e Entry, content []byte) contentKey {
	h.Write([]byte(e))
	h.Write([]byte{0})
	h.Write(content)
	var k contentKey
	h.Sum(k[:0])
	return k
}

// contentKey is newContentKey with a hasher from h's pool: it runs at every
// call.
func (h *Host) contentKey(e Entry, content []byte) contentKey {
	hs, _ := h.hashers.Get().(*blake3.Hasher)
	if hs == nil {
		hs = blake3.New(32, nil)
	}
	k := contentKeyWith(hs, e, content)
	hs.Reset()
	h.hashers.Put(hs)
	return k
}

// maxMarks bounds the content marks a plugin keeps (oldest evicted first),
// and maxGood the inputs it remembers answering well.
const (
	maxMarks = 4096
	maxGood  = 4096
)

// A fault that depends on the machine as well as on the content (the
// wall-clock safety net, or a payload read that failed) does not mark the
// content the first time (the next call runs); a second in a row does, for
// at most envMarkTTL. It never counts towards quarantine, whatever the call
// was about: a loaded or stalled machine is not a broken plugin.
const (
	envStrikes = 2
	envMarkTTL = time.Minute
)

// environmental reports whether fe depends on the machine rather than on the
// module and its input alone: a timeout that is not out of fuel (the
// wall-clock safety net: a stalled or loaded machine), or a call whose
// payload read failed (the store, not the content, changed what the plugin
// saw).
func environmental(fe *FaultError) bool {
	return fe.objectFailed || (fe.Kind == FaultTimeout && !errors.Is(fe.Err, ErrOutOfFuel))
}

// logicFault reports whether a fault of kind k depends only on the module
// and its input, never on the instance's history: a trap, an exit, a bad
// status or output. Fuel and memory do depend on it (a language runtime's
// garbage collector, a plugin's caches), so an input that ran within its
// budgets on one instance may not on another: an attacker who steers what
// the pool ran before could make a known-good input run out.
func logicFault(k FaultKind) bool {
	switch k {
	case FaultTrap, FaultExit, FaultStatus, FaultOutputTooLarge, FaultBadOutput:
		return true
	}
	return false
}

// faultBook keeps a plugin's fault accounting.
//
// A fault on some content marks that content: later calls about it fail at
// once with the same fault, without running the plugin, until the mark
// expires (plugins are pure, so the call would fault again). A fault that
// depends on the machine (environmental) marks only on the second in a row.
//
// Content faults do not count towards quarantine: anyone can publish content
// crafted to make a plugin fault, and have any node fetch it, so faults on
// many crafted manifests would switch a TLD off for everyone. What counts is
// what says the plugin itself is broken: a fault no content caused (an
// instance that fails to start, describe) unless it is environmental, and a
// logic fault (logicFault) on
// an input the plugin answered well before (a deterministic plugin that
// faults on an input it handled is broken, not attacked). Quarantine comes
// after Config.QuarantineAfter counted faults over at least
// Config.QuarantineDistinct distinct inputs, with no successful call between
// them and all within Config.QuarantineWindow; it lasts Config.QuarantineFor.
type faultBook struct {
	after, distinct   int
	window, ttl, qfor time.Duration
	now               func() time.Time

	mu        sync.Mutex
	marks     map[contentKey]*list.Element
	order     *list.List         // of *contentMark, front newest
	strikes   map[contentKey]int // environmental faults in a row, per content not yet marked
	good      map[contentKey]*list.Element
	goodOrder *list.List  // of contentKey, front most recent: inputs answered well
	recent    []faultSeen // counted faults since the last success, oldest first
	other     uint64      // numbers faults not caused by content (instantiation)
	qAt       time.Time   // when the plugin was last quarantined
}

type contentMark struct {
	key       contentKey
	at, until time.Time
	fault     *FaultError
}

type faultSeen struct {
	at  time.Time
	key contentKey
}

func newFaultBook(c Config) *faultBook {
	return &faultBook{
		after: c.QuarantineAfter, distinct: c.QuarantineDistinct,
		window: c.QuarantineWindow, ttl: c.ContentFaultTTL, qfor: c.QuarantineFor, now: c.now,
		marks: map[contentKey]*list.Element{}, order: list.New(), strikes: map[contentKey]int{},
		good: map[contentKey]*list.Element{}, goodOrder: list.New(),
	}
}

// marked returns the fault that marked k, if its mark holds.
func (b *faultBook) marked(k contentKey) (*FaultError, time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	el, ok := b.marks[k]
	if !ok {
		return nil, time.Time{}, false
	}
	m := el.Value.(*contentMark)
	if !b.now().Before(m.until) {
		b.order.Remove(el)
		delete(b.marks, k)
		return nil, time.Time{}, false
	}
	return m.fault, m.at, true
}

// A verdict is what the fault book made of one fault.
type verdict struct {
	marked     bool // the fault marked its content
	counted    bool // it counts towards quarantine
	quarantine bool // the plugin must now be quarantined
	// faults and distinct: the counted faults in a row and the distinct
	// inputs they span.
	faults, distinct int
}

// fault records fe, a fault on content k (nil: not caused by content) whose
// call's whole input was in.
func (b *faultBook) fault(k *contentKey, in contentKey, fe *FaultError) verdict {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	var v verdict
	var key contentKey
	if k != nil {
		ttl := b.ttl
		mark := true
		env := environmental(fe)
		if env {
			ttl = min(ttl, envMarkTTL)
			if len(b.strikes) >= maxMarks {
				clear(b.strikes)
			}
			b.strikes[*k]++
			mark = b.strikes[*k] >= envStrikes
		}
		v.marked = mark
		fe.Content = mark // before the mark shares fe: it is not written again
		if mark {
			b.mark(*k, now, ttl, fe)
		}
		_, known := b.good[in]
		v.counted = !env && known && logicFault(fe.Kind)
		key = in
	} else {
		// A fault no content caused counts as its own distinct input,
		// unless the machine caused it.
		b.other++
		key = newContentKey("", fmt.Appendf(nil, "instantiate %d", b.other))
		v.counted = !environmental(fe)
	}
	if !v.counted {
		return v
	}
	b.recent = append(b.recent, faultSeen{at: now, key: key})
	i := 0
	for i < len(b.recent) && now.Sub(b.recent[i].at) > b.window {
		i++
	}
	b.recent = b.recent[i:]
	if len(b.recent) > 4*b.after { // only the last faults matter
		b.recent = append(b.recent[:0], b.recent[len(b.recent)-4*b.after:]...)
	}
	seen := map[contentKey]bool{}
	for _, f := range b.recent {
		seen[f.key] = true
	}
	v.faults, v.distinct = len(b.recent), len(seen)
	v.quarantine = v.faults >= b.after && v.distinct >= b.distinct
	if v.quarantine {
		b.qAt = now
	}
	return v
}

// mark marks k with fe until now+ttl. b.mu is held.
func (b *faultBook) mark(k contentKey, now time.Time, ttl time.Duration, fe *FaultError) {
	delete(b.strikes, k)
	if el, ok := b.marks[k]; ok {
		b.order.Remove(el)
	}
	b.marks[k] = b.order.PushFront(&contentMark{key: k, at: now, until: now.Add(ttl), fault: fe})
	for b.order.Len() > maxMarks {
		old := b.order.Remove(b.order.Back()).(*contentMark)
		delete(b.marks, old.key)
	}
}

// success notes a call about content k (nil: the host's own input), with
// whole input in, that ended well: faults before it no longer count towards
// quarantine, k's environmental strikes are forgotten, and, if remember, in
// is remembered as answered well.
func (b *faultBook) success(k *contentKey, in contentKey, remember bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.recent) > 0 {
		b.recent = b.recent[:0]
	}
	if k != nil && len(b.strikes) > 0 {
		delete(b.strikes, *k)
	}
	if !remember {
		return
	}
	if el, ok := b.good[in]; ok {
		b.goodOrder.MoveToFront(el)
		return
	}
	b.good[in] = b.goodOrder.PushFront(in)
	for b.goodOrder.Len() > maxGood {
		delete(b.good, b.goodOrder.Remove(b.goodOrder.Back()).(contentKey))
	}
}

// inRow is the number of faults that count towards quarantine now.
func (b *faultBook) inRow() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.recent)
}

// quarantineOver reports whether the last quarantine has lasted its time;
// if so the faults behind it no longer count.
func (b *faultBook) quarantineOver() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.now().Sub(b.qAt) < b.qfor {
		return false
	}
	b.recent = b.recent[:0]
	return true
}
