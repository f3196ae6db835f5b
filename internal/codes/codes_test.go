package codes

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"testing"
)

var all = []Code{Invalid, Unauthorized, Forbidden, NotFound, Conflict, TooLarge, Range, Rejected,
	ContentFault, Overloaded, Internal, PluginFault, Unavailable, Timeout, Quota, DiskFull}

// TestStatuses: every code has its own status (500 is internal's only),
// FromStatus names a code of that status, and a code that is not one is
// unknown and 500.
func TestStatuses(t *testing.T) {
	if len(all) != len(statuses) {
		t.Fatalf("%d codes, %d in the table", len(all), len(statuses))
	}
	for _, c := range all {
		s := c.Status()
		if !c.Known() || s < 400 || (s == 500) != (c == Internal) {
			t.Errorf("%s: status %d, known %v", c, s, c.Known())
		}
		if got := FromStatus(s); got.Status() != s {
			t.Errorf("FromStatus(%d) = %s, whose status is %d", s, got, got.Status())
		}
	}
	if c := Code("no_such_code"); c.Known() || c.Status() != 500 {
		t.Fatalf("an unknown code is known or not 500")
	}
	for status, want := range map[int]Code{405: Invalid, 408: Timeout, 412: Conflict, 414: TooLarge, 415: Invalid,
		421: NotFound, 431: TooLarge, 418: Invalid, 599: Internal, 0: Internal, 200: Internal, 422: Rejected, 507: Quota} {
		if got := FromStatus(status); got != want {
			t.Errorf("FromStatus(%d) = %s, want %s", status, got, want)
		}
	}
	for _, c := range all {
		if want := c == Overloaded || c == Unavailable || c == Timeout; c.Retryable() != want {
			t.Errorf("%s: retryable %v", c, c.Retryable())
		}
	}
}

type coded struct{ c Code }

func (e coded) Error() string   { return "coded" }
func (e coded) ErrorCode() Code { return e.c }

// TestOf: an error's code is its first Coder's, however wrapped, whatever
// its text; a context's errors are timeout and unavailable; anything else,
// even an error whose text is a sentinel's, is internal.
func TestOf(t *testing.T) {
	notFound := New(NotFound, "x: not found")
	if notFound.Error() != "x: not found" || errors.Is(New(NotFound, "x: not found"), notFound) {
		t.Fatal("New is not errors.New with a code")
	}
	for _, c := range []struct {
		err  error
		want Code
	}{
		{notFound, NotFound},
		{fmt.Errorf("reading: %w", notFound), NotFound},
		{fmt.Errorf("a: %w", fmt.Errorf("b: %w", New(DiskFull, "disk full"))), DiskFull},
		{errors.Join(errors.New("plain"), coded{Conflict}), Conflict},
		{fmt.Errorf("%w: then %w", coded{Range}, context.DeadlineExceeded), Range},
		{context.DeadlineExceeded, Timeout},
		{fmt.Errorf("call: %w", context.Canceled), Unavailable},
		{errors.New("x: not found"), Internal}, // the text of a sentinel is not the sentinel
		{nil, Internal},
	} {
		if got := Of(c.err); got != c.want {
			t.Errorf("Of(%v) = %s, want %s", c.err, got, c.want)
		}
	}
	if Of(notFound).Status() != http.StatusNotFound {
		t.Fatal("a not_found sentinel is not 404")
	}
}

// TestBusDoc: docs/BUS.md's table of codes has every code, with its status
// and retryability.
func TestBusDoc(t *testing.T) {
	b, err := os.ReadFile("../../docs/BUS.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| [^|]+ \\| ([0-9]{3}) \\| (yes|no) \\|$")
	seen := map[Code]bool{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		c := Code(m[1])
		if !c.Known() {
			t.Errorf("BUS.md: %s is not a code", c)
			continue
		}
		seen[c] = true
		if st, _ := strconv.Atoi(m[2]); st != c.Status() || (m[3] == "yes") != c.Retryable() {
			t.Errorf("BUS.md: %s is %s, retryable %s; the code is %d, retryable %v", c, m[2], m[3], c.Status(), c.Retryable())
		}
	}
	for _, c := range all {
		if !seen[c] {
			t.Errorf("BUS.md: no row for %s", c)
		}
	}
}
