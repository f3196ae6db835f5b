package gateway

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// Request bodies. net/http sets no read deadline once a request's header is
// in (the node's server has no ReadTimeout: an upload may take long), and
// before it sends a response it reads up to 256 KiB of whatever body the
// handler left unread, and again after the handler: a client that declared
// a body and never sent it would hold the connection, and (when the answer
// is large enough to be written from the handler) its request slot, for
// good. So every request with a body has its connection's read deadline at
// WriteIdle from the last read of the body (or from its start, when nobody
// reads it), and a response that goes out before the body has ended closes
// the connection (recorder.start) instead of reading the rest first.

// bodyReader is a request body whose reads move the connection's read
// deadline to idle from now, until it has ended.
type bodyReader struct {
	r     io.ReadCloser
	rc    *http.ResponseController
	idle  time.Duration
	noDL  bool        // the connection has no deadlines (not a network connection)
	ended atomic.Bool // io.EOF was read
}

func newBodyReader(r io.ReadCloser, rc *http.ResponseController, idle time.Duration) *bodyReader {
	b := &bodyReader{r: r, rc: rc, idle: idle}
	b.arm()
	return b
}

// arm moves the read deadline to idle from now.
func (b *bodyReader) arm() {
	if !b.noDL {
		if err := b.rc.SetReadDeadline(time.Now().Add(b.idle)); errors.Is(err, http.ErrNotSupported) {
			b.noDL = true
		}
	}
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.ended.Load() {
		// Past the end net/http reads the connection for the next request
		// (or to notice the client leaving) with no deadline: keep off it.
		return b.r.Read(p)
	}
	b.arm()
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.ended.Store(true)
	}
	return n, err
}

func (b *bodyReader) Close() error { return b.r.Close() }
