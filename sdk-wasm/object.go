package ron

import (
	"errors"
	"io"
)

// ErrObjectRead reports that the host could not read the payload.
var ErrObjectRead = errors.New("ron: object_read failed")

// ErrNoObject reports a read from an object that is not available (outside
// ron_resolve, or when a test gave no payload).
var ErrNoObject = errors.New("ron: no object to read")

// Object is the payload being resolved, readable only during Resolve. In a
// wasm build its ReadAt is the host's object_read import; in native tests it
// reads whatever io.ReaderAt the test gave rontest.
type Object interface {
	io.ReaderAt
	// Size is the payload's size in bytes (ResolveInput.PayloadSize).
	Size() int64
}

// object bounds an io.ReaderAt by the payload size.
type object struct {
	r    io.ReaderAt
	size int64
}

func (o *object) Size() int64 { return o.size }

// ReadAt follows io.ReaderAt: it reads len(p) bytes unless the payload ends
// first, in which case it returns the bytes read and io.EOF.
func (o *object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("ron: negative offset")
	}
	if o.r == nil {
		return 0, ErrNoObject
	}
	if off >= o.size {
		return 0, io.EOF
	}
	short := false
	if rest := o.size - off; int64(len(p)) > rest {
		p = p[:rest]
		short = true
	}
	n, err := o.r.ReadAt(p, off)
	if err == nil && short {
		err = io.EOF
	}
	if err == io.EOF && n == len(p) && !short {
		err = nil
	}
	return n, err
}
