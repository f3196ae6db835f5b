// Package store is the node's verified content store: payload bytes in files,
// the index in Pebble, and a BLAKE3/Bao outboard tree per object so that any
// byte range can be proven against the object's CID.
//
// # Layout of a store directory
//
//	LOCK                    held (fcntl) while a Store is open; a second Open fails with ErrLocked
//	index/                  the Pebble database (object index, outboards, pins, references)
//	objects/<hh>/<64 hex>   payload files, named by their CID (hh = first two hex digits)
//	tmp/                    puts and ingests in progress; emptied at Open
//
// # Chunk groups
//
// The outboard tree is Bao's (lukechampine.com/blake3/bao) with group = 6:
// its leaves are chunk groups of 64 KiB (1 KiB BLAKE3 chunks << 6), the
// "64 KiB chunks" of DESIGN.md. The outboard costs 64 bytes per 64 KiB group,
// 1/1024 of the payload (1 MiB for 1 GiB), and is stored as one Pebble value;
// the root of the tree is the plain BLAKE3 hash, so the CID equals `b3sum`.
// (One value per object keeps reads simple; a put holds the outboard in
// memory, 1 MiB per GiB, and a store of payloads past tens of GiB each would
// want outboards split into pages.)
// 64 KiB groups let the hasher use all 16 SIMD lanes and keep outboards small
// while a range read only ever hashes at most 64 KiB it did not ask for at
// each end. Every read of a stored object verifies the groups it touches
// against the outboard and the CID before returning a byte (ErrCorrupt
// otherwise). Slice writes Bao
// slice encodings (bao.VerifySlice checks them against the CID alone).
//
// # Small objects
//
// Objects of at most Options.InlineMax bytes (default 4096, one page) are kept
// inline in Pebble and verified by hashing them whole on every read; larger
// objects live in files.
//
// # Crash safety
//
// A put streams into tmp/ while hashing and building the outboard (an ingest
// fills it with verified groups), fsyncs the file, and then, holding the store's commit lock: records an intent key
// (synced), renames the file into objects/, fsyncs the directory, and commits
// the object record, outboard, pins and references, usage counter, and the
// removal of the intent in one synced Pebble batch. Only then is the put
// acknowledged. A crash at any point leaves either no trace of the put in the
// index, or all of it; Open removes everything in tmp/ and, for every intent
// left without an object record, the file it names, so an interrupted put
// leaks no space. GC uses the same intents for the files it removes.
//
// # Outboards out, verified ingest in
//
// Outboard hands out an object's full outboard (the 8-byte length header and
// the parent nodes in pre-order) for a peer to fetch against. VerifyOutboard
// checks one received from elsewhere before anything relies on it: exact
// length for the stated size, the header, and every parent node hashing up
// to the CID (guts.ParentNode; the root with the ROOT flag). Leaves, the
// chunk groups' chaining values, need the bytes. The size itself is bound
// only by the last group's bytes: an outboard may claim a size that keeps
// the tree above the last leaf, and then no bytes ever verify against that
// leaf, so nothing wrong is stored but such an ingest never completes.
//
// An Ingest (NewIngest) receives an object from peers: it verifies the
// outboard, reserves the quota, and creates a file in tmp/ (objects up to
// InlineMax are gathered in memory). WriteGroups takes whole groups at any
// group-aligned offset, in any order, from several goroutines; it verifies
// every group against the outboard and the CID (bao.VerifyChunk) before
// writing a byte of it, so the file only ever holds verified bytes, and a
// call with a bad group writes nothing. Missing and Done say what is left.
// ReadRange on an Ingest blocks until each group it needs is there, so a
// response streams while a fetch fills the object; it returns the groups as
// written, without hashing them a second time (they were verified in memory
// just before they were written, during the same fetch). Writers start write-back
// of the written prefix as it grows, as Put's writer does. Commit, once every
// group is present, syncs the file and goes through Put's commit step (above):
// same guarantees. Abort, or Close of the Store, removes the file, gives the
// quota back and fails waiting readers and writers with ErrAborted.
//
// # Verifiable streams
//
// A slice (slice.go) is Bao's slice encoding with 64 KiB groups: the length
// header, then only the parent nodes and groups that prove a byte range, in
// pre-order (for the whole object, Bao's combined encoding). WriteSlice
// streams one from an outboard and verified group bytes, SliceLen is its
// length, and DecodeSlice checks one against the CID alone, writing a
// group's bytes only once it verified and naming the group that did not
// (*SliceError, an ErrCorrupt). The gateway serves them; `ronhost get
// --gateway` reads them (docs/PROTOCOL.md).
//
// # Pins, references and GC
//
// A pin makes an object a GC root. A put may record references from the new
// object to others (a manifest references its payload), so pinning a manifest
// keeps its payload. A reference is only committed to an object that is
// stored at that instant (else ErrMissingRef, and nothing is stored), so a
// committed reference never names an object that is gone.
//
// A hold is a GC root for an operation in flight: PutOptions.Hold holds the
// new object from the instant of its commit (under the commit lock, so no GC
// runs between them) and Store.Hold an object already stored, each until its
// release or its expiry. A publish holds its payload from its store until the
// manifest's pinned reference to it is committed; a fetch holds what it
// commits until its waiters have pinned it. Holds live in memory only and
// touch nothing on disk: a crash ends them with the operations they served,
// which were never acknowledged, and their objects are garbage then. GC
// deletes every object not reachable from a pin or a hold in force.
//
// Scrub checks every reference and every pin against the object records, in
// one snapshot of the index: a reference or pin naming an object that is not
// stored is damage (DamageRef, DamagePin).
//
// # Quota
//
// Options.QuotaBytes bounds payload plus outboard bytes. A put reserves its
// size up front when the size is known (and as it streams otherwise) and fails
// with ErrQuotaExceeded, leaving nothing behind, when it would not fit.
// Deduplicated puts cost nothing.
//
// # A full disk
//
// Options.MinFree is the free space puts leave on the filesystem: a put
// (sized, streamed every 8 MiB, or an ingest) that would leave less fails
// with ErrDiskFull before writing, and like an over-quota put still
// succeeds when the object is already stored. ENOSPC from a payload file
// is ErrDiskFull too (the put stops reading its input), and an ingest's
// preallocation meeting it refuses the ingest up front. The index goes
// through internal/pebbledb: its writes are checked the same way, GC and
// unpin may use three quarters of the reserve, and a store opened on a full
// disk is read-only (reads work) until space returns (Recover, or the next
// put). A commit refused after its file was renamed into objects/ removes
// the file and its intent.
//
// This package imports core/cid and internal/pebbledb, no other ronhost package. It knows
// nothing of manifests beyond the references its callers record.
package store
