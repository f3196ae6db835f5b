package supervise

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// ErrConfig marks a configuration Parse or Validate refused.
var ErrConfig = errors.New("supervise: bad config")

// Config is a supervise file: the policy and the processes.
type Config struct {
	Supervise Settings  `toml:"supervise"`
	Process   []Process `toml:"process"`
}

// Settings is the [supervise] table: one policy for every process.
type Settings struct {
	// ReadyTimeout is how long a started process has to become ready before
	// it is stopped and counted as a failed start.
	ReadyTimeout Duration `toml:"ready_timeout"`
	// StopTimeout is how long a process has between SIGTERM and SIGKILL.
	StopTimeout Duration `toml:"stop_timeout"`
	// BackoffMin and BackoffMax bound the wait before a restart.
	BackoffMin Duration `toml:"backoff_min"`
	BackoffMax Duration `toml:"backoff_max"`
	// RestartCap is how many restarts a process gets within RestartWindow:
	// the exit after that many is the last (the process is given up on).
	// 0: a process is never restarted; -1: no cap.
	RestartCap    int      `toml:"restart_cap"`
	RestartWindow Duration `toml:"restart_window"`
}

// Process is one [[process]] table.
type Process struct {
	// Name identifies the process in `after`, in logs and as the prefix of
	// its output lines: letters, digits, '.', '_' and '-'.
	Name string `toml:"name"`
	// Command is the program to run; "" runs the supervisor's own binary
	// (ronhost), so Args are ronhost's arguments.
	Command string   `toml:"command"`
	Args    []string `toml:"args"`
	// Env is added to (and overrides) the supervisor's environment.
	Env map[string]string `toml:"env"`
	// Dir is the working directory ("" = the supervisor's).
	Dir string `toml:"dir"`
	// Ready is an http(s) URL polled until it answers 200; "" means ready
	// as soon as the process started.
	Ready string `toml:"ready"`
	// After names the processes that must be ready before this one starts.
	After []string `toml:"after"`
	// Optional: giving up on this process does not stop the supervisor.
	// Processes are required by default.
	Optional bool `toml:"optional"`
}

// Duration is a time.Duration written as text: 500ms, 30s, 10m.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%q is not a duration (e.g. 500ms, 30s, 10m)", b)
	}
	*d = Duration(v)
	return nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// DefaultSettings is the policy a file's [supervise] table overrides.
func DefaultSettings() Settings {
	return Settings{
		ReadyTimeout:  Duration(60 * time.Second),
		StopTimeout:   Duration(10 * time.Second),
		BackoffMin:    Duration(500 * time.Millisecond),
		BackoffMax:    Duration(30 * time.Second),
		RestartCap:    5,
		RestartWindow: Duration(10 * time.Minute),
	}
}

