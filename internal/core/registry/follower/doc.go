// Package follower makes a node follow plugin registries (core/registry):
// it learns their heads, fetches and verifies their entries, judges each
// module a registry binds with the conformance suite, and records the
// outcome in the plugin catalog for the node to apply.
//
// Heads travel two ways. Gossip: every follower joins a go-libp2p-pubsub
// (gossipsub) topic per registry, "/ronhost/registry/1/<id hex>", whose
// validator checks a head fully (entries fetched and verified) before the
// message is delivered or forwarded, so a refused head stops at the first
// honest node. Pull: a follower provides the registry's ID on the DHT and
// serves its accepted head on "/ronhost/registry/head/1.0.0"; at start and
// every Config.Poll it asks the topic's peers and the ID's providers for
// theirs, which is how a node that was down catches up.
//
// Entry objects and modules are content objects fetched by CID through the
// node (Objects: the store, or peers, verified against the CID); accepted
// entry objects are kept pinned and provided, so every follower is a
// mirror. A module is activated only after the conformance suite passes on
// it (the verdict is kept per module hash in Dir/verdicts.json); a failing
// module is recorded as refused with the failed checks. A revoked module is
// recorded as revoked with the registry's reason, at once. The catalog's
// registry section (plugins.Catalog.SetRegistry) is what the node
// reconciles its router with (Activator), and what `ronhost plugin list`
// shows.
//
// Refusals (a rollback, an expired head, too few signatures, a broken chain,
// a fork) are logged and counted per reason (Status). A fork halts the
// registry: nothing more is accepted from it until the operator resets it.
//
// It imports core/registry, core/cid, conformance, plugins (the catalog)
// and go-libp2p; it must not import core/node, core/store or core/blob: the
// node hands it what it needs through small interfaces.
package follower
