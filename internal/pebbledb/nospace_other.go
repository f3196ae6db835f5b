//go:build !unix

package pebbledb

import "github.com/cockroachdb/pebble/v2/vfs"

func isNoSpace(err error) bool { return vfs.IsNoSpaceError(err) }
