// Package pebbledb opens the roles' Pebble databases the same way and makes
// a full disk an ordinary condition for them.
//
// Open creates the directory durably (every directory whose entries changed
// is synced, so a power cut cannot take the database away once Open
// returned) and sends Pebble's log to slog. The DB it returns mirrors
// *pebble.DB's methods with these differences:
//
//   - Writes (Batch.Commit, Set, Delete, LogData) are refused with
//     ErrDiskFull, before Pebble sees them, when they would leave less than
//     Options.MinFree free on the filesystem (Space): Pebble treats a failed
//     log or MANIFEST write as fatal, so the reserve keeps room for its log,
//     flushes and compactions. Writes that free space (Delete,
//     Batch.CommitFreeing) may use three quarters of the reserve.
//   - A database whose disk is full when it opens is opened read-only: reads
//     work and the first write after space returns (or Recover) reopens it
//     for writing, once no read holds it.
//   - Pebble's Fatalf never panics: it marks the open instance failed.
//     Every later write returns ErrFailed at once (a commit stuck behind the
//     failure in Pebble's pipeline is left there, so no caller hangs), reads
//     go on (they may see the failed batch, which Pebble applied in memory
//     before its log write failed, until the restart drops it), and Close
//     returns without waiting for Pebble. Only a restart
//     (which replays the log) makes such a database writable again; the
//     reserve exists so that this needs something other than the node to
//     fill the disk in the instant between the check and the write.
//     Below twice the reserve, commits go into Pebble one at a time, each
//     on a goroutine of its own that is left behind if it never returns: a
//     failed log write then fails one commit, and no other commit reaches
//     the code where Pebble panics with its mutex released (a log rotation
//     after a failed write), which no recover can contain. Above it,
//     commits run on the caller's goroutine, concurrently, as in Pebble
//     (an fstatfs is their only cost; see BenchmarkSet): something would
//     have to take more than the reserve between two writes for them to
//     meet ENOSPC. An unsynced write (pebble.NoSync) whose log write fails
//     later, in Pebble's flusher, is not seen until the next synced one.
//
// NoSpace marks the filesystem's ENOSPC as ErrDiskFull for the payload
// files the store writes beside its database.
//
// It imports nothing of ronhost's; the store, the index (and its names
// registry), the ledger and the mailbox use it.
package pebbledb
