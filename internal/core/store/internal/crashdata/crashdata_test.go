package crashdata

import (
	"bytes"
	"testing"
)

func TestObjectIsAFunctionOfItsSeed(t *testing.T) {
	a, b := Object(7, 1000), Object(7, 1000)
	if !bytes.Equal(a, b) || len(a) != 1000 {
		t.Fatal("the same seed gives other bytes")
	}
	if bytes.Equal(a, Object(8, 1000)) {
		t.Fatal("another seed gives the same bytes")
	}
	if !bytes.Equal(Object(7, 10), a[:10]) {
		t.Fatal("a shorter object is not a prefix")
	}
	if len(Object(1, 0)) != 0 {
		t.Fatal("empty")
	}
}
