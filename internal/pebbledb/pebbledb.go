package pebbledb

import (
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// MakeDir creates dir and the missing directories above it, syncing each
// directory whose entries it changed.
func MakeDir(fs vfs.FS, dir string) error {
	var created []string
	for d := dir; ; {
		if _, err := fs.Stat(d); err == nil {
			break
		}
		created = append(created, d)
		parent := fs.PathDir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if len(created) == 0 {
		return nil
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for _, d := range created {
		parent := fs.PathDir(d)
		if parent == d {
			continue
		}
		f, err := fs.OpenDir(parent)
		if err != nil {
			return fmt.Errorf("opening %s: %w", parent, err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("syncing %s: %w", parent, err)
		}
	}
	return nil
}

// Logger sends Pebble's log lines to l (nil: discarded): its info at debug
// level, its errors at error level. Its Fatalf logs and panics: it is for
// tools that open Pebble directly; a DB's instances use their own, which
// never panics.
func Logger(l *slog.Logger) pebble.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return logger{l: l}
}

type logger struct {
	l  *slog.Logger
	in *instance // nil: Fatalf panics
}

// instanceLogger is the logger of one open instance: Fatalf marks the
// instance failed and returns. Pebble calls Fatalf where it cannot go on
// writing (a commit whose log write or sync failed, a MANIFEST write that
// failed) and, where it has an error in hand, returns it after the call;
// the DB refuses every write of a failed instance from then on, never
// closes it, and serves reads from what it holds.
func instanceLogger(l *slog.Logger, in *instance) pebble.Logger {
	return logger{l: l, in: in}
}

func (p logger) Infof(format string, args ...any) {
	p.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (p logger) Errorf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
}

func (p logger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p.in == nil {
		p.l.Error("pebble: fatal: " + msg)
		panic("pebble: " + msg)
	}
	var err error = fmt.Errorf("pebble: %s", msg)
	for _, a := range args {
		if e, ok := a.(error); ok {
			err = fmt.Errorf("pebble: %s: %w", msg, e)
			break
		}
	}
	p.in.fail(err)
	p.l.Error("pebble: fatal write error: the database refuses writes until the node restarts", "err", msg)
}
