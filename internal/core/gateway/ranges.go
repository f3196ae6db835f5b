package gateway

import (
	"math"
	"slices"
	"strings"

	"github.com/ronhost/ronhost/internal/codes"
)

// byteRange is a satisfiable byte range: length bytes from start.
type byteRange struct{ start, length int64 }

func (r byteRange) end() int64 { return r.start + r.length } // exclusive

// Why a Range header gets 416 rather than its ranges.
var (
	errRangeSyntax        = codes.New(codes.Range, "gateway: malformed Range header")
	errRangeUnsatisfiable = codes.New(codes.Range, "gateway: no requested range overlaps the content")
	errRangeTooMany       = codes.New(codes.Range, "gateway: too many ranges")
)

// coalesceGap is the gap under which two requested ranges are served as one
// part: a part's own headers cost about this much (RFC 9110 §14.2 lets a
// server coalesce ranges that overlap or are separated by a small gap).
const coalesceGap = 80

// parseRange parses a Range header value against content of size bytes
// (RFC 9110 §14.1.2). It returns:
//   - nil, nil when the header is to be ignored (another unit than bytes, or
//     empty content, whose only representation is the whole);
//   - the satisfiable ranges, in the order asked (a multipart response
//     then sends them in ascending order), with unsatisfiable ones
//     dropped; if any overlap or lie within coalesceGap of each other, all are
//     sorted and merged instead (so no byte is sent twice);
//   - errRangeSyntax, errRangeTooMany (more than max range-specs, a
//     denial-of-service pattern §14.2 lets a server reject) or
//     errRangeUnsatisfiable, all served as 416.
func parseRange(h string, size int64, max int) ([]byteRange, error) {
	unit, set, ok := strings.Cut(h, "=")
	if !ok {
		return nil, errRangeSyntax
	}
	if !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return nil, nil // a unit we do not know: ignore (§14.2)
	}
	if size == 0 {
		return nil, nil
	}
	var out []byteRange
	specs := 0
	for spec := range strings.SplitSeq(set, ",") {
		spec = strings.Trim(spec, " \t")
		if spec == "" {
			continue // empty list elements are allowed (§5.6.1)
		}
		if specs++; specs > max {
			return nil, errRangeTooMany
		}
		first, last, ok := strings.Cut(spec, "-")
		if !ok {
			return nil, errRangeSyntax
		}
		if first == "" { // suffix-range: the last n bytes
			n, ok := parseDigits(last)
			if !ok {
				return nil, errRangeSyntax
			}
			if n == 0 {
				continue // unsatisfiable
			}
			n = min(n, size)
			out = append(out, byteRange{size - n, n})
			continue
		}
		a, ok := parseDigits(first)
		if !ok {
			return nil, errRangeSyntax
		}
		b := int64(math.MaxInt64)
		if last != "" {
			if b, ok = parseDigits(last); !ok || b < a {
				return nil, errRangeSyntax
			}
		}
		if a >= size {
			continue // unsatisfiable
		}
		b = min(b, size-1)
		out = append(out, byteRange{a, b - a + 1})
	}
	if specs == 0 {
		return nil, errRangeSyntax
	}
	if len(out) == 0 {
		return nil, errRangeUnsatisfiable
	}
	return coalesce(out), nil
}

// parseDigits parses 1*DIGIT, saturating at MaxInt64 (a position past any
// content is still well-formed).
func parseDigits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (math.MaxInt64-int64(c-'0'))/10 {
			n = math.MaxInt64
		} else {
			n = n*10 + int64(c-'0')
		}
	}
	return n, true
}

// coalesce keeps rs in the requested order when no two overlap or nearly
// touch; otherwise it sorts and merges them.
func coalesce(rs []byteRange) []byteRange {
	if len(rs) < 2 {
		return rs
	}
	sorted := slices.Clone(rs)
	slices.SortFunc(sorted, func(x, y byteRange) int {
		switch {
		case x.start < y.start:
			return -1
		case x.start > y.start:
			return 1
		}
		return 0
	})
	near := false
	for i := 1; i < len(sorted); i++ {
		if sorted[i].start < sorted[i-1].end()+coalesceGap {
			near = true
			break
		}
	}
	if !near {
		return rs
	}
	out := sorted[:1]
	for _, r := range sorted[1:] {
		p := &out[len(out)-1]
		if r.start < p.end()+coalesceGap {
			p.length = max(p.end(), r.end()) - p.start
			continue
		}
		out = append(out, r)
	}
	return out
}
