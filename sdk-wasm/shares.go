package ron

import "fmt"

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
