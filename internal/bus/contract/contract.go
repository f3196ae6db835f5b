package contract

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/core/cid"
)

// Empty is a request or reply with nothing to say: {}.
type Empty struct{}

// The roles.
const (
	Store   = "store"
	Index   = "index"
	Plugins = "plugins"
	Ledger  = "ledger"
	DHT     = "dht"
	Mailbox = "mailbox"
	Gateway = "gateway" // calls only
)

// CID names an object.
type CID struct {
	CID cid.CID `json:"cid"`
}

// The store role's verbs. The object verbs are content-addressed: a repeat
// does nothing new.
var (
	StoreInfo  = bus.Declare[CID, ObjectInfo](Store, "info", true)
	StoreStat  = bus.Declare[Empty, StoreUsage](Store, "stat", true)
	StorePin   = bus.Declare[CID, Empty](Store, "pin", true)
	StoreUnpin = bus.Declare[CID, Empty](Store, "unpin", true)
	StoreGC    = bus.Declare[Empty, GCResult](Store, "gc", false) // long, heavy: not run again alongside
	// StoreScrub re-verifies every stored byte, reference and pin (the
	// CLI's scrub while a node holds the store).
	StoreScrub  = bus.Declare[ScrubReq, ScrubReport](Store, "scrub", false) // long, heavy: not run again alongside
	StoreRead   = bus.Declare[ReadReq, ReadReply](Store, "read", true)
	StorePut    = bus.Declare[PutReq, PutReply](Store, "put", true)
	StoreLocate = bus.Declare[CID, PeerAddr](Store, "locate", true)
	// StoreReplicate takes an object from a peer over the blob protocol.
	StoreReplicate = bus.Declare[ReplicateReq, ReplicateReply](Store, "replicate", true)
	StoreRelease   = bus.Declare[ReleaseReq, Empty](Store, "release", false)
)

// ObjectInfo is a stored object.
type ObjectInfo struct {
	CID    cid.CID `json:"cid"`
	Size   int64   `json:"size"`
	Inline bool    `json:"inline"`
	Pinned bool    `json:"pinned"`
}

// StoreUsage is the store's usage.
type StoreUsage struct {
	Objects       int64  `json:"objects"`
	PayloadBytes  int64  `json:"payload_bytes"`
	OutboardBytes int64  `json:"outboard_bytes"`
	Pinned        int64  `json:"pinned"`
	QuotaBytes    int64  `json:"quota_bytes"` // 0: none
	IndexBytes    uint64 `json:"index_bytes"`
}

// GCResult is what a GC freed.
type GCResult struct {
	Objects int   `json:"objects"`
	Bytes   int64 `json:"bytes"`
}

// ScrubReq asks for a scrub; Repair rebuilds damaged outboards, removes
// orphan files and corrects the usage counters.
type ScrubReq struct {
	Repair bool `json:"repair,omitempty"`
}

// ScrubReport is what a scrub found: the store's own result
// (store.ScrubReport is this type), sent as it is.
type ScrubReport struct {
	Objects int64    `json:"objects"`
	Bytes   int64    `json:"bytes"`
	Damage  []Damage `json:"damage"`
}

// Damage kinds a scrub reports.
const (
	DamageMissing    = "missing"    // the object's file is gone
	DamageSize       = "size"       // the file's length differs from the index
	DamageData       = "data"       // bytes [Offset, Offset+Length) fail verification
	DamageOutboard   = "outboard"   // the data hashes to the CID but the outboard is wrong
	DamageInline     = "inline"     // an inline object does not hash to its CID
	DamageRecord     = "record"     // the index record cannot be decoded
	DamageOrphan     = "orphan"     // a file under objects/ that the index does not name
	DamageAccounting = "accounting" // the usage counters disagree with the objects
	DamageRef        = "ref"        // an object references one that is not stored (CID: the missing one)
	DamagePin        = "pin"        // a pin names an object that is not stored
)

// Damage is one problem a scrub found (store.Damage is this type).
type Damage struct {
	CID    cid.CID `json:"cid"`
	Kind   string  `json:"kind"`
	Offset int64   `json:"offset"`
	Length int64   `json:"length"`
	Detail string  `json:"detail"`
	// ReferencedBy is the referencing object of a DamageRef.
	ReferencedBy cid.CID `json:"referenced_by,omitzero"`
	// Repaired says the scrub fixed it (with repair).
	Repaired bool `json:"repaired"`
}

