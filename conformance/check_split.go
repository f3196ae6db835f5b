package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"

	"github.com/ronhost/ronhost/internal/plugins"
)

// The split.* checks share one battery of calls: every normalized example
// (at most maxSplitManifests) times the amounts times server lists of
// several lengths.

const maxSplitManifests = 4

type splitServer struct {
	Node     string `json:"node"`
	Payout   string `json:"payout"`
	Requests uint64 `json:"requests"`
	Bytes    uint64 `json:"bytes"`
}

type splitCall struct {
	manifest json.RawMessage
	amount   uint64
	servers  []splitServer
}

func (c splitCall) input() []byte {
	type usage struct {
		Requests uint64        `json:"requests"`
		Bytes    uint64        `json:"bytes"`
		Servers  []splitServer `json:"servers"`
	}
	u := usage{Servers: c.servers} // nil goes as null, as Go hosts send it
	for _, sv := range c.servers {
		u.Requests += sv.Requests
		u.Bytes += sv.Bytes
	}
	b, _ := json.Marshal(struct {
		Manifest json.RawMessage `json:"manifest"`
		Epoch    string          `json:"epoch"`
		Amount   uint64          `json:"amount"`
		Usage    usage           `json:"usage"`
	}{c.manifest, "2026-11", c.amount, u})
	return b
}

// allocation is one parsed allocation; amount keeps the number as written.
type allocation struct {
	Payee  string
	Role   string
	Amount json.Number
}

type splitRun struct {
	call   splitCall
	pr     probe
	res    plugins.Result
	err    error // a fault
	allocs []allocation
	bad    error // the output does not parse as allocations
}

func (r splitRun) ok() bool { return r.err == nil && r.res.Status == 0 && r.bad == nil }

func (r splitRun) describe() string { return inOut(r.pr, r.res) }

func parseAllocations(out []byte) ([]allocation, error) {
	m, err := decodeObject(out)
	if err != nil {
		return nil, fmt.Errorf(`the output must be {"allocations":[{"payee","role","amount"}...]}: %v`, err)
	}
	raw, ok := m["allocations"]
	if !ok {
		return nil, errors.New(`the output must be {"allocations":[...]}: no "allocations" member`)
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf(`"allocations" must be an array of objects: %v`, err)
	}
	out2 := make([]allocation, 0, len(items))
	for i, it := range items {
		var a allocation
		for _, f := range []struct {
			key string
			dst *string
		}{{"payee", &a.Payee}, {"role", &a.Role}} {
			v, ok := it[f.key]
			if !ok {
				return nil, fmt.Errorf("allocations[%d] has no %q", i, f.key)
			}
			if err := json.Unmarshal(v, f.dst); err != nil {
				return nil, fmt.Errorf("allocations[%d].%s must be a string, it is %s", i, f.key, show(v))
			}
		}
		v, ok := it["amount"]
		if !ok {
			return nil, fmt.Errorf(`allocations[%d] has no "amount"`, i)
		}
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		var n any
		if err := dec.Decode(&n); err != nil {
			return nil, fmt.Errorf("allocations[%d].amount: %v", i, err)
		}
		num, isNum := n.(json.Number)
		if !isNum {
			return nil, fmt.Errorf("allocations[%d].amount must be a JSON integer (minor units), it is %s", i, show(v))
		}
		a.Amount = num
		out2 = append(out2, a)
	}
	return out2, nil
}

// integer parses a JSON number written as an integer.
func integer(n json.Number) (*big.Int, bool) {
	s := string(n)
	if strings.ContainsAny(s, ".eE") {
		return nil, false
	}
	v, ok := new(big.Int).SetString(s, 10)
	return v, ok
}

func (s *suite) amounts() []uint64 {
	as := []uint64{0, 1, 2, 3, 5, 7, 11, 13, 10007, 1<<32 + 15, plugins.MaxMoney}
	for range 3 {
		as = append(as, s.rng.Uint64N(plugins.MaxMoney+1))
	}
	return as
}

func (s *suite) servers(n int) []splitServer {
	out := make([]splitServer, n)
	for i := range out {
		out[i] = splitServer{
			Node:     fmt.Sprintf("node-%d-%04x", i, s.rng.Uint32N(1<<16)),
			Payout:   fmt.Sprintf("payout-%d", i),
			Requests: s.rng.Uint64N(1000),
			Bytes:    s.rng.Uint64N(1 << 40),
		}
		switch {
		case i == 1: // a server that served nothing
			out[i].Requests, out[i].Bytes = 0, 0
		case i == 3: // one operator running two nodes
			out[i].Payout = out[0].Payout
		}
	}
	return out
}

