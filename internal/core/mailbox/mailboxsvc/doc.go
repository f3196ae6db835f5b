// Package mailboxsvc serves the mailbox role: on the bus, the one verb
// bus/contract declares for it (address: the mailbox's public address and
// tor's state); for the local operator's CLI, the operations on messages
// (Ops: send, inbox, outbox, ack, served under /v1/mailbox by the process
// that runs the mailbox). Messages never cross the bus, so their plaintext
// stays in that process. core/node constructs it, puts its endpoints on the
// bus and mounts its operations behind a token.
//
// It must not import core/node, core/gateway, plugins/... or cmd/...; only
// core/node imports it. Errors are the mailbox's own: the bus and the HTTP
// API answer them with the codes their sentinels carry (internal/codes).
package mailboxsvc
