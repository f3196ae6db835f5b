// Package app is the top: it may import anything.
package app

import (
	_ "example.com/violations/store"
	_ "example.com/violations/web"
	_ "example.com/violations/wiring"
)