// ensureSplits runs the battery once.
func (s *suite) ensureSplits(ctx context.Context) error {
	if s.splitDone {
		return nil
	}
	s.splitDone = true
	mans := s.normalized
	if len(mans) > maxSplitManifests {
		mans = mans[:maxSplitManifests]
	}
	amounts := s.amounts()
	lists := [][]splitServer{nil, {}, s.servers(1), s.servers(2), s.servers(3), s.servers(7)}
	for mi, m := range mans {
		for _, a := range amounts {
			for _, sv := range lists {
				c := splitCall{manifest: m, amount: a, servers: sv}
				pr := probe{entry: plugins.EntrySplit, label: fmt.Sprintf("normalized examples[%d], amount %d, %s", mi, a, serversLabel(sv)), input: c.input()}
				r := splitRun{call: c, pr: pr}
				r.res, r.err = s.call(ctx, pr, false)
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if errors.Is(r.err, errSkipProbe) {
					continue
				}
				if r.err == nil && r.res.Status == 0 {
					r.allocs, r.bad = parseAllocations(r.res.Output)
				}
				s.splitRuns = append(s.splitRuns, r)
				if r.err != nil {
					// A plugin that faults gets a shorter battery: the first
					// fault is what the author needs to see.
					return nil
				}
			}
		}
	}
	return nil
}

func (s *suite) splitBattery(ctx context.Context) ([]splitRun, *outcome) {
	if len(s.normalized) == 0 {
		o := failf("no example was accepted by ron_validate (see describe.examples), so there is no manifest to split")
		return nil, &o
	}
	if err := s.ensureSplits(ctx); err != nil {
		o := failf("%v", err)
		return nil, &o
	}
	return s.splitRuns, nil
}

func (s *suite) checkSplitStatus(ctx context.Context) outcome {
	runs, o := s.splitBattery(ctx)
	if o != nil {
		return *o
	}
	var warns []string
	for _, r := range runs {
		switch {
		case r.err != nil:
			return failf("ron_split failed on a normalized manifest: %s%s", faultText(r.err), inOnly(r.pr))
		case r.res.Status == 1 && r.call.servers == nil:
			// servers null: the host never sends it (ABI v1 §3); a
			// rejection there is not a failure, but a robust plugin
			// treats it as empty.
			if err := checkRejection(r.res.Output); err != nil {
				return failf("ron_split rejected an input, but %v%s", err, r.describe())
			}
			warns = append(warns, fmt.Sprintf("ron_split rejected (status 1) %s; the host never sends servers null, "+
				"but a robust plugin treats null as an empty list", r.pr.label))
		case r.res.Status != 0:
			return failf("ron_split answered status %d to a normalized manifest; splitting a manifest ron_validate accepted must succeed%s", r.res.Status, r.describe())
		case r.bad != nil:
			return failf("ron_split's output breaks ABI v1: %v%s", r.bad, r.describe())
		}
	}
	if len(warns) > 0 {
		return outcome{status: Warn, msg: fmt.Sprintf("warning: %d splits with servers null rejected, e.g.:\n- %s", len(warns), warns[0])}
	}
	return passf("%d splits", len(runs))
}

// eachSplit applies f to every split that answered; f returns a problem.
func (s *suite) eachSplit(ctx context.Context, f func(r splitRun) string) outcome {
	runs, o := s.splitBattery(ctx)
	if o != nil {
		return *o
	}
	n := 0
	for _, r := range runs {
		if !r.ok() {
			continue
		}
		n++
		if msg := f(r); msg != "" {
			return failf("%s%s", msg, r.describe())
		}
	}
	if n == 0 {
		return failf("no split answered with allocations (see split.status)")
	}
	return passf("%d splits", n)
}

