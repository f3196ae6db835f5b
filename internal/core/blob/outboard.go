package blob

import (
	"encoding/binary"
	"math/bits"

	"lukechampine.com/blake3/guts"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// outboardLen is the length of the full outboard of an object of size bytes:
// the 8-byte length header and 64 bytes per parent node (none for an object
// of one group or less).
func outboardLen(size int64) int64 {
	groups := (size + store.GroupSize - 1) / store.GroupSize
	if groups <= 1 {
		return 8
	}
	return 8 + 64*(groups-1)
}

// nodeCheck verifies an outboard's parent nodes as they arrive, in the
// outboard's pre-order, against the CID, so that a peer sending a bogus
// outboard is caught at its first bad node rather than after up to
// MaxOutboard bytes held in memory. (store.VerifyOutboard checks the same
// of the whole outboard.)
type nodeCheck struct {
	stack []subtree // the parent subtrees still to come, the next on top
}

type subtree struct {
	cv    [8]uint32 // its chaining value, from its parent (or the CID)
	n     uint64    // its bytes
	flags uint32
}

func newNodeCheck(c cid.CID, size int64) *nodeCheck {
	k := &nodeCheck{}
	if size > store.GroupSize {
		k.stack = append(k.stack, subtree{cvOf(c[:]), uint64(size), guts.FlagRoot})
	}
	return k
}

// next checks the next 64-byte parent node; false if it does not hash to
// what its parent (or the CID) says, or if no node was due.
func (k *nodeCheck) next(node []byte) bool {
	if len(k.stack) == 0 {
		return false
	}
	t := k.stack[len(k.stack)-1]
	k.stack = k.stack[:len(k.stack)-1]
	l, r := cvOf(node[:32]), cvOf(node[32:64])
	if guts.ChainingValue(guts.ParentNode(l, r, &guts.IV, t.flags)) != t.cv {
		return false
	}
	mid := uint64(1) << (bits.Len64(t.n-1) - 1) // the left subtree: the largest power of two below n
	if t.n-mid > store.GroupSize {
		k.stack = append(k.stack, subtree{r, t.n - mid, 0})
	}
	if mid > store.GroupSize {
		k.stack = append(k.stack, subtree{l, mid, 0})
	}
	return true
}

func cvOf(b []byte) (cv [8]uint32) {
	for i := range cv {
		cv[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return cv
}
