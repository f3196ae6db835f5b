package supervise

import (
	"bytes"
	"io"
	"sync"
)

// maxLine is the longest line kept whole; a longer one is cut into lines
// of this size, each prefixed.
const maxLine = 64 << 10

// lineWriter prefixes every line written to it and writes whole lines to w
// under mu (shared by every child writing to the same destination, so
// lines of different processes never mix). Close writes a last unterminated
// line. It is used by one goroutine at a time.
type lineWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.buf = append(l.buf, p...)
			p = nil
		} else {
			l.buf = append(l.buf, p[:i]...)
			p = p[i+1:]
		}
		for len(l.buf) > maxLine {
			l.emit(l.buf[:maxLine])
			l.buf = append(l.buf[:0], l.buf[maxLine:]...)
		}
		if i >= 0 {
			l.emit(l.buf)
			l.buf = l.buf[:0]
		}
	}
	return n, nil
}

// emit writes prefix, line and a newline in one Write. Errors of the
// destination are ignored: a child's output must never stall the child.
func (l *lineWriter) emit(line []byte) {
	out := make([]byte, 0, len(l.prefix)+len(line)+1)
	out = append(append(append(out, l.prefix...), line...), '\n')
	l.mu.Lock()
	_, _ = l.w.Write(out)
	l.mu.Unlock()
}

// Close flushes an unterminated last line.
func (l *lineWriter) Close() error {
	if len(l.buf) > 0 {
		l.emit(l.buf)
		l.buf = l.buf[:0]
	}
	return nil
}