func (s *suite) checkSplitConserve(ctx context.Context) outcome {
	return s.eachSplit(ctx, func(r splitRun) string {
		sum := new(big.Int)
		for _, a := range r.allocs {
			v, ok := integer(a.Amount)
			if !ok {
				return "" // split.nonnegative reports it
			}
			sum.Add(sum, v)
		}
		want := new(big.Int).SetUint64(r.call.amount)
		if sum.Cmp(want) != 0 {
			diff := new(big.Int).Sub(want, sum)
			verb := "lost"
			if diff.Sign() < 0 {
				verb, diff = "created", diff.Neg(diff)
			}
			unit := "minor units"
			if diff.IsInt64() && diff.Int64() == 1 {
				unit = "minor unit"
			}
			how := fmt.Sprintf("%s %s %s", diff, unit, verb)
			return fmt.Sprintf("the allocations sum to %s, not to the amount %d (%s); they must add up exactly: give the rounding remainder to someone",
				sum, r.call.amount, how)
		}
		return ""
	})
}

func (s *suite) checkSplitNonNegative(ctx context.Context) outcome {
	return s.eachSplit(ctx, func(r splitRun) string {
		for i, a := range r.allocs {
			v, ok := integer(a.Amount)
			switch {
			case !ok:
				return fmt.Sprintf("allocations[%d].amount is %s; money is a JSON integer of minor units, never a fraction or an exponent", i, a.Amount)
			case v.Sign() < 0:
				return fmt.Sprintf("allocations[%d].amount is %s; amounts must not be negative", i, a.Amount)
			case v.Cmp(big.NewInt(plugins.MaxMoney)) > 0:
				return fmt.Sprintf("allocations[%d].amount is %s, over the ABI's largest amount 2^53-1", i, a.Amount)
			}
		}
		return ""
	})
}

func (s *suite) checkSplitRoles(ctx context.Context) outcome {
	roles := s.roles()
	return s.eachSplit(ctx, func(r splitRun) string {
		for i, a := range r.allocs {
			if !slices.Contains(roles, a.Role) {
				return fmt.Sprintf("allocations[%d] pays role %q, which describe does not declare (roles: %s); declare it in describe's roles or pay a declared role",
					i, a.Role, strings.Join(roles, ", "))
			}
		}
		return ""
	})
}

func (s *suite) checkSplitPayees(ctx context.Context) outcome {
	return s.eachSplit(ctx, func(r splitRun) string {
		for i, a := range r.allocs {
			if strings.TrimSpace(a.Payee) == "" {
				return fmt.Sprintf("allocations[%d] has an empty payee; every allocation names who is paid", i)
			}
		}
		return ""
	})
}

// multiset renders allocations in a canonical order for comparison.
func multiset(as []allocation) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = fmt.Sprintf("%q %q %s", a.Payee, a.Role, a.Amount)
	}
	sort.Strings(out)
	return out
}

func (s *suite) checkSplitOrder(ctx context.Context) outcome {
	runs, o := s.splitBattery(ctx)
	if o != nil {
		return *o
	}
	n := 0
	for _, r := range runs {
		if !r.ok() || len(r.call.servers) < 2 {
			continue
		}
		want := multiset(r.allocs)
		for k := range 3 {
			perm := slices.Clone(r.call.servers)
			if k == 0 {
				slices.Reverse(perm)
			} else {
				s.rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			}
			c := r.call
			c.servers = perm
			pr := probe{entry: plugins.EntrySplit, label: r.pr.label + ", servers reordered", input: c.input()}
			res, err := s.call(ctx, pr, false)
			if errors.Is(err, errSkipProbe) {
				continue
			}
			if err != nil {
				return failf("ron_split failed once the servers were reordered: %s%s", faultText(err), inOnly(pr))
			}
			if res.Status != 0 {
				return failf("ron_split answered status %d once the servers were reordered%s", res.Status, inOut(pr, res))
			}
			got, perr := parseAllocations(res.Output)
			if perr != nil {
				return failf("ron_split's output breaks ABI v1: %v%s", perr, inOut(pr, res))
			}
			n++
			if !slices.Equal(multiset(got), want) {
				return failf("the allocations depend on the order of usage.servers; the same servers in another order must be paid the same (sort them, or aggregate by payout)\n  in order: %s\n  output: %s\n  reordered: %s\n  output: %s",
					show(r.pr.input), show(r.res.Output), show(pr.input), show(res.Output))
			}
		}
	}
	if n == 0 {
		return failf("no split with two servers or more answered with allocations (see split.status)")
	}
	return passf("%d reordered splits", n)
}

func serversLabel(sv []splitServer) string {
	switch {
	case sv == nil:
		return "servers null"
	case len(sv) == 1:
		return "1 server"
	}
	return fmt.Sprintf("%d servers", len(sv))
}
