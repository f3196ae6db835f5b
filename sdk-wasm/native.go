//go:build !wasip1

package ron

import "os"

func hostLog(level Level, msg string) {
	os.Stderr.WriteString("ron " + level.String() + ": " + msg + "\n")
}
