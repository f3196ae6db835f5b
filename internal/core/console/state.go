package console

import (
	"context"
	"net/http"
	"time"
)

// State is the node as the console reads it. Snapshot gathers every panel;
// a panel it cannot fill is left empty with the reason in Snapshot.Errors,
// so one role that does not answer does not blank the page.
type State interface {
	Snapshot(ctx context.Context) Snapshot
}

// Events is the bus's event stream (ron.evt.<kind>); *bus.Bus satisfies it.
type Events interface {
	// Subscribe calls fn with each event's subject and JSON body until the
	// returned func is called; fn must not block.
	Subscribe(kind string, fn func(subject string, data []byte)) (unsubscribe func(), err error)
}

// Authorizer checks a request's capability token (the gateway's; the node
// implements it): nil, or an error the console's WriteError maps to 401
// (no or bad token) or 403 (a token that does not allow the request).
type Authorizer interface {
	Authorize(r *http.Request) (maxBytes int64, err error)
}

// Snapshot is every panel of the console.
type Snapshot struct {
	Time      time.Time   `json:"time"`
	Node      NodeInfo    `json:"node"`
	Readiness []Component `json:"readiness"`
	Overlay   *Overlay    `json:"overlay,omitempty"`
	Store     *Store      `json:"store,omitempty"`
	Plugins   []Plugin    `json:"plugins"`
	Publishes []Publish   `json:"publishes"`
	Payouts   *Payouts    `json:"payouts,omitempty"`
	Mailbox   *Mailbox    `json:"mailbox,omitempty"`
	// Errors says, per panel ("overlay", "store", …), why it is missing.
	Errors map[string]string `json:"errors,omitempty"`
}

// NodeInfo is the node's identity.
type NodeInfo struct {
	ID      string   `json:"id"`
	Version string   `json:"version"`
	Roles   []string `json:"roles"`
	Payout  string   `json:"payout,omitempty"`
	Ready   bool     `json:"ready"`
	// Why the node is not ready (empty when it is).
	Why string `json:"why,omitempty"`
}

// Component states.
const (
	StateOK       = "ok"
	StateDegraded = "degraded" // works, with less than it should (no peers yet, tor bootstrapping)
	StateDown     = "down"
	StateOff      = "off" // not run by this process, or turned off
)

// Component is one part of the node and whether it works.
type Component struct {
	Name   string `json:"name"`
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
}

// Overlay is the peer-to-peer overlay's state.
type Overlay struct {
	On           bool     `json:"on"`
	Peer         string   `json:"peer,omitempty"`
	RoutingTable int      `json:"routing_table"` // peers in the DHT's routing table
	Connections  int      `json:"connections"`
	DHT          string   `json:"dht,omitempty"`          // server or client
	Reachability string   `json:"reachability,omitempty"` // public, private, unknown
	Network      string   `json:"network,omitempty"`      // internet or local
	Addrs        []string `json:"addrs,omitempty"`
	Relays       int      `json:"relays"`
}

// Store is the content store's use.
type Store struct {
	Objects       int64 `json:"objects"`
	Pinned        int64 `json:"pinned"`
	PayloadBytes  int64 `json:"payload_bytes"`
	OutboardBytes int64 `json:"outboard_bytes"`
	IndexBytes    int64 `json:"index_bytes"`
	QuotaBytes    int64 `json:"quota_bytes"` // 0: none
	// FreeBytes is the disk's free space (-1: unknown); MinFreeBytes the
	// floor under which writes are refused.
	FreeBytes    int64 `json:"free_bytes"`
	MinFreeBytes int64 `json:"min_free_bytes"`
	Writable     bool  `json:"writable"`
}

// Plugin is one installed TLD plugin and its counters.
type Plugin struct {
	TLD       string `json:"tld"`
	Name      string `json:"name"`
	Version   string `json:"version"`
	Hash      string `json:"hash"`
	Source    string `json:"source"`              // builtin, installed, registry b3:<id>
	Publisher string `json:"publisher,omitempty"` // ed25519:<hex> of a verified signature
	Calls     uint64 `json:"calls"`
	MemoHits  uint64 `json:"memo_hits"`
	Rejected  uint64 `json:"rejected"`
	Faults    uint64 `json:"faults"`
	// Quarantined after repeated faults; LastFault says the last one.
	Quarantined bool   `json:"quarantined"`
	LastFault   string `json:"last_fault,omitempty"`
	// MeanMicros is the mean time in the plugin's entry points per call
	// that ran (memo hits excluded); 0 before any.
	MeanMicros float64 `json:"mean_us"`
}

// Publish is one published manifest.
type Publish struct {
	Address   string    `json:"address"`
	TLD       string    `json:"tld"`
	Title     string    `json:"title,omitempty"`
	Size      int64     `json:"size"`
	Price     uint64    `json:"price"`
	Published time.Time `json:"published,omitzero"`
}

// Payouts are the ledger's epochs and balances.
type Payouts struct {
	Epochs   []Epoch   `json:"epochs"` // newest first
	Balances []Balance `json:"balances"`
}

// Epoch is one ledger epoch; ByRole is what its settlements paid per role
// (creator, host, …).
type Epoch struct {
	Epoch     uint64            `json:"epoch"`
	Open      bool              `json:"open"`
	Manifests int               `json:"manifests"`
	Settled   int               `json:"settled"`
	Requests  uint64            `json:"requests"`
	Amount    uint64            `json:"amount"`
	Paid      uint64            `json:"paid"`
	ByRole    map[string]uint64 `json:"by_role,omitempty"`
}

// Balance is a payee's total.
type Balance struct {
	Payee  string `json:"payee"`
	Amount uint64 `json:"amount"`
}

// Mailbox is the private mailbox's counts.
type Mailbox struct {
	Address string         `json:"address,omitempty"`
	Inbox   int            `json:"inbox"`
	Outbox  map[string]int `json:"outbox"` // per status: queued, delivered, failed, expired
}
