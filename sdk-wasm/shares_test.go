package ron

import (
	"slices"
	"strings"
	"testing"
)

func bpsPtrs(vs ...int64) []*uint64 {
	out := make([]*uint64, len(vs))
	for i, v := range vs {
		if v >= 0 {
			u := uint64(v)
			out[i] = &u
		}
	}
	return out
}

func TestCheckShares(t *testing.T) {
	const none = -1
	for _, c := range []struct {
		declared []*uint64
		want     []uint64
		errs     []string // path:code
	}{
		{bpsPtrs(none), []uint64{10000}, nil},
		{bpsPtrs(10000), []uint64{10000}, nil},
		{bpsPtrs(7000, 3000), []uint64{7000, 3000}, nil},
		{bpsPtrs(1, 9998, 1), []uint64{1, 9998, 1}, nil},
		{nil, []uint64{}, nil},
		{bpsPtrs(9000), []uint64{9000}, []string{"x.c:sum"}},
		{bpsPtrs(7000, 2000), []uint64{7000, 2000}, []string{"x.c:sum"}},
		{bpsPtrs(7000, none), []uint64{7000, 0}, []string{"x.c[1].share:required"}},
		{bpsPtrs(none, none), []uint64{0, 0}, []string{"x.c[0].share:required", "x.c[1].share:required"}},
		{bpsPtrs(0, 10000), []uint64{0, 10000}, []string{"x.c[0].share:range"}},
		{bpsPtrs(0), []uint64{0}, []string{"x.c[0].share:range"}},
		{bpsPtrs(10001, 1), []uint64{10001, 1}, []string{"x.c[0].share:range"}},                 // no sum error on top
		{bpsPtrs(5000, 6000, none), []uint64{5000, 6000, 0}, []string{"x.c[2].share:required"}}, // likewise
	} {
		var errs Errors
		got := CheckShares("x.c", "creators", c.declared, &errs)
		var paths []string
		if r, ok := AsRejection(errs.Err()); ok {
			for _, e := range r.Errors {
				paths = append(paths, e.Path+":"+e.Code)
			}
		}
		if !slices.Equal(got, c.want) || !slices.Equal(paths, c.errs) {
			t.Errorf("%v: got %v %v, want %v %v", c.declared, got, paths, c.want, c.errs)
		}
	}
}

func TestCheckSharesMessages(t *testing.T) {
	var errs Errors
	CheckShares("map.creators", "creators", bpsPtrs(6000, 3000), &errs)
	CheckShares("ai.creators", "creators", bpsPtrs(6000, -1), &errs)
	r, _ := AsRejection(errs.Err())
	msgs := []string{r.Errors[0].Message, r.Errors[1].Message}
	want := []string{"with several creators each needs a share in basis points", "the creators' shares total 9000 basis points, not 10000"}
	if !slices.Equal(msgs, want) {
		t.Fatalf("%q", msgs)
	}
	for _, e := range r.Errors {
		if strings.Contains(e.Message, "%!") {
			t.Fatal(e.Message)
		}
	}
}
