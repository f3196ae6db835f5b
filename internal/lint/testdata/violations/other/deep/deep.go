// Package deep is under other's row.
package deep
