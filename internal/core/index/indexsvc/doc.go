// Package indexsvc serves the index role on the bus: the typed handlers of
// the verbs bus/contract declares for it (publish, lookup, adopt, list,
// name_set, name_get) over a *index.Index, with a manifest.published or
// name.updated event for each write. core/node constructs it and puts its
// endpoints on the bus.
//
// Handlers return the index's errors as they are: the bus answers them with
// the codes their sentinels carry (internal/codes).
package indexsvc
