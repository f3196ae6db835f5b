package ron

import "fmt"

// Level is a log level of the host's log import.
type Level int32

// Log levels.
const (
	LevelDebug Level = 0
	LevelInfo  Level = 1
	LevelWarn  Level = 2
	LevelError Level = 3
)

func (l Level) String() string {
	switch l {
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	}
	return fmt.Sprintf("level(%d)", int32(l))
}

// Log writes msg to the plugin log at level. Inside the host it calls the
// `log` import (the host rate-limits and truncates); in a native build it
// writes "ron <level>: msg" to standard error. Logging never changes a
// result: the host does not memoize logs.
func Log(level Level, msg string) { hostLog(level, msg) }

// Debug logs at debug level.
func Debug(msg string) { Log(LevelDebug, msg) }

// Info logs at info level.
func Info(msg string) { Log(LevelInfo, msg) }

// Warn logs at warn level.
func Warn(msg string) { Log(LevelWarn, msg) }

// Error logs at error level.
func Error(msg string) { Log(LevelError, msg) }

// Logf formats and logs.
func Logf(level Level, format string, args ...any) { Log(level, fmt.Sprintf(format, args...)) }