// Parse decodes a supervise file strictly (unknown keys are errors) over
// DefaultSettings and validates it.
func Parse(b []byte) (Config, error) {
	c := Config{Supervise: DefaultSettings()}
	dec := toml.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) {
			return Config{}, fmt.Errorf("%w: %s", ErrConfig, strings.TrimSpace(sm.String()))
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return Config{}, fmt.Errorf("%w: line %d column %d: %s", ErrConfig, row, col, de.Error())
		}
		return Config{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks the policy's ranges and the processes: names valid and
// unique, `after` naming known processes, no dependency cycle.
func (c Config) Validate() error {
	s := c.Supervise
	switch {
	case s.ReadyTimeout <= 0:
		return fmt.Errorf("%w: ready_timeout must be positive", ErrConfig)
	case s.StopTimeout <= 0:
		return fmt.Errorf("%w: stop_timeout must be positive", ErrConfig)
	case s.BackoffMin <= 0:
		return fmt.Errorf("%w: backoff_min must be positive", ErrConfig)
	case s.BackoffMax < s.BackoffMin:
		return fmt.Errorf("%w: backoff_max %v is below backoff_min %v", ErrConfig, s.BackoffMax.D(), s.BackoffMin.D())
	case s.RestartCap < -1:
		return fmt.Errorf("%w: restart_cap %d: use -1 for no cap", ErrConfig, s.RestartCap)
	case s.RestartCap > 0 && s.RestartWindow <= 0:
		return fmt.Errorf("%w: restart_window must be positive", ErrConfig)
	}
	if len(c.Process) == 0 {
		return fmt.Errorf("%w: no [[process]]", ErrConfig)
	}
	seen := make(map[string]bool, len(c.Process))
	for i, p := range c.Process {
		if !validName(p.Name) {
			return fmt.Errorf("%w: process %d: name %q: use letters, digits, '.', '_' and '-'", ErrConfig, i+1, p.Name)
		}
		if seen[p.Name] {
			return fmt.Errorf("%w: two processes are named %q", ErrConfig, p.Name)
		}
		seen[p.Name] = true
		if p.Command == "" && len(p.Args) == 0 {
			return fmt.Errorf("%w: process %q: no command and no args (ronhost needs a command, e.g. serve)", ErrConfig, p.Name)
		}
		for k := range p.Env {
			if k == "" || strings.ContainsAny(k, "=\x00") {
				return fmt.Errorf("%w: process %q: env name %q", ErrConfig, p.Name, k)
			}
		}
		if p.Ready != "" {
			u, err := url.Parse(p.Ready)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("%w: process %q: ready %q is not an http(s) URL", ErrConfig, p.Name, p.Ready)
			}
		}
	}
	for _, p := range c.Process {
		for _, a := range p.After {
			switch {
			case a == p.Name:
				return fmt.Errorf("%w: process %q is after itself", ErrConfig, p.Name)
			case !seen[a]:
				return fmt.Errorf("%w: process %q is after %q, which is not a process", ErrConfig, p.Name, a)
			}
		}
	}
	if _, err := c.order(); err != nil {
		return err
	}
	return nil
}

// Order returns the process names in start order: each after every process
// it depends on, otherwise in file order. The stop order is its reverse.
// It returns nil for a configuration Validate refuses.
func (c Config) Order() []string {
	if c.Validate() != nil {
		return nil
	}
	idx, _ := c.order()
	names := make([]string, len(idx))
	for i, j := range idx {
		names[i] = c.Process[j].Name
	}
	return names
}

// order sorts the processes topologically (Kahn, smallest file index first)
// and reports a cycle by its members.
func (c Config) order() ([]int, error) {
	index := make(map[string]int, len(c.Process))
	for i, p := range c.Process {
		index[p.Name] = i
	}
	pending := make([]int, len(c.Process)) // unmet dependencies
	dependents := make([][]int, len(c.Process))
	for i, p := range c.Process {
		for _, a := range uniq(p.After) {
			j, ok := index[a]
			if !ok {
				return nil, fmt.Errorf("%w: process %q is after %q, which is not a process", ErrConfig, p.Name, a)
			}
			pending[i]++
			dependents[j] = append(dependents[j], i)
		}
	}
	done := make([]bool, len(c.Process))
	out := make([]int, 0, len(c.Process))
	for len(out) < len(c.Process) {
		next := -1
		for i := range c.Process {
			if !done[i] && pending[i] == 0 {
				next = i
				break
			}
		}
		if next < 0 {
			return nil, fmt.Errorf("%w: dependency cycle: %s", ErrConfig, c.cycle(index, done))
		}
		done[next] = true
		out = append(out, next)
		for _, d := range dependents[next] {
			pending[d]--
		}
	}
	return out, nil
}

// cycle walks from a process left unsorted to one of its unsorted
// dependencies (every such process has one) until a process repeats, and
// returns that loop as "a after b after ... after a".
func (c Config) cycle(index map[string]int, done []bool) string {
	at := -1
	for i := range c.Process {
		if !done[i] {
			at = i
			break
		}
	}
	seen := map[int]int{}
	var path []int
	for {
		if k, ok := seen[at]; ok {
			var names []string
			for _, i := range append(path[k:], at) {
				names = append(names, c.Process[i].Name)
			}
			return strings.Join(names, " after ")
		}
		seen[at] = len(path)
		path = append(path, at)
		for _, a := range c.Process[at].After {
			if j := index[a]; !done[j] {
				at = j
				break
			}
		}
	}
}

func uniq(s []string) []string {
	seen := make(map[string]bool, len(s))
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}
