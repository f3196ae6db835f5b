// Package store may import leaf only.
package store

import (
	_ "example.com/violations/leaf"
	_ "example.com/violations/wiring" // forbidden twice: by store's row and by wiring's importers rule
)
