package plugins

import (
	"log/slog"
	"runtime"
	"time"
)

// Entry names an ABI entry point.
type Entry string

// The ABI v1 entry points.
const (
	EntryDescribe Entry = "ron_describe"
	EntryValidate Entry = "ron_validate"
	EntrySplit    Entry = "ron_split"
	EntryResolve  Entry = "ron_resolve"
)

// Limits bound what a plugin may use. A node may set tighter ones than the ABI's.
//
// A call's time is judged by fuel (ABI v1.1): the meter counts the work the
// module does (internal/plugins/internal/meter) and its host calls (meter.go), so a
// call is over its budget on every machine or on none, whatever the load.
// The wall-clock durations are only a safety net, far above what a budget
// lasts, for a host that is stalled.
type Limits struct {
	ModuleBytes int    // largest module accepted at load
	MemoryBytes uint32 // linear memory cap per instance (rounded down to 64 KiB pages)
	InputBytes  int    // largest input handed to a call
	OutputBytes int    // largest output accepted from a call

	// The fuel budget of one call of each entry point (describe's also
	// bounds _initialize).
	DescribeFuel, ValidateFuel, SplitFuel, ResolveFuel uint64

	// The wall-clock safety net of one call of each entry point.
	Describe, Validate, Split, Resolve time.Duration
}

// The ABI's fuel budgets: 2·10^9 units per millisecond of the ABI v1
// deadlines (describe 1 s, validate 100 ms, split and resolve 50 ms), the
// fastest rate the meter counted when ABI v1.1 was set (a unit bounds one
// WebAssembly instruction, and Go's code, which re-enters a function-wide
// loop at every jump, pays a whole function per pass: see docs/RATIONALE.md).
// Real plugins count some 7 times slower; a loop that only spins now
// counts up to about twice as fast, since the refill call left loop passes
// (docs/ABI.md). A plugin within them on one machine is within them on
// every machine.
const (
	DescribeFuel uint64 = 1000 * FuelPerMillisecond
	ValidateFuel uint64 = 100 * FuelPerMillisecond
	SplitFuel    uint64 = 50 * FuelPerMillisecond
	ResolveFuel  uint64 = 50 * FuelPerMillisecond
)

// FuelPerMillisecond converts an ABI v1 deadline into a fuel budget: the
// ABI's budgets are this many units per millisecond of the v1 deadlines.
const FuelPerMillisecond = 2_000_000_000

// SetDeadline sets entry e's limits from a deadline in the ABI v1 sense, as
// a node's configuration gives it (validate_ms, ...): a fuel budget of
// FuelPerMillisecond units per millisecond, and a wall-clock safety net of
// SafetyNet times d.
func (l *Limits) SetDeadline(e Entry, d time.Duration) {
	fuel := uint64(max(d.Milliseconds(), 1)) * FuelPerMillisecond
	net := SafetyNet * d
	switch e {
	case EntryDescribe:
		l.DescribeFuel, l.Describe = fuel, net
	case EntryValidate:
		l.ValidateFuel, l.Validate = fuel, net
	case EntrySplit:
		l.SplitFuel, l.Split = fuel, net
	default:
		l.ResolveFuel, l.Resolve = fuel, net
	}
}

// SafetyNet is how many times the ABI v1 deadline the wall-clock safety net
// allows: far above what any budget lasts.
const SafetyNet = 20

// DefaultLimits returns the ABI v1.1 limits.
func DefaultLimits() Limits {
	return Limits{
		ModuleBytes:  16 << 20,
		MemoryBytes:  64 << 20,
		InputBytes:   1 << 20,
		OutputBytes:  1 << 20,
		DescribeFuel: DescribeFuel,
		ValidateFuel: ValidateFuel,
		SplitFuel:    SplitFuel,
		ResolveFuel:  ResolveFuel,
		Describe:     SafetyNet * time.Second,
		Validate:     SafetyNet * 100 * time.Millisecond,
		Split:        SafetyNet * 50 * time.Millisecond,
		Resolve:      SafetyNet * 50 * time.Millisecond,
	}
}

// Deadline returns the wall-clock safety net of one call of entry e.
func (l Limits) Deadline(e Entry) time.Duration {
	switch e {
	case EntryDescribe:
		return l.Describe
	case EntryValidate:
		return l.Validate
	case EntrySplit:
		return l.Split
	default:
		return l.Resolve
	}
}

// Fuel returns the fuel budget of one call of entry e.
func (l Limits) Fuel(e Entry) uint64 {
	switch e {
	case EntryDescribe:
		return l.DescribeFuel
	case EntryValidate:
		return l.ValidateFuel
	case EntrySplit:
		return l.SplitFuel
	default:
		return l.ResolveFuel
	}
}

