package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/ronhost/ronhost/docs/schema"
	"github.com/ronhost/ronhost/internal/plugins"
	"github.com/ronhost/ronhost/sdk-wasm/jsonschema"
)

// Options configures a run of the suite. The zero value runs every check
// under the ABI's limits with the default seed.
type Options struct {
	// CasesDir holds the plugin's data-driven cases (NAME.json files, see the
	// package documentation); "" runs none.
	CasesDir string
	// Update rewrites the expectation of every case in CasesDir with what the
	// plugin answers now, instead of checking it.
	Update bool
	// Seed drives the pseudo-random inputs (amounts, servers, garbage bytes,
	// call orders). 0 means DefaultSeed, so two runs of the same plugin make
	// the same calls; the report records the seed to replay a failure.
	Seed uint64
	// Limits overrides the host's limits; nil runs under the ABI's
	// (plugins.DefaultLimits). The limits.* checks measure against these.
	Limits *plugins.Limits
	// PayloadSize is the payload_size in the validate context of a manifest
	// that has no [payload] size of its own; 0 means DefaultPayloadSize.
	// A manifest with a [payload] table is validated with its size.
	PayloadSize uint64
	// CacheDir is passed to the host as its compilation cache; "" keeps it in memory.
	CacheDir string
	// Logger receives the plugin's log lines and the host's events; nil discards them.
	Logger *slog.Logger
}

// DefaultSeed is the seed of a run whose Options.Seed is 0.
const DefaultSeed = 1

// DefaultPayloadSize is the payload_size of a manifest without a [payload] size.
const DefaultPayloadSize = 1 << 20

// Status is the outcome of one check.
type Status int

// The outcomes of a check.
const (
	Pass Status = iota
	Fail
	Skip
	// Warn is a pass with advice: the plugin accepted (status 0) input the
	// host never sends, which ABI v1 does not make its job to refuse.
	Warn
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "PASS"
	case Fail:
		return "FAIL"
	case Warn:
		return "WARN"
	default:
		return "SKIP"
	}
}

// MarshalText encodes a status as "pass", "fail", "skip" or "warn" (in JSON reports).
func (s Status) MarshalText() ([]byte, error) { return []byte(strings.ToLower(s.String())), nil }

// CheckResult is the outcome of one check. In JSON, durations are nanoseconds.
type CheckResult struct {
	ID      string        `json:"id"`      // stable, e.g. "split.conserve" or "cases.maxzoom"
	Status  Status        `json:"status"`  //
	Message string        `json:"message"` // for a failure, what is wrong and on which input; for a skip, why
	Elapsed time.Duration `json:"elapsed"` // wall time of the check
}

// EntryStats sums up the calls the suite made to one entry point.
type EntryStats struct {
	Entry      plugins.Entry `json:"entry"`
	Calls      int           `json:"calls"`
	Faults     int           `json:"faults"`
	MaxElapsed time.Duration `json:"max_elapsed"` // slowest call that answered
	P50        time.Duration `json:"p50"`         // median of the calls that answered
	P99        time.Duration `json:"p99"`
	Total      time.Duration `json:"total"`
	Deadline   time.Duration `json:"deadline"`    // the wall-clock safety net the calls ran under
	MaxFuel    uint64        `json:"max_fuel"`    // most fuel a call burnt (faults included): the same on every machine
	TotalFuel  uint64        `json:"total_fuel"`  // fuel of every call, summed
	FuelBudget uint64        `json:"fuel_budget"` // the budget the calls ran under
	PeakMemory uint32        `json:"peak_memory"` // largest linear memory seen after a call, bytes
	MaxOutput  int           `json:"max_output"`  // largest output, bytes
}

// Report is what a run found.
type Report struct {
	Plugin  string        `json:"plugin"` // "b3:<hex>" of the module
	TLD     string        `json:"tld"`    // from describe, when the module loaded
	Name    string        `json:"name"`
	Version string        `json:"version"`
	Seed    uint64        `json:"seed"`
	Checks  []CheckResult `json:"checks"`
	Entries []EntryStats  `json:"entries"` // per entry point, in ABI order, for those called
	Elapsed time.Duration `json:"elapsed"` // of every run
	// Reruns counts the runs redone because the host's wall-clock safety
	// net stopped a call (see Run); the report is the last run's.
	Reruns int `json:"reruns,omitempty"`
}

