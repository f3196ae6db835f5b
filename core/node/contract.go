package node

import (
	"github.com/ronhost/ronhost/bus"
	"github.com/ronhost/ronhost/core/mailbox"
)

// BusContract is the one list of the roles on the bus: the verbs each
// serves, the verbs of the others it calls, and the events it emits. Every
// process's bus permissions derive from it (bus.Contract.Permissions, for
// the union of its roles), so a process that runs the gateway can call the
// index's lookup but cannot answer it, and one that runs the store cannot
// emit manifest.published. TestBusContract checks it against the services
// this package puts on the bus and against docs/BUS.md.
//
// The calls include those made for the operator's CLI through the ops
// endpoints (/v1/overlay, /v1/stat, /v1/pin forward to the dht role): a
// process whose roles do not make them answers those endpoints 403.
func BusContract() bus.Contract {
	return bus.Contract{
		{Role: "store",
			Serves: []string{"info", "stat", "pin", "unpin", "gc", "read", "put", "locate", "replicate", "release"},
			Emits:  []string{bus.KindObjectStored}},
		{Role: "index",
			Serves: []string{"publish", "lookup", "list", "name_set", "name_get"},
			// Manifests in the store role of another process; readiness.
			Calls: []string{"plugins.validate", "store.stat", "store.info", "store.read", "store.put"},
			Emits: []string{bus.KindManifestPublished, bus.KindNameUpdated}},
		{Role: "plugins",
			Serves: []string{"list", "validate", "resolve", "split"},
			// A manifest, and a plugin's reads of a payload.
			Calls: []string{"store.info", "store.read"},
			Emits: []string{bus.KindPluginInstalled, bus.KindPluginRemoved, bus.KindPluginFaulted}},
		{Role: "ledger",
			Serves: []string{"meter", "settle", "balances", "epochs"},
			Calls:  []string{"plugins.split"},
			Emits:  []string{bus.KindEpochSettled}},
		{Role: "dht",
			Serves: []string{"peers", "stat", "pin"}},
		{Role: "mailbox",
			// Only the public address: messages never cross the bus.
			Serves: []string{"address"},
			Emits:  []string{mailbox.EventReceived, mailbox.EventDelivered, mailbox.EventAcked, mailbox.EventFailed}},
		{Role: "gateway",
			Calls: []string{
				"index.lookup", "index.publish", "index.name_get", "index.name_set",
				"plugins.resolve",
				"ledger.meter", "ledger.balances", "ledger.epochs", "ledger.settle",
				// Readiness; handing a published payload to the store role
				// (held there until the publish ends); where the store role
				// holds an object the cache lacks.
				"store.stat", "store.replicate", "store.release", "store.locate",
				"dht.peers", "dht.stat", "dht.pin",
			},
			// Objects committed to its cache store.
			Emits: []string{bus.KindObjectStored}},
	}
}