// Config configures a Host. The zero value gives the ABI's limits and defaults.
type Config struct {
	Limits Limits // zero fields take DefaultLimits' values

	// PoolSize is the most instances a plugin keeps, and so the most calls
	// it runs at once. 0 means GOMAXPROCS.
	PoolSize int
	// CacheDir holds wazero's compilation cache; "" keeps it in memory.
	CacheDir string
	// MemoEntries bounds the memo of describe, validate and split results.
	// 0 means 4096; negative turns memoization off.
	MemoEntries int
	// QuarantineAfter is how many faults that say the plugin is broken, with
	// no successful call between them, quarantine it when they span
	// QuarantineDistinct distinct inputs within QuarantineWindow. Only faults
	// no content caused (instantiation, describe) and logic faults on inputs
	// the plugin answered well before count: a fault on content marks that
	// content, never the plugin (see faultBook). 0 means 5.
	QuarantineAfter int
	// QuarantineDistinct is how many distinct inputs those faults must span.
	// 0 means 3 (at most QuarantineAfter).
	QuarantineDistinct int
	// QuarantineWindow: older faults do not count. 0 means 10 minutes.
	QuarantineWindow time.Duration
	// QuarantineFor is how long a quarantine lasts; then calls run again
	// (and more such faults quarantine it again). A reload also lifts it. 0
	// means 1 minute.
	QuarantineFor time.Duration
	// ContentFaultTTL is how long a fault marks its content: calls about it
	// fail at once with that fault, without running the plugin. 0 means 10
	// minutes (a fault that depends on the machine, such as the wall-clock
	// safety net, marks for at most a minute, and only the second in a row).
	ContentFaultTTL time.Duration
	// IdleTimeout: ReleaseIdle closes instances unused for this long, so an
	// idle plugin holds its compiled code and no linear memory. 0 means one
	// minute; negative keeps idle instances.
	IdleTimeout time.Duration
	// RecycleBytes: an instance whose memory grew past this is replaced after
	// its call. 0 means half of Limits.MemoryBytes.
	RecycleBytes uint32
	// Logger receives plugin logs and host events. nil discards them.
	Logger *slog.Logger
	// HostVersion is sent to describe.
	HostVersion string
	// LogLinesPerSecond rate-limits a plugin's log lines (stdout, stderr and
	// ron.log together); 0 means 20, with a burst of 100.
	LogLinesPerSecond int

	// noDeadlines runs modules as they are, without the fuel meter, so calls
	// cannot be interrupted. Only benchmarks set it, to measure what the
	// metering costs; a node never runs this way.
	noDeadlines bool
	// now is the clock of the fault accounting and of IdleTimeout; nil means time.Now.
	now func() time.Time
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	d := DefaultLimits()
	l := &c.Limits
	if l.ModuleBytes <= 0 {
		l.ModuleBytes = d.ModuleBytes
	}
	if l.MemoryBytes == 0 {
		l.MemoryBytes = d.MemoryBytes
	}
	if l.MemoryBytes < 1<<16 {
		l.MemoryBytes = 1 << 16
	}
	if l.InputBytes <= 0 {
		l.InputBytes = d.InputBytes
	}
	if l.OutputBytes <= 0 {
		l.OutputBytes = d.OutputBytes
	}
	if l.Describe <= 0 {
		l.Describe = d.Describe
	}
	if l.Validate <= 0 {
		l.Validate = d.Validate
	}
	if l.Split <= 0 {
		l.Split = d.Split
	}
	if l.Resolve <= 0 {
		l.Resolve = d.Resolve
	}
	for _, f := range []struct {
		dst *uint64
		def uint64
	}{
		{&l.DescribeFuel, d.DescribeFuel}, {&l.ValidateFuel, d.ValidateFuel}, {&l.SplitFuel, d.SplitFuel}, {&l.ResolveFuel, d.ResolveFuel},
	} {
		if *f.dst == 0 {
			*f.dst = f.def
		}
	}
	if c.PoolSize <= 0 {
		c.PoolSize = runtime.GOMAXPROCS(0)
	}
	if c.MemoEntries == 0 {
		c.MemoEntries = 4096
	}
	if c.QuarantineAfter <= 0 {
		c.QuarantineAfter = 5
	}
	if c.QuarantineDistinct <= 0 {
		c.QuarantineDistinct = 3
	}
	c.QuarantineDistinct = min(c.QuarantineDistinct, c.QuarantineAfter)
	if c.QuarantineWindow <= 0 {
		c.QuarantineWindow = 10 * time.Minute
	}
	if c.QuarantineFor <= 0 {
		c.QuarantineFor = time.Minute
	}
	if c.ContentFaultTTL <= 0 {
		c.ContentFaultTTL = 10 * time.Minute
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = time.Minute
	}
	if c.RecycleBytes == 0 {
		c.RecycleBytes = l.MemoryBytes / 2
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.HostVersion == "" {
		c.HostVersion = "dev"
	}
	if c.LogLinesPerSecond <= 0 {
		c.LogLinesPerSecond = 20
	}
	return c
}
