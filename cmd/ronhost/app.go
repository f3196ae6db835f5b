package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/config"
	"github.com/ronhost/ronhost/internal/core/node"
)

// The exit statuses of every command, chosen in one place (exitCode) from
// what the command returned, and listed in the help (exitHelp):
const (
	exitOK      = 0 // done (also --help)
	exitFailure = 1 // the command failed, or what it checked has problems (its output says which)
	exitUsage   = 2 // the command was called wrongly (flags, arguments)
)

// exitHelp documents the exit statuses and the error shape in the help.
const exitHelp = `Exit status: 0 done; 1 failed, or problems found (scrub's damage, failed
conformance cases: the output lists them); 2 called wrongly (flags, arguments).
Errors go to stderr: a line (and a plugin's field errors, one per line), or with
--json one JSON object {"code","message","retryable","errors"?}: the node's code
(docs/BUS.md), or "usage", "problems", "error" for the CLI's own.`

// The sentinels exitCode maps.
var (
	// errUsage marks an error in how a command was called: exit 2.
	errUsage = errors.New("usage")
	// errProblems marks a check that ran and found problems (its output
	// lists them): exit 1, the error says how many.
	errProblems = errors.New("problems found")
	// errReported marks a failure the command's output already reported in
	// full: exit 1 with nothing more on stderr.
	errReported = errors.New("failures reported in the output")
)

// usageError wraps a message as a usage error.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// problems says a check found problems (errProblems).
func problems(format string, args ...any) error {
	return &markedError{msg: fmt.Sprintf(format, args...), mark: errProblems}
}

// markedError is a message marked with a sentinel without repeating the
// sentinel's text.
type markedError struct {
	msg  string
	mark error
}

func (e *markedError) Error() string { return e.msg }
func (e *markedError) Unwrap() error { return e.mark }

// exitCode is the one mapping of a command's error to its exit status.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	default:
		return exitFailure
	}
}

// command is one CLI command. Commands with subcommands set sub instead of run.
type command struct {
	name    string
	args    string // argument synopsis, e.g. "FILE [--manifest M]"
	summary string
	run     func(ctx context.Context, a *app, args []string) error
	sub     []*command
}

// app holds what every command shares: streams, the environment, global flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	dataDir    string
	configFile string
	jsonOut    bool
	commands   []*command

	// builtins lists the plugins this binary embeds (tlds.Builtins by default).
	builtins func() []node.Builtin

	// hup receives SIGHUP when main caught it from its first instruction
	// (nil in tests: the commands that reload then catch it themselves).
	hup chan os.Signal
}

// reloads lists the commands that take SIGHUP as a reload.
var reloads = map[string]bool{"serve": true, "supervise": true}

// sighup returns the channel on which SIGHUP arrives for a command that
// reloads on it, and a function to call when done.
func (a *app) sighup() (<-chan os.Signal, func()) {
	if a.hup != nil {
		return a.hup, func() {}
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	return ch, func() { signal.Stop(ch) }
}

func newApp(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) *app {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, builtins: embeddedBuiltins}
	a.commands = a.commandTable()
	return a
}

// commandTable lists every top-level command. Keep it sorted by name.
func (a *app) commandTable() []*command {
	cmds := []*command{
		busCommand(),
		pluginCommand(),
		registryCommand(),
		serveCommand(),
		signReleaseCommand(),
		superviseCommand(),
		verifyReleaseCommand(),
		versionCommand(),
	}
	cmds = append(cmds, contentCommands()...)
	cmds = append(cmds, nodeCommands()...)
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	return cmds
}