// MarshalJSON encodes the report with its counts ("passed", "failed",
// "skipped") beside the fields.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		plain
		Passed  int `json:"passed"`
		Warned  int `json:"warned"`
		Failed  int `json:"failed"`
		Skipped int `json:"skipped"`
	}{plain(r), r.Passed(), r.Warned(), r.Failed(), r.Skipped()})
}

// Failed returns the number of checks that failed.
func (r *Report) Failed() int { return r.count(Fail) }

// Passed returns the number of checks that passed, with warnings or without.
func (r *Report) Passed() int { return r.count(Pass) + r.count(Warn) }

// Warned returns the number of checks that passed with warnings.
func (r *Report) Warned() int { return r.count(Warn) }

// Skipped returns the number of checks that did not run.
func (r *Report) Skipped() int { return r.count(Skip) }

func (r *Report) count(s Status) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == s {
			n++
		}
	}
	return n
}

// Check returns the result of the check with the given id.
func (r *Report) Check(id string) (CheckResult, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return CheckResult{}, false
}

// ErrBadCases reports a cases directory the suite cannot read or a case file
// it cannot parse.
var ErrBadCases = errors.New("conformance: bad cases")

// Run loads wasm in a host of its own (memoization off, one pooled
// instance, so determinism is tested for real) and runs every check on it.
// A plugin that breaks the ABI gives a Report with failed checks, not an
// error; the error is for the suite itself: a cancelled ctx, an unreadable
// cases directory, or a failure to rewrite a case in Update mode.
//
// The report is a function of the module and the options alone (fuel, not
// time, judges calls), except when the host's wall-clock safety net, which a
// stalled machine can reach, stops a call: the stopped call is retried, but
// its instance was discarded, so every later call runs in an instance with
// another history (another heap, another garbage collection), and the fuel
// and memory figures change. Such a run is redone from the start, in a new
// host, up to MaxRuns runs in all; Report.Reruns counts the runs redone.
func Run(ctx context.Context, wasm []byte, opts Options) (*Report, error) {
	return run(ctx, wasm, opts, nil)
}

// MaxRuns is how many times Run runs the suite at most: a run in which the
// wall clock stopped a call is redone (see Run).
const MaxRuns = 3

// run is Run; stall, when not nil, is asked before every call the suite
// makes through suite.call, with the number of calls the run made before
// it, whether that call is to be stopped as if by the wall clock (tests
// inject stalls with it).
func run(ctx context.Context, wasm []byte, opts Options, stall func(calls int) bool) (*Report, error) {
	start := time.Now()
	var s *suite
	var err error
	for n := 1; ; n++ {
		s = newSuite(wasm, opts)
		s.stall = stall
		err = s.run(ctx)
		if err != nil || s.stalls == 0 || n == MaxRuns {
			s.report.Reruns = n - 1
			break
		}
		s.log.Info("conformance: the wall-clock safety net stopped a call, so the fuel and memory figures depend on the machine: running again",
			"stopped", s.stalls, "run", n)
	}
	s.report.Elapsed = time.Since(start)
	s.report.Entries = s.entryStats()
	return s.report, err
}

// suite is one run.
type suite struct {
	wasm   []byte
	opts   Options
	limits plugins.Limits // effective
	rng    *rand.Rand
	report *Report
	log    *slog.Logger

	mod     *wasmModule     // nil when the module does not parse
	schemas *jsonschema.Set // docs/schema, the ABI's JSON Schemas

	host *plugins.Host
	p    *plugins.Plugin

	desc       describeDoc
	descInput  []byte
	examples   []example // describe's examples, with what validate made of them
	normalized []json.RawMessage
	calls      []callRecord
	splitRuns  []splitRun
	splitDone  bool
	refs       []ref
	retried    []callRecord   // calls that timed out once, then answered
	stalls     int            // calls the wall-clock safety net stopped (Run redoes the run)
	stall      func(int) bool // tests: stop this call as the wall clock would (see run)
	cases      []namedCase
}

