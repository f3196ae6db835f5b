package registry

import (
	"bytes"
	"testing"
	"time"
)

// seeds returns a real entry object and head, and a proposal file.
func seeds(t testing.TB) (obj, head, proposal []byte) {
	p, err := Genesis("fuzz", []string{pub(key(1)), pub(key(2))}, 2, t0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p.Sign(key(1))
	p.Sign(key(2))
	obj, head = p.Finish()
	return obj, head, p.Encode()
}

// FuzzParseObject: whatever the bytes, ParseObject returns an error or an
// object whose canonical encoding is exactly the input (so a CID names one
// object), and which builds a log or is refused without a panic.
func FuzzParseObject(f *testing.F) {
	obj, head, _ := seeds(f)
	f.Add(obj)
	f.Add(head)
	f.Add([]byte(`{"entry":{},"signatures":[]}`))
	f.Add(bytes.Replace(obj, []byte(`"genesis"`), []byte(`"bind"`), 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseObject(b)
		if err != nil {
			return
		}
		if !bytes.Equal(o.Encode(), b) {
			t.Fatalf("parsed but not canonical: %q", b)
		}
		if o.Entry.Seq == 0 {
			_, _ = NewLog(o)
		}
	})
}

// FuzzParseHead: the same for signed heads; a parsed head is checked by a
// log without a panic.
func FuzzParseHead(f *testing.F) {
	obj, head, _ := seeds(f)
	f.Add(head)
	f.Add(obj)
	f.Add([]byte(`{"head":{},"object":"","signatures":[]}`))
	g, _ := ParseObject(obj)
	l, err := NewLog(g)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sh, err := ParseHead(b)
		if err != nil {
			return
		}
		if !bytes.Equal(sh.Encode(), b) {
			t.Fatalf("parsed but not canonical: %q", b)
		}
		_, _ = l.Extend(sh, b, nil, t0)
	})
}

// FuzzParseProposal: a proposal file never panics the parser or Finish.
func FuzzParseProposal(f *testing.F) {
	_, _, prop := seeds(f)
	f.Add(prop)
	f.Add([]byte(`{"head":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProposal(b)
		if err != nil {
			return
		}
		p.Finish()
	})
}
