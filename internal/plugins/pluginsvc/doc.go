// Package pluginsvc serves the plugins role on the bus: the typed handlers
// of the verbs bus/contract declares for it (list, validate, resolve,
// split) over a *plugins.Router, reading manifests and payloads from the
// store (checked against their CIDs), and mapping the plugin host's errors
// to the node's codes (a rejection with its field errors, a fault, content
// marked faulty, an unknown or revoked TLD), with a plugin.faulted event
// for each fault. internal/core/node constructs it and puts its endpoints on the
// bus; package plugins itself knows nothing of the bus.
package pluginsvc
