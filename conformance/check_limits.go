package conformance

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ronhost/ronhost/plugins"
)

// The limits.* checks look back over every call the suite made.

var entries = []plugins.Entry{plugins.EntryDescribe, plugins.EntryValidate, plugins.EntrySplit, plugins.EntryResolve}

func (s *suite) entryStats() []EntryStats {
	var out []EntryStats
	for _, e := range entries {
		st := EntryStats{Entry: e, Deadline: s.limits.Deadline(e)}
		var times []time.Duration
		for _, c := range s.calls {
			if c.entry != e {
				continue
			}
			st.Calls++
			st.Total += c.elapsed
			if c.fault != nil {
				st.Faults++
			} else {
				st.MaxElapsed = max(st.MaxElapsed, c.elapsed)
				times = append(times, c.elapsed)
			}
			st.PeakMemory = max(st.PeakMemory, c.res.MemoryBytes)
			st.MaxOutput = max(st.MaxOutput, len(c.res.Output))
		}
		if len(times) > 0 {
			slices.Sort(times)
			st.P50 = times[len(times)/2]
			st.P99 = times[min(len(times)-1, len(times)*99/100)]
		}
		if st.Calls > 0 {
			out = append(out, st)
		}
	}
	return out
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func (s *suite) firstFault(kinds ...plugins.FaultKind) *callRecord {
	for i := range s.calls {
		c := &s.calls[i]
		if c.fault == nil {
			continue
		}
		for _, k := range kinds {
			if c.fault.Kind == k {
				return c
			}
		}
	}
	return nil
}

func (c *callRecord) where() string {
	inst := "a pooled instance"
	if c.fresh {
		inst = "a fresh instance"
	}
	return fmt.Sprintf("%s (in %s)\n  input (%s): %s", c.fault.Entry, inst, c.label, show(c.input))
}

func (s *suite) checkTime(context.Context) outcome {
	if c := s.firstFault(plugins.FaultTimeout); c != nil {
		return failf("%s did not answer within its deadline of %s (%v); every call must finish in time on any input: %s",
			c.fault.Entry, s.limits.Deadline(c.fault.Entry), c.fault.Err, c.where())
	}
	var slowest *callRecord
	for i := range s.calls {
		c := &s.calls[i]
		if c.fault != nil || c.wall {
			continue // wall times include instantiation; the host's timeouts are faults
		}
		if c.elapsed > s.limits.Deadline(c.entry) {
			return failf("%s took %s, over its deadline of %s\n  input (%s): %s", c.entry, c.elapsed.Round(time.Microsecond), s.limits.Deadline(c.entry), c.label, show(c.input))
		}
		if slowest == nil || float64(c.elapsed)/float64(s.limits.Deadline(c.entry)) > float64(slowest.elapsed)/float64(s.limits.Deadline(slowest.entry)) {
			slowest = c
		}
	}
	if slowest == nil {
		return skipf("no call answered")
	}
	if len(s.retried) > 0 {
		r := s.retried[0]
		return passf("%d calls; %d timed out once and answered when retried (a busy machine, or a plugin near its deadline), first: %s (%s) in %s on retry",
			len(s.calls), len(s.retried), r.entry, r.label, r.elapsed.Round(time.Microsecond))
	}
	return passf("%d calls; slowest relative to its deadline: %s %s of %s (%s)", len(s.calls), slowest.entry,
		slowest.elapsed.Round(time.Microsecond), s.limits.Deadline(slowest.entry), slowest.label)
}

func (s *suite) checkMemory(context.Context) outcome {
	if c := s.firstFault(plugins.FaultMemory); c != nil {
		return failf("%s ran out of memory: the limit is %s per instance (%v): %s",
			c.fault.Entry, mib(uint64(s.limits.MemoryBytes)), c.fault.Err, c.where())
	}
	var peak uint32
	for _, c := range s.calls {
		if c.res.MemoryBytes > s.limits.MemoryBytes {
			return failf("%s left the instance with %s of memory, over the limit of %s\n  input (%s): %s",
				c.entry, mib(uint64(c.res.MemoryBytes)), mib(uint64(s.limits.MemoryBytes)), c.label, show(c.input))
		}
		peak = max(peak, c.res.MemoryBytes)
	}
	return passf("peak linear memory %s of %s", mib(uint64(peak)), mib(uint64(s.limits.MemoryBytes)))
}

func (s *suite) checkOutput(context.Context) outcome {
	if c := s.firstFault(plugins.FaultOutputTooLarge); c != nil {
		return failf("%s produced an output over the limit of %d bytes (%v); keep outputs small (an index, not the payload): %s",
			c.fault.Entry, s.limits.OutputBytes, c.fault.Err, c.where())
	}
	largest := 0
	for _, c := range s.calls {
		if len(c.res.Output) > s.limits.OutputBytes {
			return failf("%s produced %d bytes of output, over the limit of %d", c.entry, len(c.res.Output), s.limits.OutputBytes)
		}
		largest = max(largest, len(c.res.Output))
	}
	return passf("largest output %d bytes of %d", largest, s.limits.OutputBytes)
}
