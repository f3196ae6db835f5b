// Package mailbox owns mailboxes: store-and-forward messages between
// mailboxes, end-to-end encrypted and signed, delivered at least once over
// any transport that can dial a "host:port" (a Dialer: core/tor's SOCKS5
// dialer in a node), with the inbox and outbox in a Pebble database of the
// mailbox's own.
//
// # Identity and addresses
//
// A mailbox's Identity is one 32-byte seed (LoadOrCreateIdentity keeps it
// in a 0600 file, created atomically). The ed25519 signing key is the
// seed's; the X25519 key is derived from the same seed as RFC 8032 derives
// the ed25519 scalar (SHA-512 of the seed, first half, clamped), the
// conversion age and libsodium use. Both public keys are published, so no
// one converts keys: Keys's text form is "rmb1." + lowercase unpadded
// base32 of (ed25519 public key || X25519 public key), and an Address is
// "rmb1.<keys>@<host>:<port>", host a v3 .onion in a node (127.0.0.1 in
// tests). ParseAddress accepts only that canonical form.
//
// # Envelopes: sign, then encrypt
//
// An Envelope (JSON; see Envelope) has a clear header: a message id (16
// random bytes in hex, chosen by the sender, stable across retries), the
// sender's address, the recipient's keys, created and expiry times (Unix
// seconds) and an ephemeral X25519 public key epk; and sealed, the
// ciphertext. The sender signs, with its ed25519 key,
//
//	"ronhost mailbox message v1\n" "id=" ID "\n" "from=" From "\n" "to=" To "\n"
//	"created=" Created "\n" "expires=" Expires "\n" "content-type=" CT "\n" body
//
// and the inner plaintext (version 1, the recipient's 64 key bytes, the
// 64-byte signature, the content type's length byte and bytes, the body)
// is sealed with ChaCha20-Poly1305 under HKDF-SHA256(ikm = X25519(esk,
// recipient X25519 key), salt = epk || recipient X25519 key, info =
// "ronhost mailbox seal v1") and a zero nonce (each key seals once), the
// header lines (and epk in hex) as associated data. Only the recipient
// opens it; opening (Identity.Open) checks the header names us
// (ErrNotForUs), that the seal opens under the header, so no header or
// ciphertext byte can change (ErrBadEnvelope), that the inner recipient is
// us (ErrNotForUs: a recipient cannot re-seal a message it received to
// someone else as if it came from the signer), and the sender's signature
// (ErrBadEnvelope). Bodies are at most Options.MaxBody (64 KiB by default)
// and envelopes at most about 96 KiB for that body cap (ErrTooLarge).
//
// # Protocol
//
// HTTP over the transport. POST /mailbox/v1/deliver with an envelope's
// JSON (Content-Type application/json) answers:
//
//   - 200 with a Receipt {"id", "to", "received", "sig"}: the recipient
//     signed "ronhost mailbox receipt v1\nid=<id>\nto=<keys>\nreceived=<unix
//     ns>\n". Delivery is idempotent on the message id: a redelivery (even
//     after the message was acknowledged and removed) returns the same
//     receipt and stores nothing, for as long as the envelope has not
//     expired (the receipt record is kept until the later of its expiry and
//     Retention after receipt, its expiry counting as at most MaxDedup, 90
//     days, after receipt: a stranger's far-off expiry does not keep a
//     record forever; a redelivery after the record is gone is stored
//     again, which at-least-once delivery allows).
//   - 400 for a bad envelope: malformed, tampered, bad signature, expired,
//     or not addressed to this mailbox's keys. {"error": "..."} explains.
//   - 409 when the id was received from another sender.
//   - 413 over the size caps; 507 when the inbox holds MaxInbox messages;
//     405 for other methods; 503 once the mailbox is closed.
//
// Handler serves it; the node serves it through Server on a listener the
// onion service forwards to. Server bounds what strangers can hold: reading
// a request (header and body), writing its answer and a kept-alive
// connection's idle wait each take at most Options.ServeTimeout (1 min),
// headers at most 16 KiB, and connections beyond Options.MaxConns (128)
// are closed as they arrive.
//
// # Storage and delivery
//
// Send seals the message and stores the envelope and its outbox entry in
// one synced Pebble batch before it returns the id, so nothing Send
// acknowledged is lost by a crash. The worker (Start) posts pending
// envelopes through an http.Client whose transport dials with the Dialer,
// retries failures (transport errors, 5xx, 507, a bad receipt) after
// RetryMin doubled per attempt up to RetryMax, with jitter, until the
// message expires (TTL after Send, 7 days by default), and marks the entry
// delivered, with a synced write, once the recipient's signed receipt
// verifies: at-least-once delivery, deduplicated by the recipient. 400 and
// 413 answers fail the message for good. Outbox shows each entry's status,
// attempts and last error.
//
// Received envelopes are stored sealed, as they arrived, with the time of
// receipt, and opened again on every read (Inbox, Get): the database alone
// does not reveal messages (the identity file does). Ack removes a message
// (ErrNotFound if it is not there). Sweep, which the worker runs every
// SweepEvery and at start, drops messages received Retention ago (7 days
// by default), forgets receipt records past their drop time, drops outbox
// entries finished Retention ago and expires pending entries past their
// expiry.
//
// Events (Options.OnEvent, synchronous): mailbox.received,
// mailbox.delivered, mailbox.acked, mailbox.failed, each with an Event.
//
// Database keys: i<id> inbox entry (received unix ns, envelope JSON);
// r<id> receipt record; o<id> outbox entry (JSON); e<id> outgoing envelope.
//
// This package imports no other ronhost package but internal/secretfile (the
// identity file) and internal/pebbledb; not core/tor: the node gives it a Dialer and serves its
// Handler.
package mailbox
