package pebbledb

import (
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Open creates dir durably if needed and opens the Pebble database in it on
// fs (nil: the real disk), logging to log (nil: discarded).
func Open(fs vfs.FS, dir string, log *slog.Logger) (*pebble.DB, error) {
	if fs == nil {
		fs = vfs.Default
	}
	if err := MakeDir(fs, dir); err != nil {
		return nil, err
	}
	return pebble.Open(dir, &pebble.Options{FS: fs, Logger: Logger(log)})
}

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
// level, its errors at error level; a fatal error is logged and panics, as
// Pebble expects.
func Logger(l *slog.Logger) pebble.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return logger{l}
}

type logger struct{ l *slog.Logger }

func (p logger) Infof(format string, args ...any) {
	p.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (p logger) Errorf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
}

func (p logger) Fatalf(format string, args ...any) {
	p.l.Error("pebble: fatal: " + fmt.Sprintf(format, args...))
	panic(fmt.Sprintf("pebble: "+format, args...))
}
