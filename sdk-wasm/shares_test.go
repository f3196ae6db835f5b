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

func TestCheckSplitParts(t *testing.T) {
	u := func(v uint64) *uint64 { return &v }
	parts := func(creators, operators, moderation *uint64) []SplitPart {
		return []SplitPart{
			{Name: "creators", Path: "x.split.creators_bps", Declared: creators},
			{Name: "operators", Path: "x.split.operators_bps", Declared: operators, Default: 2000},
			{Name: "moderation", Path: "x.split.moderation_bps", Declared: moderation, Default: 500},
		}
	}
	for _, c := range []struct {
		parts []SplitPart
		want  []uint64
		errs  []string // path:code message
	}{
		{parts(nil, nil, nil), []uint64{7500, 2000, 500}, nil},
		{parts(nil, u(0), u(0)), []uint64{10000, 0, 0}, nil},
		{parts(u(8000), nil, u(0)), []uint64{8000, 2000, 0}, nil},
		{parts(nil, u(9600), nil), []uint64{0, 9600, 500}, []string{"x.split:sum operators and moderation take 10100 basis points, more than 10000"}},
		{parts(u(8000), nil, nil), []uint64{8000, 2000, 500}, []string{"x.split:sum creators, operators and moderation total 10500 basis points, not 10000"}},
		{parts(u(7000), u(2000), u(500)), []uint64{7000, 2000, 500}, []string{"x.split:sum creators, operators and moderation total 9500 basis points, not 10000"}},
		// Out of range: reported where it is, and no sum on top.
		{parts(u(10001), nil, u(20000)), []uint64{10001, 2000, 20000}, []string{
			"x.split.creators_bps:range 10001 basis points, at most 10000", "x.split.moderation_bps:range 20000 basis points, at most 10000"}},
		{parts(nil, u(1<<63), nil), []uint64{0, 1 << 63, 500}, []string{"x.split.operators_bps:range 9223372036854775808 basis points, at most 10000"}},
		{nil, []uint64{}, nil},
		{[]SplitPart{{Name: "all", Path: "x.all"}}, []uint64{10000}, nil},
	} {
		var errs Errors
		got := CheckSplitParts("x.split", c.parts, &errs)
		var msgs []string
		if r, ok := AsRejection(errs.Err()); ok {
			for _, e := range r.Errors {
				msgs = append(msgs, e.Path+":"+e.Code+" "+e.Message)
			}
		}
		if !slices.Equal(got, c.want) || !slices.Equal(msgs, c.errs) {
			t.Errorf("got %v %q\nwant %v %q", got, msgs, c.want, c.errs)
		}
	}
}

func TestPartNames(t *testing.T) {
	for n, want := range []string{"", "a", "a and b", "a, b and c", "a, b, c and d"} {
		var ps []SplitPart
		for _, name := range []string{"a", "b", "c", "d"}[:n] {
			ps = append(ps, SplitPart{Name: name})
		}
		if got := partNames(ps); got != want {
			t.Errorf("%d: %q, want %q", n, got, want)
		}
	}
}
