// Package echo may import leaf, its own subtree and the standard library.
package echo

import (
	_ "example.com/ext" // forbidden: anything but leaf
	_ "example.com/violations/leaf"
	_ "example.com/violations/plugin/echo/internal/codec"
)
