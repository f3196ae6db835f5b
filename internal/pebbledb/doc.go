// Package pebbledb opens the roles' Pebble databases the same way: the
// directory created durably (every directory whose entries changed is
// synced, so a power cut cannot take the database away once Open returned)
// and Pebble's log sent to slog.
//
// It imports nothing of ronhost's; the store, the index, the ledger and the
// mailbox use it.
package pebbledb
