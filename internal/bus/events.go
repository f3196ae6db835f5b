package bus

import "time"

// Event kinds: an event of kind K is published on ron.evt.K (docs/BUS.md).
const (
	KindObjectStored      = "object.stored"
	KindManifestPublished = "manifest.published"
	KindPluginInstalled   = "plugin.installed"
	KindPluginRemoved     = "plugin.removed"
	KindPluginFaulted     = "plugin.faulted"
	KindEpochSettled      = "epoch.settled"
	KindNameUpdated       = "name.updated"
)

// Every event carries Time (RFC 3339, UTC) and Node (the emitting node's
// id); Emit fills them in when they are zero.

// ObjectStored: the store committed an object.
type ObjectStored struct {
	Time   time.Time `json:"time"`
	Node   string    `json:"node"`
	CID    string    `json:"cid"`
	Size   int64     `json:"size"`
	Inline bool      `json:"inline"`
}

// ManifestPublished: a manifest passed its plugin's validation and is in the
// index.
type ManifestPublished struct {
	Time     time.Time `json:"time"`
	Node     string    `json:"node"`
	Address  string    `json:"address"`  // crab://<hash>.<tld>
	Manifest string    `json:"manifest"` // the manifest's CID
	TLD      string    `json:"tld"`
	Payload  string    `json:"payload"` // the payload's CID
	Size     int64     `json:"size"`    // the payload's size
}

// PluginInstalled: a TLD's plugin was installed or replaced.
type PluginInstalled struct {
	Time    time.Time `json:"time"`
	Node    string    `json:"node"`
	TLD     string    `json:"tld"`
	Plugin  string    `json:"plugin"` // the wasm's CID
	Version string    `json:"version"`
	Source  string    `json:"source"` // where it came from, e.g. "builtin" or a path
}

// PluginRemoved: a TLD no longer has a plugin on this node.
type PluginRemoved struct {
	Time time.Time `json:"time"`
	Node string    `json:"node"`
	TLD  string    `json:"tld"`
}

// PluginFaulted: a plugin trapped, ran out of time or memory, or misbehaved.
type PluginFaulted struct {
	Time    time.Time `json:"time"`
	Node    string    `json:"node"`
	TLD     string    `json:"tld"`
	Plugin  string    `json:"plugin"`  // the wasm's CID
	Entry   string    `json:"entry"`   // e.g. "ron_validate"
	Kind    string    `json:"kind"`    // trap, timeout, memory, output-too-large, bad-output, exit
	Message string    `json:"message"` // the host's description of the fault
}

// EpochSettled: the ledger settled an epoch.
type EpochSettled struct {
	Time      time.Time `json:"time"`
	Node      string    `json:"node"`
	Epoch     uint64    `json:"epoch"`     // the epoch number, as ledger.meter returns it
	Manifests int       `json:"manifests"` // manifests settled in this pass
	Amount    uint64    `json:"amount"`    // minor units paid out in this pass
	Failed    []string  `json:"failed"`    // CIDs of manifests left for a retry
}

// NameUpdated: a newer name record was accepted.
type NameUpdated struct {
	Time    time.Time `json:"time"`
	Node    string    `json:"node"`
	Name    string    `json:"name"`
	Address string    `json:"address"`
	Seq     uint64    `json:"seq"`
}

// stamper is an event type whose Time and Node Emit fills in.
type stamper interface {
	stamped(node string, now time.Time) any
}

func stampTime(t, now time.Time) time.Time {
	if t.IsZero() {
		t = now
	}
	return t.UTC().Round(0)
}

func stampNode(n, node string) string {
	if n == "" {
		return node
	}
	return n
}

func (e ObjectStored) stamped(node string, now time.Time) any {
	e.Time, e.Node = stampTime(e.Time, now), stampNode(e.Node, node)
	return e
}

func (e ManifestPublished) stamped(node string, now time.Time) any {
	e.Time, e.Node = stampTime(e.Time, now), stampNode(e.Node, node)
	return e
}

func (e PluginInstalled) stamped(node string, now time.Time) any {
	e.Time, e.Node = stampTime(e.Time, now), stampNode(e.Node, node)
	return e
}

func (e PluginRemoved) stamped(node string, now time.Time) any {
	e.Time, e.Node = stampTime(e.Time, now), stampNode(e.Node, node)
	return e
}

func (e PluginFaulted) stamped(node string, now time.Time) any {
	e.Time, e.Node = stampTime(e.Time, now), stampNode(e.Node, node)
	return e
}

func (e EpochSettled) stamped(node string, now time.Time) any {
	e.Time, e.Node = stampTime(e.Time, now), stampNode(e.Node, node)
	if e.Failed == nil {
		e.Failed = []string{}
	}
	return e
}

func (e NameUpdated) stamped(node string, now time.Time) any {
	e.Time, e.Node = stampTime(e.Time, now), stampNode(e.Node, node)
	return e
}
