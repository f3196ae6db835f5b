package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ronhost/ronhost/internal/plugins"
)

// The limits.* checks look back over every call the suite made.

var entries = []plugins.Entry{plugins.EntryDescribe, plugins.EntryValidate, plugins.EntrySplit, plugins.EntryResolve}

func (s *suite) entryStats() []EntryStats {
	var out []EntryStats
	for _, e := range entries {
		st := EntryStats{Entry: e, Deadline: s.limits.Deadline(e), FuelBudget: s.limits.Fuel(e)}
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
			st.MaxFuel = max(st.MaxFuel, c.res.Fuel)
			st.TotalFuel += c.res.Fuel
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

// checkTime judges time by fuel alone, so its verdict is a function of the
// module and the inputs (ABI v1.1): a call over its entry point's budget
// fails, on any machine; wall-clock time is reported, never judged.
func (s *suite) checkTime(context.Context) outcome {
	for i := range s.calls {
		c := &s.calls[i]
		if c.fault != nil && c.fault.Kind == plugins.FaultTimeout && errors.Is(c.fault, plugins.ErrOutOfFuel) {
			return failf("%s spent its fuel budget of %d units (%v); every call must finish within its budget on any input: %s",
				c.fault.Entry, s.limits.Fuel(c.fault.Entry), c.fault.Err, c.where())
		}
	}
	if c := s.firstFault(plugins.FaultTimeout); c != nil {
		return failf("%s did not answer within the host's wall-clock safety net of %s (%v), twice: %s",
			c.fault.Entry, s.limits.Deadline(c.fault.Entry), c.fault.Err, c.where())
	}
	var most *callRecord
	for i := range s.calls {
		c := &s.calls[i]
		if c.fault != nil || c.res.Fuel == 0 {
			continue
		}
		if most == nil || float64(c.res.Fuel)/float64(s.limits.Fuel(c.entry)) > float64(most.res.Fuel)/float64(s.limits.Fuel(most.entry)) {
			most = c
		}
	}
	if most == nil {
		return skipf("no call answered")
	}
	msg := fmt.Sprintf("%d calls; the most fuel relative to its budget: %s %d of %d units, %s (%s)", len(s.calls), most.entry,
		most.res.Fuel, s.limits.Fuel(most.entry), percent(most.res.Fuel, s.limits.Fuel(most.entry)), most.label)
	if len(s.retried) > 0 {
		r := s.retried[0]
		msg += fmt.Sprintf("; %d passed the wall-clock safety net once and answered when retried (a stalled machine), first: %s (%s)",
			len(s.retried), r.entry, r.label)
	}
	return passf("%s", msg)
}

// percent renders part/whole as a percentage.
func percent(part, whole uint64) string {
	if whole == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2g%%", 100*float64(part)/float64(whole))
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
