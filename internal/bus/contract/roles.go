package contract

import (
	"github.com/ronhost/ronhost/internal/bus"
)

// Verbs is every verb of the contract, by role in the order of docs/BUS.md.
func Verbs() []bus.Spec {
	return []bus.Spec{
		StoreInfo.Spec, StoreStat.Spec, StorePin.Spec, StoreUnpin.Spec, StoreGC.Spec, StoreScrub.Spec,
		StoreRead.Spec, StorePut.Spec, StoreLocate.Spec, StoreReplicate.Spec, StoreRelease.Spec,
		IndexPublish.Spec, IndexLookup.Spec, IndexAdopt.Spec, IndexList.Spec, IndexNameSet.Spec, IndexNameGet.Spec,
		PluginsList.Spec, PluginsValidate.Spec, PluginsResolve.Spec, PluginsSplit.Spec,
		LedgerMeter.Spec, LedgerSettle.Spec, LedgerBalances.Spec, LedgerEpochs.Spec,
		DHTPeers.Spec, DHTStat.Spec, DHTPin.Spec,
		MailboxAddress.Spec,
	}
}

// Lookup returns the declaration of role's verb.
func Lookup(role, verb string) (bus.Spec, bool) {
	for _, s := range Verbs() {
		if s.Role == role && s.Verb == verb {
			return s, true
		}
	}
	return bus.Spec{}, false
}

// The events of the mailbox role (internal/core/mailbox's kinds; internal/core/node checks
// that they agree).
const (
	KindMailboxReceived  = "mailbox.received"
	KindMailboxDelivered = "mailbox.delivered"
	KindMailboxAcked     = "mailbox.acked"
	KindMailboxFailed    = "mailbox.failed"
)

// calls are the verbs of other roles each role calls; emits the events it
// emits.
func calls() map[string][]bus.Spec {
	return map[string][]bus.Spec{
		// Manifests in the store role of another process; readiness.
		Index: {PluginsValidate.Spec, StoreStat.Spec, StoreInfo.Spec, StoreRead.Spec, StorePut.Spec},
		// A manifest, and a plugin's reads of a payload.
		Plugins: {StoreInfo.Spec, StoreRead.Spec},
		Ledger:  {PluginsSplit.Spec},
		Gateway: {
			IndexLookup.Spec, IndexAdopt.Spec, IndexPublish.Spec, IndexNameGet.Spec, IndexNameSet.Spec,
			PluginsResolve.Spec,
			LedgerMeter.Spec, LedgerBalances.Spec, LedgerEpochs.Spec, LedgerSettle.Spec,
			// Readiness; handing a published payload to the store role
			// (held there until the publish ends); where the store role
			// holds an object the cache lacks. The operator's CLI through
			// the ops endpoints (/v1/overlay, /v1/stat, /v1/pin).
			StoreStat.Spec, StoreReplicate.Spec, StoreRelease.Spec, StoreLocate.Spec,
			DHTPeers.Spec, DHTStat.Spec, DHTPin.Spec,
		},
	}
}

func emits() map[string][]string {
	return map[string][]string{
		Store:   {bus.KindObjectStored},
		Index:   {bus.KindManifestPublished, bus.KindNameUpdated},
		Plugins: {bus.KindPluginInstalled, bus.KindPluginRemoved, bus.KindPluginFaulted},
		Ledger:  {bus.KindEpochSettled},
		Mailbox: {KindMailboxReceived, KindMailboxDelivered, KindMailboxAcked, KindMailboxFailed},
		// Objects committed to its cache store.
		Gateway: {bus.KindObjectStored},
	}
}

// Roles is the one list of the roles on the bus, derived from the
// declarations: the verbs each serves, the verbs of the others it calls,
// and the events it emits. Every process's bus permissions derive from it
// (bus.Contract.Permissions, for the union of its roles).
func Roles() bus.Contract {
	order := []string{Store, Index, Plugins, Ledger, DHT, Mailbox, Gateway}
	serves := map[string][]string{}
	for _, s := range Verbs() {
		serves[s.Role] = append(serves[s.Role], s.Verb)
	}
	c := calls()
	e := emits()
	out := make(bus.Contract, 0, len(order))
	for _, role := range order {
		r := bus.RoleAccess{Role: role, Serves: serves[role], Emits: e[role]}
		for _, s := range c[role] {
			r.Calls = append(r.Calls, s.String())
		}
		out = append(out, r)
	}
	return out
}
