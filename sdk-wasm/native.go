//go:build !wasip1

package ron

import "os"

func hostLog(level Level, msg string) {
	os.Stderr.WriteString("ron " + level.String() + ": " + msg + "\n")
}

// prepareRuntime has nothing to prepare natively (see the wasip1 version).
func prepareRuntime() {}
