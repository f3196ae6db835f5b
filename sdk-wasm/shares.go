package ron

import (
	"fmt"
	"strings"
)

// CheckShares checks the basis-point shares a manifest declares for a list
// of payees and returns them: declared[i] is payee i's share, nil where the
// manifest gives none. One payee without a share gets all 10000; with
// several, each needs one. Problems are recorded in errs, at path (the
// list, e.g. "map.creators") and at path[i].share, and name the payees by
// who, a plural noun ("creators"):
//
//   - path[i].share, [CodeRequired]: several payees and i has no share;
//   - path[i].share, [CodeRange]: a share of 0 or over 10000;
//   - path, [CodeSum]: every share is given and in range, but they do not
//     total exactly 10000.
//
// The result has the shares as declared (0 for a missing one), so it can
// go to [SplitBPS] once errs is empty. An empty list is not checked:
// whether payees are required is the caller's rule.
func CheckShares(path, who string, declared []*uint64, errs *Errors) []uint64 {
	out := make([]uint64, len(declared))
	if len(declared) == 0 {
		return out
	}
	var total uint64
	ok := true
	for i, s := range declared {
		sharePath := fmt.Sprintf("%s[%d].share", path, i)
		switch {
		case s != nil:
			out[i] = *s
			if out[i] == 0 || out[i] > TotalBPS {
				errs.Addf(sharePath, CodeRange, "share %d is not 1..10000 basis points", out[i])
				ok = false
			}
		case len(declared) == 1:
			out[i] = TotalBPS
		default:
			errs.Addf(sharePath, CodeRequired, "with several %s each needs a share in basis points", who)
			ok = false
		}
		total += out[i] // each at most 10000 when ok: no overflow
	}
	if ok && total != TotalBPS {
		errs.Addf(path, CodeSum, "the %s' shares total %d basis points, not 10000", who, total)
	}
	return out
}

// SplitPart is one part of a split that a manifest may declare in basis
// points, e.g. [map.split] operators_bps.
type SplitPart struct {
	Name     string  // what the part pays, for messages: "operators"
	Path     string  // where it is declared: "map.split.operators_bps"
	Declared *uint64 // nil when the manifest leaves it out
	Default  uint64  // the part's basis points when left out
}

// CheckSplitParts checks the parts of a split table and returns their basis
// points, in order, ready for [PartitionBPS]. The first part takes the
// rest: left out, it gets 10000 minus the others. Problems are recorded in
// errs:
//
//   - a declared part over 10000: [CodeRange] at its Path;
//   - when every part is in range, the others taking more than 10000 while
//     the first is left out, or the parts not totalling exactly 10000:
//     [CodeSum] at path, naming the parts ("operators, moderation and
//     royalty take 10200 basis points, more than 10000").
//
// Rules about single parts (a minimum, a part that needs payees) are the
// caller's, on the result.
func CheckSplitParts(path string, parts []SplitPart, errs *Errors) []uint64 {
	out := make([]uint64, len(parts))
	ok := true
	for i, p := range parts {
		out[i] = p.Default
		if p.Declared == nil {
			continue
		}
		out[i] = *p.Declared
		if out[i] > TotalBPS {
			errs.Addf(p.Path, CodeRange, "%d basis points, at most 10000", out[i])
			ok = false
		}
	}
	if !ok || len(parts) == 0 {
		return out
	}
	var others uint64 // each part at most 10000: no overflow
	for _, b := range out[1:] {
		others += b
	}
	if parts[0].Declared == nil {
		if others > TotalBPS {
			errs.Addf(path, CodeSum, "%s take %d basis points, more than 10000", partNames(parts[1:]), others)
			return out
		}
		out[0] = TotalBPS - others
	} else if total := others + out[0]; total != TotalBPS {
		errs.Addf(path, CodeSum, "%s total %d basis points, not 10000", partNames(parts), total)
	}
	return out
}

// partNames lists the parts' names: "a", "a and b", "a, b and c".
func partNames(parts []SplitPart) string {
	var b strings.Builder
	for i, p := range parts {
		switch {
		case i == 0:
		case i == len(parts)-1:
			b.WriteString(" and ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(p.Name)
	}
	return b.String()
}