// run parses global flags, dispatches and maps errors to exit codes.
func (a *app) run(ctx context.Context, argv []string) int {
	fs := flag.NewFlagSet("ronhost", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.globalFlags(fs)
	if err := fs.Parse(argv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.printUsage(a.stdout, nil, nil)
			return exitOK
		}
		a.printError(fmt.Errorf("%w: %v", errUsage, err))
		if !a.jsonOut {
			a.printUsage(a.stderr, nil, nil)
		}
		return exitUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		a.printUsage(a.stderr, nil, nil)
		return exitUsage
	}
	if rest[0] == "help" {
		rest = append(rest[1:], "--help")
		if len(rest) == 1 {
			a.printUsage(a.stdout, nil, nil)
			return exitOK
		}
	}
	err := a.dispatch(ctx, a.commands, nil, rest)
	code := exitCode(err)
	if code != exitOK && !errors.Is(err, errReported) {
		a.printError(err)
	}
	return code
}

// fieldError is one reason a plugin rejected a manifest (plugins.FieldError
// as the node's API sends it).
type fieldError struct {
	Path    string `json:"path"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// printError writes err on stderr: a line, and an error answer of the
// node (a *bus.Error) keeps its field errors (a plugin's rejection), one
// per line; with --json the whole error is one JSON object.
func (a *app) printError(err error) {
	var fields []fieldError
	out := struct {
		Code      codes.Code   `json:"code"`
		Message   string       `json:"message"`
		Retryable bool         `json:"retryable"`
		Errors    []fieldError `json:"errors,omitempty"`
	}{Code: "error", Message: err.Error()}
	var be *bus.Error
	switch {
	case errors.As(err, &be):
		if len(be.Errors) > 0 {
			_ = json.Unmarshal(be.Errors, &fields)
		}
		out.Code, out.Retryable, out.Errors = be.Code, be.Retryable, fields
		if err == error(be) {
			out.Message = be.Message
		}
	case errors.Is(err, errUsage):
		out.Code = "usage"
	case errors.Is(err, errProblems):
		out.Code = "problems"
	}
	if a.jsonOut {
		if json.NewEncoder(a.stderr).Encode(out) == nil {
			return
		}
	}
	fmt.Fprintf(a.stderr, "ronhost: %v\n", err)
	for _, f := range fields {
		fmt.Fprintf(a.stderr, "  %s: %s (%s)\n", f.Path, f.Message, f.Code)
	}
}

func (a *app) dispatch(ctx context.Context, cmds []*command, path []string, args []string) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "-help" {
		w := a.stdout
		if len(args) == 0 {
			w = a.stderr
		}
		if len(args) != 0 || !a.jsonOut { // with --json stderr has one JSON object: the error
			a.printUsage(w, path, cmds)
		}
		if len(args) == 0 {
			return usageError("%s needs a subcommand", strings.Join(path, " "))
		}
		return flag.ErrHelp
	}
	for _, c := range cmds {
		if c.name != args[0] {
			continue
		}
		p := append(append([]string{}, path...), c.name)
		if c.sub != nil {
			return a.dispatch(ctx, c.sub, p, args[1:])
		}
		if a.hup != nil && !(len(path) == 0 && reloads[c.name]) {
			signal.Stop(a.hup) // SIGHUP ends other commands, as by default
		}
		return c.run(ctx, a, args[1:])
	}
	return usageError("unknown command %q (see 'ronhost %s--help')", args[0], joinPath(path))
}

func joinPath(path []string) string {
	if len(path) == 0 {
		return ""
	}
	return strings.Join(path, " ") + " "
}

func (a *app) printUsage(w io.Writer, path []string, cmds []*command) {
	if cmds == nil {
		cmds = a.commands
	}
	if len(path) == 0 {
		fmt.Fprintln(w, "usage: ronhost [--data DIR] [--config FILE] [--json] COMMAND [ARGS]")
		fmt.Fprintln(w, "\nGlobal flags (also accepted after any command):")
		fmt.Fprintln(w, "  --data DIR     data directory (env RON_DATA; default $XDG_DATA_HOME/ronhost)")
		fmt.Fprintln(w, "  --config FILE  configuration file (env RON_CONFIG; default DATA/config.toml)")
		fmt.Fprintln(w, "  --json         print one JSON object on stdout")
	} else {
		fmt.Fprintf(w, "usage: ronhost %s SUBCOMMAND [ARGS]\n", strings.Join(path, " "))
	}
	fmt.Fprintln(w, "\nCommands:")
	width := 10
	for _, c := range cmds {
		width = max(width, len(c.name))
	}
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s %s\n", width, c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'ronhost %sCOMMAND --help' for a command's flags.\n", joinPath(path))
	if len(path) == 0 {
		fmt.Fprintf(w, "\n%s\n", exitHelp)
	}
}

// globalFlags registers --data and --json on fs, bound to the app.
func (a *app) globalFlags(fs *flag.FlagSet) {
	if fs.Lookup("data") == nil {
		fs.StringVar(&a.dataDir, "data", a.dataDir, "data directory (env RON_DATA)")
	}
	if fs.Lookup("config") == nil {
		fs.StringVar(&a.configFile, "config", a.configFile, "configuration file (env RON_CONFIG; default DATA/config.toml)")
	}
	if fs.Lookup("json") == nil {
		fs.BoolVar(&a.jsonOut, "json", a.jsonOut, "print one JSON object on stdout")
	}
}

// flags returns a FlagSet for a command that already knows the global flags
// and prints the command's help on --help.
func (a *app) flags(c *command, path string) *flag.FlagSet {
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	// The flag package writes a bad flag's error to the output before it
	// calls Usage: the error is the usage error the command returns (on
	// stderr, or one JSON object with --json), so the help is only for
	// --help.
	failed := false
	out := writerFunc(func(p []byte) (int, error) { failed = true; return len(p), nil })
	fs.SetOutput(out)
	a.globalFlags(fs)
	fs.Usage = func() {
		if failed {
			return
		}
		fmt.Fprintf(a.stdout, "usage: ronhost %s %s\n\n%s\n\nFlags:\n", path, c.args, c.summary)
		fs.SetOutput(a.stdout)
		fs.PrintDefaults()
		fs.SetOutput(out)
	}
	return fs
}

// writerFunc is a function as an io.Writer.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// parse parses args with fs, allowing flags after positional arguments, and
// checks the number of positional arguments is within [min, max] (max < 0: no limit).
func parse(fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %s", errUsage, err.Error())
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		return nil, usageError("%s: wrong number of arguments (see --help)", fs.Name())
	}
	return pos, nil
}

// config returns the configuration of the data directory dir: its
// configuration file (configPath) over the defaults, with the RON_*
// variables applied.
func (a *app) config(dir string) (config.Config, error) {
	path, err := a.configPath(dir)
	if err != nil {
		return config.Config{}, err
	}
	return config.ResolveFile(path, a.getenv)
}

// configPath returns the configuration file: --config, then RON_CONFIG, then
// DATA/config.toml.
func (a *app) configPath(dir string) (string, error) {
	p := a.configFile
	if p == "" {
		p = a.getenv("RON_CONFIG")
	}
	if p == "" {
		return config.Path(dir), nil
	}
	return filepath.Abs(p)
}

// data returns the data directory: --data, then RON_DATA, then the XDG data home.
func (a *app) data() (string, error) {
	if a.dataDir != "" {
		return filepath.Abs(a.dataDir)
	}
	if d := a.getenv("RON_DATA"); d != "" {
		return filepath.Abs(d)
	}
	if x := a.getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "ronhost"), nil
	}
	home := a.getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no data directory: set --data or RON_DATA: %w", err)
		}
		home = h
	}
	return filepath.Join(home, ".local", "share", "ronhost"), nil
}

// emit prints v as one JSON object with --json, or calls human otherwise.
func (a *app) emit(v any, human func(w io.Writer)) error {
	if a.jsonOut {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	human(a.stdout)
	return nil
}