func (d Damage) String() string {
	if d.Kind == DamageData {
		return fmt.Sprintf("%s: %s: bytes %d-%d: %s", d.CID, d.Kind, d.Offset, d.Offset+d.Length-1, d.Detail)
	}
	return fmt.Sprintf("%s: %s: %s", d.CID, d.Kind, d.Detail)
}

// MaxObject caps the bytes of one store.read or store.put: bulk bytes go
// through the blob protocol.
const MaxObject = 256 << 10

// ReadReq reads Len bytes of CID from Off (at most MaxObject).
type ReadReq struct {
	CID cid.CID `json:"cid"`
	Off int64   `json:"off"`
	Len int64   `json:"len"`
}

// ReadReply is verified bytes.
type ReadReply struct {
	Data []byte `json:"data"`
}

// PutReq stores a small object (at most MaxObject bytes).
type PutReq struct {
	Data []byte    `json:"data"`
	Pin  bool      `json:"pin,omitempty"`
	Refs []cid.CID `json:"refs,omitempty"`
	Hold int64     `json:"hold,omitempty"` // seconds: hold the object until store.release (or then)
}

// PutReply is the stored object, and the lease of its hold.
type PutReply struct {
	CID          cid.CID `json:"cid"`
	Size         int64   `json:"size"`
	Inline       bool    `json:"inline"`
	Deduplicated bool    `json:"deduplicated"`
	Lease        string  `json:"lease,omitempty"`
}

// PeerAddr names a peer of the overlay holding CID, and where to dial it.
type PeerAddr struct {
	CID   cid.CID  `json:"cid"`
	Peer  string   `json:"peer"`
	Addrs []string `json:"addrs"`
}

// ReplicateReq asks the store role to take an object from a peer: pinned,
// or held for Hold seconds, or both.
type ReplicateReq struct {
	PeerAddr
	Pin  bool  `json:"pin,omitempty"`
	Hold int64 `json:"hold,omitempty"`
}

// ReplicateReply is the lease of the hold asked for.
type ReplicateReply struct {
	Lease string `json:"lease,omitempty"`
}

// ReleaseReq ends a hold.
type ReleaseReq struct {
	Lease string `json:"lease"`
}

// The index role's verbs. A publish is not idempotent: it stores, pins and
// announces, and it is never sent twice (a silent instance may still be
// running it).
var (
	IndexPublish = bus.Declare[PublishReq, Published](Index, "publish", false)
	IndexLookup  = bus.Declare[LookupReq, Entry](Index, "lookup", true) // reads only
	// IndexAdopt indexes a manifest the store holds (or fetches) but the
	// index does not: the explicit step of the fetch path that a lookup
	// never takes. A repeat answers the same entry.
	IndexAdopt   = bus.Declare[LookupReq, Entry](Index, "adopt", true)
	IndexList    = bus.Declare[ListReq, Entries](Index, "list", true)
	IndexNameSet = bus.Declare[NameSetReq, NameSet](Index, "name_set", false) // a repeat answers conflict
	IndexNameGet = bus.Declare[NameGetReq, NameRecord](Index, "name_get", true)
)

// PublishReq publishes a manifest for a stored payload.
type PublishReq struct {
	Manifest  string          `json:"manifest,omitempty"` // Manifest.toml text, when Doc is absent
	Doc       json.RawMessage `json:"doc,omitempty"`      // the manifest decoded once by the gateway (manifest.MarshalTree)
	Payload   Payload         `json:"payload"`
	Filename  string          `json:"filename,omitempty"`
	MediaType string          `json:"media_type,omitempty"`
}

// Payload is a publish's payload.
type Payload struct {
	CID  cid.CID `json:"cid"`
	Size int64   `json:"size"`
}

// Published is the answer to a publish.
type Published struct {
	Address  string  `json:"address"`
	Manifest cid.CID `json:"manifest"`
	TLD      string  `json:"tld"`
	Payload  cid.CID `json:"payload"`
	Size     int64   `json:"size"`
}

// LookupReq looks up a manifest by its CID.
type LookupReq struct {
	Hash cid.CID `json:"hash"`
}

