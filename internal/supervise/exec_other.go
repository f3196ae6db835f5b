//go:build !unix

package supervise

import (
	"errors"
	"fmt"
	"runtime"
)

// startExec needs process groups: only unix systems have them.
func startExec(Spec) (Proc, error) {
	return nil, fmt.Errorf("supervise: %w on %s", errors.ErrUnsupported, runtime.GOOS)
}
