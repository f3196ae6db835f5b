package token

import (
	"testing"
	"time"

	"pgregory.net/rapid"
)

var (
	propPaths   = []string{"/", "/v1", "/v1/publish", "/v1/publish/x", "/v1/publishx", "/v1/names", "/v1/publish/../names", "/o/abc", ""}
	propMethods = []string{"GET", "POST", "HEAD", "PUT", "get"}
	propBytes   = []int64{-1, 0, 1, 100, 1000, 1 << 20}
	propTimes   = []time.Time{t0.Add(-time.Hour), t0.Add(-time.Second), t0, t0.Add(time.Second), t0.Add(time.Hour)}
)

func drawCaveat(t *rapid.T, label string) Caveat {
	switch rapid.IntRange(0, 4).Draw(t, label+"kind") {
	case 0:
		return Expires(rapid.SampledFrom(propTimes).Draw(t, label+"expires"))
	case 1:
		return Methods(rapid.SliceOfN(rapid.SampledFrom(propMethods), 0, 3).Draw(t, label+"methods")...)
	case 2:
		return PathPrefix(rapid.SampledFrom(propPaths).Draw(t, label+"path"))
	case 3:
		return MaxBytes(rapid.SampledFrom(propBytes).Draw(t, label+"max"))
	default:
		return Caveat{kind: Kind(rapid.IntRange(5, 255).Draw(t, label+"unknown")), body: "?"}
	}
}

func drawRequest(t *rapid.T) Request {
	return Request{
		Method: rapid.SampledFrom(propMethods).Draw(t, "method"),
		Path:   rapid.SampledFrom(propPaths).Draw(t, "reqpath"),
		Bytes:  rapid.SampledFrom(propBytes).Draw(t, "bytes"),
		Now:    rapid.SampledFrom(propTimes).Draw(t, "now"),
	}
}

// TestAttenuationOnlyNarrows: along a random chain of attenuations, every
// request a descendant allows, each of its ancestors allows; each token
// round-trips through its text form with the same verdict.
func TestAttenuationOnlyNarrows(t *testing.T) {
	var allowedDeep, deniedDeep int
	rapid.Check(t, func(t *rapid.T) {
		var cs []Caveat
		for i := range rapid.IntRange(0, 2).Draw(t, "minted") {
			cs = append(cs, drawCaveat(t, "m"+string(rune('0'+i))))
		}
		chain := []Token{mint(t, cs...)}
		for i := range rapid.IntRange(1, 4).Draw(t, "steps") {
			var add []Caveat
			for j := range rapid.IntRange(0, 2).Draw(t, "n") {
				add = append(add, drawCaveat(t, "a"+string(rune('0'+i))+string(rune('0'+j))))
			}
			chain = append(chain, chain[len(chain)-1].Attenuate(add...))
		}
		r := drawRequest(t)
		verdicts := make([]error, len(chain))
		for i, tok := range chain {
			verdicts[i] = testKey.Verify(tok, r)
			p, err := Parse(tok.String())
			if err != nil {
				t.Fatalf("token %d does not parse: %v", i, err)
			}
			if again := testKey.Verify(p, r); (again == nil) != (verdicts[i] == nil) {
				t.Fatalf("token %d: %v before the text form, %v after", i, verdicts[i], again)
			}
		}
		for i := len(chain) - 1; i > 0; i-- {
			if verdicts[i] == nil && verdicts[i-1] != nil {
				t.Fatalf("token %d allows %+v but its parent does not: %v", i, r, verdicts[i-1])
			}
		}
		if verdicts[len(verdicts)-1] == nil {
			allowedDeep++
		} else {
			deniedDeep++
		}
		// MaxBytes of a descendant is never above its parent's.
		for i := 1; i < len(chain); i++ {
			pn, pok := chain[i-1].MaxBytes()
			cn, cok := chain[i].MaxBytes()
			if pok && (!cok || cn > pn) {
				t.Fatalf("token %d: MaxBytes %d,%v above its parent's %d", i, cn, cok, pn)
			}
		}
	})
	// The property is not vacuous: the deepest token was both allowed and denied.
	if allowedDeep == 0 || deniedDeep == 0 {
		t.Fatalf("deepest token allowed %d times, denied %d times", allowedDeep, deniedDeep)
	}
}
