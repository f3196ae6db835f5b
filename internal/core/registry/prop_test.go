package registry

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// The property: Build accepts a chain exactly when every entry carries at
// least the threshold of valid signatures by distinct keys of the
// maintainer set in force at its position (the genesis's own set for the
// genesis; after a rotate at r, the rotate's set from r+1 on). The model
// below computes that independently of the package's bookkeeping.

var pool = func() []ed25519.PrivateKey {
	var ks []ed25519.PrivateKey
	for i := range 6 {
		ks = append(ks, key(byte(100+i)))
	}
	return ks
}()

// genSet draws a maintainer set from the pool and a threshold for it.
func genSet(t *rapid.T, label string) ([]int, int) {
	idx := rapid.SliceOfNDistinct(rapid.IntRange(0, len(pool)-1), 1, 4, rapid.ID[int]).Draw(t, label)
	return idx, rapid.IntRange(1, len(idx)).Draw(t, label+" threshold")
}

func keysOf(idx []int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, pub(pool[i]))
	}
	slices.Sort(out)
	return out
}

func TestPropertyThresholdOfTheSetInForce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		members, threshold := genSet(t, "genesis set")
		n := rapid.IntRange(0, 7).Draw(t, "entries")
		var objs []*Object
		want := true
		inForce, need := members, threshold
		var nextSet []int
		nextNeed := 0
		for i := 0; i <= n; i++ {
			e := Entry{V: 1, Seq: uint64(i), Time: "2026-12-01T12:00:00Z"}
			var rotateTo []int
			rotateNeed := 0
			switch op := rapid.IntRange(0, 2).Draw(t, "op"); {
			case i == 0:
				e.Op, e.Name, e.Maintainers, e.Threshold = OpGenesis, "p", keysOf(members), threshold
			case op == 0:
				rotateTo, rotateNeed = genSet(t, "rotation")
				e.Op, e.Maintainers, e.Threshold = OpRotate, keysOf(rotateTo), rotateNeed
			case op == 1:
				e.Op, e.TLD, e.Plugin, e.Size, e.Version, e.ABI = OpBind, fmt.Sprintf("t%d", i), module(fmt.Sprint(i)), 1, "1", 1
			default:
				e.Op, e.Plugin, e.Reason = OpRevoke, module(fmt.Sprint("r", i)), "r"
			}
			if i > 0 {
				e.Prev = objs[i-1].Entry.ID()
				if nextSet != nil { // a rotate at i-1 is in force from i
					inForce, need, nextSet = nextSet, nextNeed, nil
				}
			}
			o := &Object{Entry: e}
			if i > 0 {
				o.PrevObject = objs[i-1].CID()
			}
			signers := rapid.SliceOfDistinct(rapid.IntRange(0, len(pool)-1), rapid.ID[int]).Draw(t, "signers")
			forged := rapid.IntRange(-1, len(pool)-1).Draw(t, "forged signer")
			valid := 0
			for _, s := range signers {
				o.Sign(pool[s])
				if s != forged && slices.Contains(inForce, s) {
					valid++
				}
			}
			if forged >= 0 && slices.Contains(signers, forged) {
				// Replace that key's signature with one over another message.
				for j := range o.Signatures {
					if o.Signatures[j].Key == pub(pool[forged]) {
						o.Signatures[j].Sig = Signature{}.forge(pool[forged])
					}
				}
			}
			if valid < need {
				want = false
			}
			if rotateTo != nil {
				nextSet, nextNeed = rotateTo, rotateNeed
			}
			// Every object survives its encoding.
			back, err := ParseObject(o.Encode())
			if err != nil {
				t.Fatalf("entry %d does not parse back: %v", i, err)
			}
			objs = append(objs, back)
		}
		l, err := Build(objs)
		if want != (err == nil) {
			t.Fatalf("model says accept=%v, Build says %v", want, err)
		}
		if err != nil && !errors.Is(err, ErrThreshold) {
			t.Fatalf("refused for another reason than the threshold: %v", err)
		}
		if err == nil {
			// The set the log reports for the next entry is the model's.
			ms, th := l.Maintainers()
			wantSet, wantNeed := inForce, need
			if nextSet != nil {
				wantSet, wantNeed = nextSet, nextNeed
			}
			if !slices.Equal(ms, keysOf(wantSet)) || th != wantNeed {
				t.Fatalf("set in force %v/%d, model %v/%d", ms, th, keysOf(wantSet), wantNeed)
			}
		}
	})
}

// forge signs another message with k: well-formed, never valid here.
func (Signature) forge(k ed25519.PrivateKey) string {
	s := Signature{}
	s = addSignature(nil, k, []byte("another message"))[0]
	return s.Sig
}

// Heads follow the same rule with the set in force after their last entry,
// and never go back.
func TestPropertyHeadsNeverGoBack(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := newFixture(t)
		accepted := uint64(1)
		steps := rapid.IntRange(1, 6).Draw(t, "steps")
		for range steps {
			p, err := f.log.Propose(nil, t0, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			p.Head.Head.Seq = rapid.Uint64Range(0, accepted+2).Draw(t, "head seq")
			signers := rapid.SliceOfDistinct(rapid.IntRange(0, 2), rapid.ID[int]).Draw(t, "signers")
			for _, s := range signers {
				p.Sign(f.keys[s])
			}
			_, raw := p.Finish()
			sh, perr := ParseHead(raw)
			if p.Head.Head.Seq == 0 {
				if perr == nil {
					t.Fatal("a head numbered 0 parsed")
				}
				continue
			}
			if perr != nil {
				t.Fatal(perr)
			}
			n, err := f.log.Extend(sh, raw, nil, t0)
			ok := sh.Head.Seq > accepted && len(signers) >= 2
			if ok != (err == nil) {
				t.Fatalf("head %d (accepted %d) with %d signers: %v", sh.Head.Seq, accepted, len(signers), err)
			}
			if err == nil {
				f.log, accepted = n, sh.Head.Seq
			}
		}
	})
}
