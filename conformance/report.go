package conformance

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText writes the report for a terminal: one line per check, the
// message of every failure, warning and skip indented under it, the calls
// made per entry point, and last, alone on its line, "N passed, N failed"
// (N passed counts the checks with warnings too; a line before it counts them).
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	name := r.TLD
	if name == "" {
		name = "(not loaded)"
	} else {
		name = fmt.Sprintf(".%s %s %s", r.TLD, r.Name, r.Version)
	}
	fmt.Fprintf(&b, "conformance: plugin %s %s, seed %d\n", name, r.Plugin, r.Seed)
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%s %-22s %s", c.Status, c.ID, c.Elapsed.Round(time.Microsecond))
		if c.Status == Pass && c.Message != "" {
			fmt.Fprintf(&b, "  (%s)", c.Message)
		}
		b.WriteString("\n")
		if c.Status != Pass && c.Message != "" {
			for _, line := range strings.Split(c.Message, "\n") {
				fmt.Fprintf(&b, "      %s\n", line)
			}
		}
	}
	for _, e := range r.Entries {
		fmt.Fprintf(&b, "calls %-13s %5d calls, %d faults, fuel at most %d of its budget %d (%s), median %s, p99 %s, slowest %s, peak memory %s, largest output %d bytes\n",
			e.Entry, e.Calls, e.Faults, e.MaxFuel, e.FuelBudget, percent(e.MaxFuel, e.FuelBudget), e.P50.Round(time.Microsecond), e.P99.Round(time.Microsecond), e.MaxElapsed.Round(time.Microsecond), mib(uint64(e.PeakMemory)), e.MaxOutput)
	}
	if r.Reruns > 0 {
		fmt.Fprintf(&b, "run %d times: the wall-clock safety net stopped a call (a stalled machine), which changes the figures of the calls after it\n", r.Reruns+1)
	}
	if n := r.Skipped(); n > 0 {
		fmt.Fprintf(&b, "%d skipped\n", n)
	}
	if n := r.Warned(); n > 0 {
		fmt.Fprintf(&b, "%d passed with warnings (input the host never sends; see WARN above)\n", n)
	}
	fmt.Fprintf(&b, "%d passed, %d failed\n", r.Passed(), r.Failed())
	_, err := io.WriteString(w, b.String())
	return err
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Name    string       `xml:"name,attr"`
	Tests   int          `xml:"tests,attr"`
	Fails   int          `xml:"failures,attr"`
	Skipped int          `xml:"skipped,attr"`
	Time    string       `xml:"time,attr"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Fails      int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure"`
	Skipped   *junitMessage `xml:"skipped"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// xmlSafe drops the characters XML 1.0 cannot carry at all (control
// characters other than tab and newlines); messages escape invalid input
// bytes already.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xfffe || r == 0xffff {
			return -1
		}
		return r
	}, s)
}

// WriteJUnit writes the report as JUnit XML, one testcase per check, for CI
// systems that show test results.
func (r *Report) WriteJUnit(w io.Writer) error {
	name := "conformance"
	if r.TLD != "" {
		name = "conformance." + r.TLD
	}
	s := junitSuite{
		Name: name, Tests: len(r.Checks), Fails: r.Failed(), Skipped: r.Skipped(), Time: seconds(r.Elapsed),
		Properties: []junitProperty{
			{Name: "plugin", Value: r.Plugin}, {Name: "tld", Value: r.TLD}, {Name: "name", Value: xmlSafe(r.Name)},
			{Name: "version", Value: xmlSafe(r.Version)}, {Name: "seed", Value: fmt.Sprint(r.Seed)},
			{Name: "warnings", Value: fmt.Sprint(r.Warned())},
		},
	}
	for _, c := range r.Checks {
		tc := junitCase{Name: c.ID, Classname: name, Time: seconds(c.Elapsed)}
		first, _, _ := strings.Cut(c.Message, "\n")
		switch c.Status {
		case Fail:
			tc.Failure = &junitMessage{Message: xmlSafe(first), Type: c.ID, Body: xmlSafe(c.Message)}
		case Skip:
			tc.Skipped = &junitMessage{Message: xmlSafe(c.Message)}
		case Warn:
			// JUnit has no warnings: the case passes and says why in its output.
			tc.SystemOut = xmlSafe("WARN " + c.ID + ": " + c.Message)
		}
		s.Cases = append(s.Cases, tc)
	}
	var out strings.Builder
	for _, e := range r.Entries {
		fmt.Fprintf(&out, "%s: %d calls, %d faults, fuel at most %d of its budget %d, median %s, p99 %s, slowest %s, peak memory %d bytes, largest output %d bytes\n",
			e.Entry, e.Calls, e.Faults, e.MaxFuel, e.FuelBudget, e.P50, e.P99, e.MaxElapsed, e.PeakMemory, e.MaxOutput)
	}
	s.SystemOut = out.String()
	doc := junitSuites{Name: name, Tests: s.Tests, Fails: s.Fails, Skipped: s.Skipped, Time: s.Time, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("conformance: writing JUnit XML: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}
