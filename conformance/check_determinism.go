package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ronhost/ronhost/internal/plugins"
)

// The determinism.* checks compare every answer with the one a brand-new
// instance gives: byte for byte, status included.

// ref is a probe with the answer of a fresh instance.
type ref struct {
	pr  probe
	res plugins.Result
}

// determinismProbes picks inputs of every entry point: describe, the
// examples and their normalized forms, a few rejections and splits.
func (s *suite) determinismProbes() []probe {
	var ps []probe
	if s.descInput != nil {
		ps = append(ps, probe{entry: plugins.EntryDescribe, label: "the describe input", input: s.descInput})
	}
	for i, ex := range s.examples {
		if i == maxSplitManifests {
			break
		}
		ps = append(ps, probe{entry: plugins.EntryValidate, label: fmt.Sprintf("examples[%d]", i), input: ex.input})
		if in, err := s.validateInput(ex.normalized, ex.size); err == nil {
			ps = append(ps, probe{entry: plugins.EntryValidate, label: fmt.Sprintf("the normalized examples[%d]", i), input: in})
		}
	}
	if s.resolves() {
		for i, ex := range s.examples {
			if i == maxSplitManifests {
				break
			}
			// Through Plugin.Call no payload is attached: object_read answers -1.
			if in, err := jsonMarshal(plugins.ResolveInput{Manifest: ex.normalized, Path: "/", PayloadSize: ex.size}); err == nil {
				ps = append(ps, probe{entry: plugins.EntryResolve, label: fmt.Sprintf("resolve / on the normalized examples[%d], no payload", i), input: in})
			}
		}
	}
	base := s.baseManifest()
	ps = append(ps,
		probe{entry: plugins.EntryValidate, label: "manifest 42", input: s.validateRaw([]byte("42"))},
		probe{entry: plugins.EntryValidate, label: "a truncated input", input: s.validateRaw(base)[:len(s.validateRaw(base))/2]},
	)
	// Splits: spread over the battery, the larger server lists first.
	var splits []splitRun
	for _, r := range s.splitRuns {
		if r.ok() {
			splits = append(splits, r)
		}
	}
	slices.SortStableFunc(splits, func(a, b splitRun) int { return len(b.call.servers) - len(a.call.servers) })
	for i := 0; i < len(splits) && i < 6; i++ {
		ps = append(ps, splits[i*len(splits)/6].pr)
	}
	return ps
}

func sameAnswer(a, b plugins.Result) bool {
	return a.Status == b.Status && bytes.Equal(a.Output, b.Output)
}

func answer(r plugins.Result) string {
	return fmt.Sprintf("status %d, %s", r.Status, show(r.Output))
}

func (s *suite) checkFresh(ctx context.Context) outcome {
	s.refs = nil
	var faulted []string
	for _, pr := range s.determinismProbes() {
		a, err := s.call(ctx, pr, true)
		if errors.Is(err, errSkipProbe) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return failf("%v", err)
			}
			faulted = append(faulted, pr.label)
			continue
		}
		b, err := s.call(ctx, pr, true)
		if err != nil {
			if ctx.Err() != nil {
				return failf("%v", err)
			}
			return failf("%s answered in one fresh instance and failed in another (%s)%s", pr.entry, faultText(err), inOnly(pr))
		}
		if !sameAnswer(a, b) {
			return failf("%s gave two answers to the same input in two fresh instances; a plugin must not depend on the clock, randomness or addresses\n  input (%s): %s\n  first:  %s\n  second: %s",
				pr.entry, pr.label, show(pr.input), answer(a), answer(b))
		}
		s.refs = append(s.refs, ref{pr: pr, res: a})
	}
	if len(s.refs) == 0 {
		return failf("every input faulted in a fresh instance: %s", strings.Join(faulted, "; "))
	}
	if len(faulted) > 0 {
		return passf("%d inputs (left out because they fault, see the other checks: %s)", len(s.refs), strings.Join(faulted, "; "))
	}
	return passf("%d inputs", len(s.refs))
}

// compareReused calls ref's probe in the pooled instance and compares.
func (s *suite) compareReused(ctx context.Context, r ref, when string) (string, error) {
	got, err := s.call(ctx, r.pr, false)
	if err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		return fmt.Sprintf("%s answered in a fresh instance but failed in a reused one %s: %s%s", r.pr.entry, when, faultText(err), inOnly(r.pr)), nil
	}
	if !sameAnswer(r.res, got) {
		return fmt.Sprintf("%s answered differently in a reused instance %s than in a fresh one; keep no state between calls (globals, caches that change the output)\n  input (%s): %s\n  fresh:  %s\n  reused: %s",
			r.pr.entry, when, r.pr.label, show(r.pr.input), answer(r.res), answer(got)), nil
	}
	return "", nil
}

func (s *suite) checkReused(ctx context.Context) outcome {
	if len(s.refs) == 0 {
		return failf("no input answered in a fresh instance (see determinism.fresh)")
	}
	for round := 1; round <= 3; round++ {
		for _, r := range s.refs {
			msg, err := s.compareReused(ctx, r, fmt.Sprintf("(call %d of the same input)", round))
			if err != nil {
				return failf("%v", err)
			}
			if msg != "" {
				return failf("%s", msg)
			}
		}
	}
	return passf("%d inputs, 3 calls each", len(s.refs))
}

func (s *suite) checkOrder(ctx context.Context) outcome {
	if len(s.refs) == 0 {
		return failf("no input answered in a fresh instance (see determinism.fresh)")
	}
	for round := 1; round <= 3; round++ {
		order := slices.Clone(s.refs)
		s.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for i, r := range order {
			var prev []string
			for _, p := range order[max(0, i-3):i] {
				prev = append(prev, p.pr.label)
			}
			when := "(shuffled order)"
			if len(prev) > 0 {
				when = fmt.Sprintf("(after %s)", strings.Join(prev, ", "))
			}
			msg, err := s.compareReused(ctx, r, when)
			if err != nil {
				return failf("%v", err)
			}
			if msg != "" {
				return failf("%s", msg)
			}
		}
	}
	return passf("%d inputs in 3 shuffled orders", len(s.refs))
}
