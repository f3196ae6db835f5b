//go:build !linux

package pebbledb

import "os"

// fstatfs is Linux's only: elsewhere Space asks the vfs (statfs by path).
func fstatfs(*os.File) (int64, bool) { return 0, false }
