// Package ledgersvc serves the ledger role on the bus: the typed handlers
// of the verbs bus/contract declares for it (meter, settle, balances,
// epochs) over a *ledger.Ledger, and the settlement itself (Settle: seal
// the open epoch, then settle every sealed epoch not yet settled, each
// manifest through the plugins role's split verb), one at a time, with an
// epoch.settled event for each. core/node constructs it and puts its
// endpoints on the bus; the node's settle loop calls Settle.
//
// Handlers return the ledger's errors as they are: the bus answers them
// with the codes their sentinels carry (internal/codes).
package ledgersvc
