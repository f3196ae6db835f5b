package plugins

import (
	"container/list"
	"sync"

	"lukechampine.com/blake3"
)

// memoKey is the BLAKE3 of (plugin hash, the content key of the entry point
// and input): the input is hashed once per call, for the fault book, and
// the memo reuses that hash.
type memoKey [32]byte

func newMemoKey(hash string, in contentKey) memoKey {
	b := make([]byte, 0, len(hash)+1+len(in))
	b = append(append(append(b, hash...), 0), in[:]...)
	return memoKey(blake3.Sum256(b))
}

// memo is a bounded LRU of call results. Plugins are pure functions of their
// input (ABI v1), so a result may be reused for the same plugin, entry and input.
type memo struct {
	mu       sync.Mutex
	maxItems int
	maxBytes int
	bytes    int
	order    *list.List // front: most recently used
	items    map[memoKey]*list.Element
}

type memoItem struct {
	key memoKey
	res Result
}

func newMemo(maxItems, maxBytes int) *memo {
	return &memo{maxItems: maxItems, maxBytes: maxBytes, order: list.New(), items: map[memoKey]*list.Element{}}
}

func (m *memo) get(k memoKey) (Result, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.items[k]
	if !ok {
		return Result{}, false
	}
	m.order.MoveToFront(el)
	r := el.Value.(*memoItem).res
	r.Memoized = true
	return r, true
}

func (m *memo) put(k memoKey, r Result) {
	size := len(r.Output) + 64
	if size > m.maxBytes/16 {
		return // one huge answer must not flush the memo
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[k]; ok {
		m.order.MoveToFront(el)
		return
	}
	m.items[k] = m.order.PushFront(&memoItem{key: k, res: r})
	m.bytes += size
	for m.order.Len() > m.maxItems || m.bytes > m.maxBytes {
		el := m.order.Back()
		it := el.Value.(*memoItem)
		m.order.Remove(el)
		delete(m.items, it.key)
		m.bytes -= len(it.res.Output) + 64
	}
}

func (m *memo) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}
