// Package ledger is the payout ledger: it meters priced accesses per epoch
// and manifest, and settles sealed epochs into payees' balances, exactly
// once, in a Pebble database of its own (DATA/ledger, owned by the ledger
// role, which in a macronode may run in another process than the store).
//
// # Epochs
//
// Epochs are numbered from 1; exactly one, the open epoch, is metering. Meter
// adds an access to it; Seal closes it and opens the next (its number is
// persisted), after which the sealed epoch's usage never changes and Settle
// may pay it.
//
// # Metering
//
// Usage is aggregated per (epoch, manifest, server): requests, bytes and the
// sum of the accesses' prices; a manifest's amount is the sum over its
// servers. Money is integer minor units, at most MaxMoney (2^53-1) anywhere,
// and nothing ever wraps: Meter refuses with ErrOverflow an access whose
// price, or the manifest's or epoch's new amount, would pass it, and a
// settlement that would take a balance past it fails for that manifest.
//
// Meter appends each access to Pebble's write-ahead log as one record (the
// server's new aggregate) without an fsync (pebble.NoSync); the open epoch's
// aggregates are mirrored in memory (one entry per manifest and server) so
// Meter never reads the database. Pebble holds such records in its log
// buffer until the next sync: the ledger syncs within Options.SyncEvery
// (default 1 s) of an access, and at every Seal, Settle and Close. A crash of
// the process or a power cut may therefore lose the accesses metered since
// the last sync, but never part of one, and never counts one twice: the log
// replays a prefix of whole records. A sealed epoch's usage is durable.
//
// # Settlement
//
// Settle walks a sealed epoch's manifests in CID order. For each one not yet
// settled, it calls the Splitter (the node adapts the TLD plugin's ron_split
// to it) with the manifest's amount and usage, checks that the allocations
// conserve the amount exactly (sum == amount, no empty payee, no overflow),
// and writes in ONE synced batch the manifest's allocations record (which
// is also its settled marker), the credits to the payees' balances and the
// epoch's summary. A crash therefore leaves each manifest settled or not,
// never half, and settling again pays only what was not yet paid. A
// manifest with amount 0 is marked settled without calling the splitter. A
// failed split (plugin fault, unknown TLD, a split that does not conserve)
// leaves that manifest unsettled, reported in Settlement.Failed, and the
// others proceed; a later Settle retries it.
//
// # Invariant
//
// Every payee's balance is the sum of its allocations over all settled
// manifests, and each settled manifest's allocations sum to its metered
// amount; Audit checks both (and the epochs' summaries) on a snapshot.
//
// # Database keys
//
// See encoding.go: v (format), c (open epoch), u<epoch><manifest><server>
// (usage), e<epoch> (sealed epoch summary), a<epoch><manifest>
// (allocations, the settled marker), b<payee> (balance).
//
// This package imports core/cid and internal/pebbledb, no other ronhost package. In
// particular it does not import plugins: the node adapts the plugin router
// to Splitter.
package ledger
