// Package leaf must import no package of the module.
package leaf

import (
	_ "fmt"

	_ "example.com/violations/other" // forbidden: any ronhost package
)