// Entry is a published manifest.
type Entry struct {
	Address   string          `json:"address"`
	Manifest  cid.CID         `json:"manifest"`
	TLD       string          `json:"tld"`
	Payload   cid.CID         `json:"payload"`
	Size      int64           `json:"size"`
	MediaType string          `json:"media_type,omitempty"`
	Price     uint64          `json:"price"`
	Doc       json.RawMessage `json:"doc"`
	Index     json.RawMessage `json:"index,omitempty"`
	Published time.Time       `json:"published"`
}

// ListReq lists entries, of one TLD or all.
type ListReq struct {
	TLD   string `json:"tld,omitempty"`
	Limit int    `json:"limit,omitempty"`
}

// Entries are listed entries.
type Entries struct {
	Entries []Entry `json:"entries"`
}

// NameSetReq stores a signed name record.
type NameSetReq struct {
	Record json.RawMessage `json:"record"`
}

// NameSet is the name and sequence number stored.
type NameSet struct {
	Name string `json:"name"`
	Seq  uint64 `json:"seq"`
}

// NameGetReq asks for a name's newest record.
type NameGetReq struct {
	Name string `json:"name"`
}

// NameRecord is a signed name record (core/names).
type NameRecord struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Seq     uint64 `json:"seq"`
	Expires int64  `json:"expires"`
	Sig     []byte `json:"sig"`
}

// The plugins role's verbs: pure functions of their input.
var (
	PluginsList     = bus.Declare[Empty, PluginList](Plugins, "list", true)
	PluginsValidate = bus.Declare[ValidateReq, Validated](Plugins, "validate", true)
	PluginsResolve  = bus.Declare[ResolveReq, Resolved](Plugins, "resolve", true)
	PluginsSplit    = bus.Declare[SplitReq, Allocations](Plugins, "split", true)
)

// PluginList is the installed plugins, one description each (tld, name,
// version, ...: GET /v1/plugins's shape).
type PluginList struct {
	Plugins json.RawMessage `json:"plugins"`
}

// ValidateReq asks TLD's plugin to validate a manifest (JSON).
type ValidateReq struct {
	TLD         string          `json:"tld"`
	Manifest    json.RawMessage `json:"manifest"`
	PayloadSize int64           `json:"payload_size"`
}

// Validated is the plugin's canonical manifest and index document.
type Validated struct {
	Manifest json.RawMessage `json:"manifest"`
	Index    json.RawMessage `json:"index"`
}

// ResolveReq resolves a path inside a published manifest's payload.
type ResolveReq struct {
	Manifest cid.CID `json:"manifest"`
	Path     string  `json:"path"`
}

// Resolved is a plugin's answer to ron_resolve.
type Resolved struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type"`
	Offset      int64  `json:"offset"`
	Length      int64  `json:"length"`
}

// SplitReq asks a manifest's plugin to split an epoch's amount.
type SplitReq struct {
	Manifest cid.CID `json:"manifest"`
	Epoch    string  `json:"epoch"`
	Amount   uint64  `json:"amount"`
	Usage    Usage   `json:"usage"`
}

// Usage is what was metered for one manifest in one epoch.
type Usage struct {
	Requests uint64   `json:"requests"`
	Bytes    uint64   `json:"bytes"`
	Servers  []Server `json:"servers"`
}

// Server is one serving node's share of a manifest's usage.
type Server struct {
	Node     string `json:"node"`
	Payout   string `json:"payout"`
	Requests uint64 `json:"requests"`
	Bytes    uint64 `json:"bytes"`
}

// Allocations are a split.
type Allocations struct {
	Allocations []Allocation `json:"allocations"`
}

// Allocation is one line of a split.
type Allocation struct {
	Payee  string `json:"payee"`
	Role   string `json:"role"`
	Amount uint64 `json:"amount"`
}

// The ledger role's verbs. A meter would count an access twice and a
// settle seals an epoch: neither is sent again.
var (
	LedgerMeter    = bus.Declare[MeterReq, MeterReply](Ledger, "meter", false)
	LedgerSettle   = bus.Declare[Empty, Settlements](Ledger, "settle", false)
	LedgerBalances = bus.Declare[Empty, Balances](Ledger, "balances", true)
	LedgerEpochs   = bus.Declare[Empty, Epochs](Ledger, "epochs", true)
)

// MeterReq is one priced access.
type MeterReq struct {
	Manifest cid.CID `json:"manifest"`
	TLD      string  `json:"tld"`
	Price    uint64  `json:"price"`
	Node     string  `json:"node"`
	Payout   string  `json:"payout"`
	Bytes    uint64  `json:"bytes"`
}

