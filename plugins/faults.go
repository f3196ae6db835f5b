package plugins

import (
	"container/list"
	"fmt"
	"sync"
	"time"

	"lukechampine.com/blake3"
)

// contentKey names what a call was about: the BLAKE3 of the entry point and
// the manifest (or, for a raw call, the whole input). Faults are attributed
// to it.
type contentKey [32]byte

func newContentKey(e Entry, content []byte) contentKey {
	h := blake3.New(32, nil)
	h.Write([]byte(e))
	h.Write([]byte{0})
	h.Write(content)
	var k contentKey
	h.Sum(k[:0])
	return k
}

// maxMarks bounds the content marks a plugin keeps (oldest evicted first).
const maxMarks = 4096

// A timeout depends on the machine's load as well as on the content, so
// the first timeout on some content does not mark it (the next call runs);
// a second in a row does, for at most timeoutMarkTTL.
const (
	timeoutStrikes = 2
	timeoutMarkTTL = time.Minute
)

// faultBook keeps a plugin's fault accounting. A fault on some content marks
// that content: later calls about it fail at once with the same fault,
// without running the plugin, until the mark expires (plugins are pure, so
// the call would fault again). Quarantine is for a plugin that faults across
// many inputs: Config.QuarantineAfter faults over at least
// Config.QuarantineDistinct distinct contents, with no successful call
// between them and all within Config.QuarantineWindow; it lasts
// Config.QuarantineFor.
type faultBook struct {
	after, distinct   int
	window, ttl, qfor time.Duration
	now               func() time.Time

	mu      sync.Mutex
	marks   map[contentKey]*list.Element
	order   *list.List         // of *contentMark, front newest
	strikes map[contentKey]int // timeouts in a row, per content not yet marked
	recent  []faultSeen        // faults since the last success, oldest first
	other   uint64             // numbers faults not caused by content (instantiation)
	qAt     time.Time          // when the plugin was last quarantined
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

// fault records a fault on content k (nil: not caused by content) and
// reports whether it marked k, whether the plugin must now be quarantined,
// and the number of faults and distinct contents behind that verdict.
func (b *faultBook) fault(k *contentKey, fe *FaultError) (marked, quarantine bool, faults, distinct int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	var key contentKey
	if k != nil {
		key = *k
		ttl := b.ttl
		mark := true
		if fe.Kind == FaultTimeout {
			ttl = min(ttl, timeoutMarkTTL)
			if len(b.strikes) >= maxMarks {
				clear(b.strikes)
			}
			b.strikes[key]++
			mark = b.strikes[key] >= timeoutStrikes
		}
		marked = mark
		fe.Content = mark // before the mark shares fe: it is not written again
		if mark {
			delete(b.strikes, key)
			if el, ok := b.marks[key]; ok {
				b.order.Remove(el)
			}
			b.marks[key] = b.order.PushFront(&contentMark{key: key, at: now, until: now.Add(ttl), fault: fe})
			for b.order.Len() > maxMarks {
				old := b.order.Remove(b.order.Back()).(*contentMark)
				delete(b.marks, old.key)
			}
		}
	} else {
		// A fault no content caused counts as its own distinct input.
		b.other++
		key = newContentKey("", fmt.Appendf(nil, "instantiate %d", b.other))
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
	faults, distinct = len(b.recent), len(seen)
	quarantine = faults >= b.after && distinct >= b.distinct
	if quarantine {
		b.qAt = now
	}
	return marked, quarantine, faults, distinct
}

// success notes a call about k that ended well: faults before it no longer
// count towards quarantine, and k's timeouts are forgotten.
func (b *faultBook) success(k contentKey) {
	b.mu.Lock()
	if len(b.recent) > 0 {
		b.recent = b.recent[:0]
	}
	if len(b.strikes) > 0 {
		delete(b.strikes, k)
	}
	b.mu.Unlock()
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
