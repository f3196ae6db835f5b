// Package dhtsvc serves the dht role on the bus: the typed handlers of the
// verbs bus/contract declares for it (peers: this node on the overlay;
// stat: whether the store holds an object and which peers provide it;
// pin: pin here and ask other peers, nearest to the object's DHT key
// first, to hold replicas over the blob protocol) over the store, the
// overlay and the blob service of the process that runs it (the dht role
// lives with a store). core/node constructs it and puts its endpoints on
// the bus.
//
// It must not import core/node, core/gateway, plugins/... or cmd/...; only
// core/node imports it. Errors are the store's and the overlay's own, or a
// *bus.Error: the bus answers them with the codes their sentinels carry.
package dhtsvc
