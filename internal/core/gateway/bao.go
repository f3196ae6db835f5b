package gateway

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// serveBao answers GET|HEAD /o/{cid} for application/vnd.ronhost.bao: the
// object's verifiable stream (store.WriteSlice, docs/PROTOCOL.md), of the
// whole object or of the bytes ?entity-bytes=FROM:TO names (inclusive; TO
// may be *). A Range header is ignored (Accept-Ranges: none): the range
// that matters is of the object's bytes, and it changes the proof.
func (g *Gateway) serveBao(ctx context.Context, w http.ResponseWriter, r *http.Request, c cid.CID) {
	size, ob, err := g.objs.Outboard(ctx, c)
	if err != nil {
		g.fail(w, r, ctxErr(ctx, err))
		return
	}
	off, length := int64(0), size
	etag := `"` + c.String() + `.bao"`
	if eb := r.URL.Query().Get("entity-bytes"); eb != "" {
		if off, length, err = entityBytes(eb, size); err != nil {
			WriteError(w, err)
			return
		}
		etag = fmt.Sprintf(`"%s.bao+%d-%d"`, c, off, length)
	}
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", cacheImmutable)
	h.Set("Accept-Ranges", "none")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag, true) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", MediaTypeBao)
	h.Set("Content-Length", strconv.FormatInt(store.SliceLen(size, off, length), 10))
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	gs, ge := store.SliceGroups(size, off, length)
	g.stream(w, r, content{obj: c}, http.StatusOK, func(s *streamer) error {
		groups, err := g.objs.ReadRange(s.ctx, c, gs, ge-gs)
		if err != nil {
			return err
		}
		defer groups.Close()
		return store.WriteSlice(s, ob, &countReader{r: groups, n: &s.sent}, off, length)
	})
}

// entityBytes parses FROM:TO (inclusive, TO may be *) against size bytes.
func entityBytes(s string, size int64) (off, length int64, err error) {
	a, b, ok := strings.Cut(s, ":")
	from, okA := parseDigits(a)
	to, okB := int64(math.MaxInt64), b == "*"
	if !okB {
		to, okB = parseDigits(b)
	}
	if !ok || !okA || !okB || to < from {
		return 0, 0, bus.Errorf(codes.Invalid, "entity-bytes %q: want FROM:TO (inclusive byte offsets, TO may be *)", s)
	}
	if from >= size && size > 0 || from > size {
		return 0, 0, &bus.Error{Code: codes.Range, Message: fmt.Sprintf("entity-bytes %q: the object has %d bytes", s, size)}
	}
	to = min(to, size-1)
	return from, max(to-from+1, 0), nil
}

// countReader counts the object bytes a slice carries (for the sent-bytes
// metric).
type countReader struct {
	r interface{ Read([]byte) (int, error) }
	n *int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}