type example struct {
	manifest   json.RawMessage
	size       uint64 // the payload_size it is validated with
	input      []byte // the validate input
	normalized json.RawMessage
}

func newSuite(wasm []byte, opts Options) *suite {
	if opts.Seed == 0 {
		opts.Seed = DefaultSeed
	}
	if opts.PayloadSize == 0 {
		opts.PayloadSize = DefaultPayloadSize
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lim := plugins.DefaultLimits()
	// The suite judges time by fuel alone; its wall-clock net is SuiteNet
	// times a node's, so that a saturated CI runner does not reach it (a C
	// template's validate of 300,000 numbers, 0.4 s idle, met a node's 2 s
	// net twice in a row under a 2-core burner).
	lim.Describe, lim.Validate, lim.Split, lim.Resolve = SuiteNet*lim.Describe, SuiteNet*lim.Validate, SuiteNet*lim.Split, SuiteNet*lim.Resolve
	if opts.Limits != nil {
		o := *opts.Limits
		if o.ModuleBytes > 0 {
			lim.ModuleBytes = o.ModuleBytes
		}
		if o.MemoryBytes > 0 {
			lim.MemoryBytes = o.MemoryBytes
		}
		if o.InputBytes > 0 {
			lim.InputBytes = o.InputBytes
		}
		if o.OutputBytes > 0 {
			lim.OutputBytes = o.OutputBytes
		}
		for _, f := range []struct{ dst, src *uint64 }{
			{&lim.DescribeFuel, &o.DescribeFuel}, {&lim.ValidateFuel, &o.ValidateFuel}, {&lim.SplitFuel, &o.SplitFuel}, {&lim.ResolveFuel, &o.ResolveFuel},
		} {
			if *f.src > 0 {
				*f.dst = *f.src
			}
		}
		for _, d := range []struct{ dst, src *time.Duration }{
			{&lim.Describe, &o.Describe}, {&lim.Validate, &o.Validate}, {&lim.Split, &o.Split}, {&lim.Resolve, &o.Resolve},
		} {
			if *d.src > 0 {
				*d.dst = *d.src
			}
		}
	}
	return &suite{
		wasm:   wasm,
		opts:   opts,
		limits: lim,
		rng:    rand.New(rand.NewPCG(opts.Seed, 0x726f6e686f7374)),
		report: &Report{Plugin: plugins.HashBytes(wasm), Seed: opts.Seed},
		log:    log,
	}
}

// check is one named check; it returns its outcome.
type check struct {
	id  string
	run func(ctx context.Context) outcome
}

type outcome struct {
	status Status
	msg    string
}

func passed() outcome { return outcome{status: Pass} }

func passf(format string, args ...any) outcome {
	return outcome{status: Pass, msg: fmt.Sprintf(format, args...)}
}

func failf(format string, args ...any) outcome {
	return outcome{status: Fail, msg: fmt.Sprintf(format, args...)}
}

func skipf(format string, args ...any) outcome {
	return outcome{status: Skip, msg: fmt.Sprintf(format, args...)}
}

func (s *suite) record(id string, start time.Time, o outcome) {
	s.report.Checks = append(s.report.Checks, CheckResult{ID: id, Status: o.status, Message: o.msg, Elapsed: time.Since(start)})
	s.log.Debug("conformance check", "id", id, "status", o.status.String())
}

func (s *suite) runChecks(ctx context.Context, cs []check) error {
	for _, c := range cs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("conformance: %w", err)
		}
		start := time.Now()
		o := c.run(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("conformance: %s: %w", c.id, err)
		}
		s.record(c.id, start, o)
	}
	return nil
}

func (s *suite) skipAll(ids []string, format string, args ...any) {
	for _, id := range ids {
		s.record(id, time.Now(), skipf(format, args...))
	}
}

// The check ids after loading, in the order they run.
var runtimeChecks = []string{
	"describe.shape", "describe.examples",
	"validate.idempotent", "validate.garbage", "validate.truncated", "validate.nested",
	"validate.huge", "validate.utf8", "validate.types", "validate.dates",
	"split.status", "split.conserve", "split.nonnegative", "split.roles", "split.payees", "split.order",
	"determinism.fresh", "determinism.reused", "determinism.order",
	"abi.outputs",
}

