// Package storesvc serves the store role on the bus: the typed handlers of
// the verbs bus/contract declares for it over a *store.Store. The object
// verbs (info, stat, pin, unpin, gc, scrub), and those for the roles of a
// macronode in other processes: small objects (read, put: at most
// contract.MaxObject bytes; bulk bytes go through the blob protocol),
// where this instance is on the overlay (locate), taking an object from a
// peer over the blob protocol (replicate), and holds against GC kept for
// another process by lease (put and replicate with a hold, release). A
// new object is reported (object.stored) and a pinned one queued for
// providing. core/node constructs it and puts its endpoints on the bus.
//
// It must not import core/node, core/gateway, plugins/... or cmd/...; only
// core/node imports it. Errors are the store's own: the bus answers them
// with the codes their sentinels carry (internal/codes).
package storesvc
