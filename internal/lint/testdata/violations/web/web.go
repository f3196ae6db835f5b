// Package web must not import wiring or the ext module.
package web

import (
	_ "net/http"

	_ "example.com/ext/sub"           // forbidden: example.com/ext/...
	_ "example.com/violations/wiring" // forbidden, and by wiring's importers rule
)