// SuiteNet is how many times a node's wall-clock safety net (ABI §5) the
// suite waits before it stops a call, unless Options.Limits sets the net.
const SuiteNet = 10

var limitChecks = []string{"limits.time", "limits.memory", "limits.output"}

// newHost makes the host a run loads the plugin in: no memo, so every call
// reaches the module; one instance, so reuse is real; no quarantine, so a
// faulty plugin stays under test.
func (s *suite) newHost() *plugins.Host {
	return plugins.New(plugins.Config{
		Limits:          s.limits,
		PoolSize:        1,
		CacheDir:        s.opts.CacheDir,
		MemoEntries:     -1,
		QuarantineAfter: 1 << 30,
		Logger:          s.log,
		HostVersion:     "conformance",
	})
}

func (s *suite) run(ctx context.Context) error {
	if err := s.loadCases(); err != nil {
		return err
	}
	set, err := schema.Load()
	if err != nil {
		return fmt.Errorf("conformance: the ABI's schemas: %w", err)
	}
	s.schemas = set
	static := []check{
		{"abi.marker", s.checkMarker},
		{"abi.exports", s.checkExports},
		{"abi.imports", s.checkImports},
	}
	if err := s.runChecks(ctx, static); err != nil {
		return err
	}
	if s.report.Failed() > 0 {
		// The host refuses such a module; compiling it to hear that is the
		// slowest step of a run, so the suite stops here.
		s.record("abi.load", time.Now(), skipf("not loaded: the module breaks the ABI v1 module shape (see the abi.* failures)"))
		s.skipAll(runtimeChecks, "the plugin was not loaded (see abi.*)")
		s.skipAll(limitChecks, "the plugin was not loaded (see abi.*)")
		s.skipCases("the plugin was not loaded (see abi.*)")
		return nil
	}
	s.host = s.newHost()
	defer func() { _ = s.host.Close(context.WithoutCancel(ctx)) }()

	start := time.Now()
	p, err := s.host.Load(ctx, s.wasm)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("conformance: loading: %w", ctx.Err())
		}
		s.record("abi.load", start, failf("the host refused the module: %v", err))
		s.skipAll(runtimeChecks, "the plugin did not load (see abi.load)")
		s.skipAll(limitChecks, "the plugin did not load (see abi.load)")
		s.skipCases("the plugin did not load (see abi.load)")
		return nil
	}
	s.p = p
	defer func() { _ = p.Close(context.WithoutCancel(ctx)) }()
	info := p.Info()
	s.report.TLD, s.report.Name, s.report.Version = info.TLD, info.Name, info.Version
	s.record("abi.load", start, passed())

	checks := []check{
		{"describe.shape", s.checkDescribeShape},
		{"describe.examples", s.checkDescribeExamples},
		{"validate.idempotent", s.checkIdempotent},
		{"validate.garbage", s.checkGarbage},
		{"validate.truncated", s.checkTruncated},
		{"validate.nested", s.checkNested},
		{"validate.huge", s.checkHuge},
		{"validate.utf8", s.checkUTF8},
		{"validate.types", s.checkTypes},
		{"validate.dates", s.checkDates},
		{"split.status", s.checkSplitStatus},
		{"split.conserve", s.checkSplitConserve},
		{"split.nonnegative", s.checkSplitNonNegative},
		{"split.roles", s.checkSplitRoles},
		{"split.payees", s.checkSplitPayees},
		{"split.order", s.checkSplitOrder},
		{"determinism.fresh", s.checkFresh},
		{"determinism.reused", s.checkReused},
		{"determinism.order", s.checkOrder},
	}
	if s.resolves() {
		checks = append(checks, check{"resolve.paths", s.checkResolvePaths}, check{"resolve.garbage", s.checkResolveGarbage})
	}
	if err := s.runChecks(ctx, checks); err != nil {
		return err
	}
	if err := s.runCases(ctx); err != nil {
		return err
	}
	return s.runChecks(ctx, []check{
		{"abi.outputs", s.checkOutputSchemas},
		{"limits.time", s.checkTime},
		{"limits.memory", s.checkMemory},
		{"limits.output", s.checkOutput},
	})
}