// MeterReply is the open epoch the access was counted in.
type MeterReply struct {
	Epoch uint64 `json:"epoch"`
}

// Settlements are what a settle did, per epoch.
type Settlements struct {
	Settlements []Settlement `json:"settlements"`
}

// Settlement is one epoch's settlement.
type Settlement struct {
	Epoch          uint64    `json:"epoch"`
	Manifests      int       `json:"manifests"`
	Settled        int       `json:"settled"`
	AlreadySettled int       `json:"already_settled"`
	Amount         uint64    `json:"amount"`
	Failed         []Failure `json:"failed"`
}

// Failure is a manifest a settlement could not pay.
type Failure struct {
	Manifest cid.CID `json:"manifest"`
	TLD      string  `json:"tld"`
	Error    string  `json:"error"`
}

// Balances are the payees' balances, sorted by payee.
type Balances struct {
	Balances []Balance `json:"balances"`
}

// Balance is one payee's.
type Balance struct {
	Payee  string `json:"payee"`
	Amount uint64 `json:"amount"`
}

// Epochs are the ledger's epochs.
type Epochs struct {
	Epochs []EpochInfo `json:"epochs"`
}

// EpochInfo summarizes an epoch.
type EpochInfo struct {
	Epoch     uint64    `json:"epoch"`
	Open      bool      `json:"open"`
	Sealed    bool      `json:"sealed"`
	Start     time.Time `json:"start,omitzero"`
	End       time.Time `json:"end,omitzero"`
	Manifests int       `json:"manifests"`
	Settled   int       `json:"settled"`
	Requests  uint64    `json:"requests"`
	Bytes     uint64    `json:"bytes"`
	Amount    uint64    `json:"amount"`
	Paid      uint64    `json:"paid"`
}

// The dht role's verbs.
var (
	DHTPeers = bus.Declare[Empty, OverlayInfo](DHT, "peers", true)
	DHTStat  = bus.Declare[CID, ObjectStat](DHT, "stat", true)
	DHTPin   = bus.Declare[PinReq, PinResult](DHT, "pin", false) // long work a repeat would run again alongside
)

// OverlayInfo is a node on the overlay.
type OverlayInfo struct {
	On    bool     `json:"on"`
	Peer  string   `json:"peer,omitempty"`
	Addrs []string `json:"addrs"`
	Peers int      `json:"peers"`
	// Status is the node's reachability, relays and connections
	// (internal/core/overlay.Status; absent when the overlay is off).
	Status json.RawMessage `json:"status,omitempty"`
}

// ObjectStat is an object on a node and its copies on the overlay.
type ObjectStat struct {
	CID    cid.CID   `json:"cid"`
	Stored bool      `json:"stored"`
	Size   int64     `json:"size,omitempty"`
	Pinned bool      `json:"pinned"`
	Refs   []cid.CID `json:"refs"`
	Copies []Copy    `json:"copies"`
	// Overlay is false when the node does not join the overlay (copies then
	// lists only this node).
	Overlay bool `json:"overlay"`
}

// Copy is a peer holding a copy.
type Copy struct {
	Peer  string   `json:"peer"`
	Addrs []string `json:"addrs,omitempty"`
	Self  bool     `json:"self,omitempty"`
}

// PinReq pins an object here and asks Replicas other peers (0..64) to.
type PinReq struct {
	CID      cid.CID `json:"cid"`
	Replicas int     `json:"replicas"`
}

// PinResult is the answer to a pin with replicas.
type PinResult struct {
	CID      cid.CID   `json:"cid"`
	Pinned   bool      `json:"pinned"`
	Roots    []cid.CID `json:"roots"`
	Replicas []Replica `json:"replicas"`
	// Held is how many peers now hold every root (those that said yes).
	Held int `json:"held"`
}

// Replica is one peer asked to hold a copy.
type Replica struct {
	Peer  string `json:"peer"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// The mailbox role's verb: only its public address (messages never cross
// the bus).
var MailboxAddress = bus.Declare[Empty, MailboxAddr](Mailbox, "address", true)

// MailboxAddr is a node's mailbox address and tor's state.
type MailboxAddr struct {
	Address string          `json:"address"`
	Tor     json.RawMessage `json:"tor"`
}
