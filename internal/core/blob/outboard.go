package blob

import "github.com/ronhost/ronhost/internal/core/store"

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
