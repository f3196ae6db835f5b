package node

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/core/console"
	"github.com/ronhost/ronhost/internal/core/gateway"
	"github.com/ronhost/ronhost/internal/core/index"
	"github.com/ronhost/ronhost/internal/core/ledger"
	"github.com/ronhost/ronhost/internal/core/overlay"
	"github.com/ronhost/ronhost/internal/core/store"
)

// The web console (/ui/, core/console) reads the node through consoleState:
// this process's roles directly, the others over the bus.

// consoleBusTimeout bounds each bus read of the console, so that a role no
// process runs costs a panel, not the page.
const consoleBusTimeout = 3 * time.Second

// consoleEpochs is how many epochs the payouts panel shows, newest first;
// consoleManifests caps the manifests whose allocations are summed per role
// in one epoch.
const (
	consoleEpochs     = 12
	consoleManifests  = 500
	consolePublishes  = 20
	consoleListFromIx = 1000
)

// newConsole makes the node's console (its routes on the node's mux:
// routes); the routes component's stop and shutdown end its event streams.
// Its host table is the gateway's (none without the gateway role).
func (n *Node) newConsole() *console.Console {
	var hosts *gateway.Hosts
	if n.has("gateway") {
		g := n.opts.Config.Gateway
		hosts, _ = gateway.NewHosts(g.Domains, g.PathHosts) // an error fails Start in gatewayConfig
	}
	n.console = console.New(console.Options{State: consoleState{n}, Auth: n.auth(), Events: n.bus, Hosts: hosts, Logger: n.log})
	return n.console
}

type consoleState struct{ n *Node }

func (s consoleState) Snapshot(ctx context.Context) console.Snapshot {
	n := s.n
	out := console.Snapshot{Time: time.Now().UTC(), Errors: map[string]string{},
		Node: console.NodeInfo{ID: n.id, Version: n.opts.Version, Roles: slices.Clone(n.opts.Config.Node.Roles), Payout: n.payout}}
	if err := n.Ready(ctx); err != nil {
		out.Node.Why = err.Error()
	} else {
		out.Node.Ready = true
	}
	out.Readiness = n.consoleReadiness(ctx)
	fail := func(panel string, err error) { out.Errors[panel] = err.Error() }

	if o, err := n.consoleOverlay(ctx); err != nil {
		fail("overlay", err)
	} else {
		out.Overlay = o
	}
	if st, err := n.consoleStore(ctx); err != nil {
		fail("store", err)
	} else {
		out.Store = st
	}
	out.Plugins = n.consolePlugins()
	if ps, err := n.consolePublishes(ctx); err != nil {
		fail("publishes", err)
	} else {
		out.Publishes = ps
	}
	if p, err := n.consolePayouts(ctx); err != nil {
		fail("payouts", err)
	} else {
		out.Payouts = p
	}
	if n.mailbox != nil {
		if m, err := n.consoleMailbox(ctx); err != nil {
			fail("mailbox", err)
		} else {
			out.Mailbox = m
		}
	} else {
		out.Errors["mailbox"] = "not run by this process"
	}
	return out
}

// busRead calls a role's verb over the bus under consoleBusTimeout.
func busRead[Req, Resp any](ctx context.Context, n *Node, v bus.Verb[Req, Resp], req Req) (Resp, error) {
	ctx, cancel := context.WithTimeout(ctx, consoleBusTimeout)
	defer cancel()
	return bus.Call(ctx, n.bus, v, req)
}

// consoleOrder lists the components in the order the readiness panel shows
// them; others follow by name.
var consoleOrder = []string{"bus", "gateway", "store", "index", "plugins", "ledger", "overlay", "mailbox", "tor"}

// consoleReadiness is each part of this process and whether it works
// (Components, as /readyz?verbose says), with the plugins' quarantine.
func (n *Node) consoleReadiness(ctx context.Context) []console.Component {
	cs := n.Components(ctx)
	names := make([]string, 0, len(cs))
	for name := range cs {
		names = append(names, name)
	}
	rank := func(s string) int {
		if i := slices.Index(consoleOrder, s); i >= 0 {
			return i
		}
		return len(consoleOrder)
	}
	sort.Slice(names, func(i, j int) bool {
		if ri, rj := rank(names[i]), rank(names[j]); ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
	var out []console.Component
	for _, name := range names {
		c := cs[name]
		state := console.StateDown
		switch {
		case c.Ready:
			state = console.StateOK
		case c.State == "off":
			state = console.StateOff
		case !c.Required:
			state = console.StateDegraded // the node serves without it
		}
		detail := c.Detail
		if c.Progress != nil && !c.Ready {
			detail = strings.TrimSpace(detail + " (" + strconv.Itoa(*c.Progress) + "%)")
		}
		if name == "plugins" {
			q := 0
			for _, p := range n.Plugins() {
				if p.Stats.Quarantined {
					q++
				}
			}
			if q > 0 {
				state, detail = console.StateDegraded, detail+", "+strconv.Itoa(q)+" quarantined"
			}
		}
		out = append(out, console.Component{Name: name, State: state, Detail: detail})
	}
	return out
}

func (n *Node) consoleOverlay(ctx context.Context) (*console.Overlay, error) {
	var oi OverlayInfo
	if n.overlay != nil {
		st := n.overlay.Status()
		oi = OverlayInfo{On: true, Peer: n.overlay.ID().String(), Addrs: n.overlay.Addrs(), Peers: n.overlay.Peers(), Status: &st}
	} else {
		ci, err := busRead(ctx, n, contract.DHTPeers, contract.Empty{})
		if err != nil {
			return nil, err
		}
		oi = OverlayInfo{On: ci.On, Peer: ci.Peer, Addrs: ci.Addrs, Peers: ci.Peers}
		if len(ci.Status) > 0 {
			var st overlay.Status
			if json.Unmarshal(ci.Status, &st) == nil {
				oi.Status = &st
			}
		}
	}
	o := &console.Overlay{On: oi.On, Peer: oi.Peer, RoutingTable: oi.Peers, Addrs: oi.Addrs}
	if st := oi.Status; st != nil {
		o.Connections, o.DHT, o.Reachability, o.Network, o.Relays = len(st.Conns), st.DHT, st.Reachability, st.Network, len(st.Relays)
	}
	return o, nil
}

func (n *Node) consoleStore(ctx context.Context) (*console.Store, error) {
	var u store.Usage
	var err error
	if n.store != nil && n.has("store") {
		u, err = n.store.Stat(ctx)
	} else {
		var cu contract.StoreUsage
		cu, err = busRead(ctx, n, contract.StoreStat, contract.Empty{})
		u = store.Usage{Objects: cu.Objects, PayloadBytes: cu.PayloadBytes, OutboardBytes: cu.OutboardBytes, Pinned: cu.Pinned,
			QuotaBytes: cu.QuotaBytes, IndexBytes: cu.IndexBytes}
	}
	if err != nil {
		return nil, err
	}
	d := n.Disk()
	return &console.Store{Objects: u.Objects, Pinned: u.Pinned, PayloadBytes: u.PayloadBytes, OutboardBytes: u.OutboardBytes,
		IndexBytes: int64(u.IndexBytes), QuotaBytes: u.QuotaBytes, FreeBytes: d.FreeBytes, MinFreeBytes: d.MinFreeBytes,
		Writable: d.Writable}, nil
}

func (n *Node) consolePlugins() []console.Plugin {
	entries, _, _ := n.catalog.Entries() // a catalog that cannot be read shows no publishers
	var out []console.Plugin
	for _, p := range n.Plugins() {
		cp := console.Plugin{TLD: p.TLD, Name: p.Name, Version: p.Version, Hash: p.Plugin, Source: p.Source,
			Calls: p.Stats.Calls, MemoHits: p.Stats.MemoHits, Rejected: p.Stats.Rejected, Faults: p.Stats.Faults,
			Quarantined: p.Stats.Quarantined, LastFault: p.Stats.LastFault}
		if e, ok := entries[p.TLD]; ok && e.Plugin == p.Plugin {
			cp.Publisher = e.Publisher
		}
		if p.Stats.Runs > 0 {
			cp.MeanMicros = float64(p.Stats.BusyNanos) / float64(p.Stats.Runs) / 1e3
		}
		out = append(out, cp)
	}
	return out
}

// consolePublishes returns the latest publishes, newest first. The index
// keeps entries in hash order, so this reads up to consoleListFromIx.
func (n *Node) consolePublishes(ctx context.Context) ([]console.Publish, error) {
	var es []index.Entry
	if n.index != nil {
		var err error
		if es, err = n.index.List(ctx, "", consoleListFromIx); err != nil {
			return nil, err
		}
	} else {
		r, err := busRead(ctx, n, contract.IndexList, contract.ListReq{Limit: 200})
		if err != nil {
			return nil, err
		}
		for _, e := range r.Entries {
			es = append(es, index.Entry{Address: e.Address, TLD: e.TLD, Size: e.Size, Price: e.Price, Doc: e.Doc, Published: e.Published})
		}
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].Published.After(es[j].Published) })
	out := []console.Publish{}
	for _, e := range es[:min(len(es), consolePublishes)] {
		var doc struct {
			Meta struct {
				Title string `json:"title"`
			} `json:"meta"`
		}
		_ = json.Unmarshal(e.Doc, &doc) // no title is fine
		out = append(out, console.Publish{Address: e.Address, TLD: e.TLD, Title: doc.Meta.Title, Size: e.Size, Price: e.Price,
			Published: e.Published})
	}
	return out, nil
}

// consolePayouts returns the latest epochs (with what each role was paid
// when this process runs the ledger) and the balances.
func (n *Node) consolePayouts(ctx context.Context) (*console.Payouts, error) {
	var eps []ledger.EpochInfo
	var bal []ledger.Balance
	if n.ledger != nil {
		var err error
		if eps, err = n.ledger.Epochs(ctx); err != nil {
			return nil, err
		}
		if bal, err = n.ledger.Balances(ctx); err != nil {
			return nil, err
		}
	} else {
		e, err := busRead(ctx, n, contract.LedgerEpochs, contract.Empty{})
		if err != nil {
			return nil, err
		}
		b, err := busRead(ctx, n, contract.LedgerBalances, contract.Empty{})
		if err != nil {
			return nil, err
		}
		for _, x := range e.Epochs {
			eps = append(eps, ledger.EpochInfo{Epoch: x.Epoch, Open: x.Open, Sealed: x.Sealed, Manifests: x.Manifests,
				Settled: x.Settled, Requests: x.Requests, Amount: x.Amount, Paid: x.Paid})
		}
		for _, x := range b.Balances {
			bal = append(bal, ledger.Balance{Payee: x.Payee, Amount: x.Amount})
		}
	}
	out := &console.Payouts{Epochs: []console.Epoch{}, Balances: []console.Balance{}}
	for i := len(eps) - 1; i >= 0 && len(out.Epochs) < consoleEpochs; i-- {
		e := eps[i]
		ce := console.Epoch{Epoch: e.Epoch, Open: e.Open, Manifests: e.Manifests, Settled: e.Settled, Requests: e.Requests,
			Amount: e.Amount, Paid: e.Paid}
		if n.ledger != nil && e.Settled > 0 {
			ce.ByRole = n.paidByRole(ctx, e.Epoch)
		}
		out.Epochs = append(out.Epochs, ce)
	}
	for _, b := range bal {
		out.Balances = append(out.Balances, console.Balance{Payee: b.Payee, Amount: b.Amount})
	}
	return out, nil
}

// paidByRole sums an epoch's allocations per role (nil when they cannot be
// read: the epoch row still shows its totals).
func (n *Node) paidByRole(ctx context.Context, epoch uint64) map[string]uint64 {
	us, err := n.ledger.Usage(ctx, epoch)
	if err != nil {
		return nil
	}
	out := map[string]uint64{}
	for i, u := range us {
		if i >= consoleManifests {
			break
		}
		if !u.Settled {
			continue
		}
		as, err := n.ledger.Allocations(ctx, epoch, u.Manifest)
		if err != nil {
			continue
		}
		for _, a := range as {
			out[a.Role] += a.Amount
		}
	}
	return out
}

func (n *Node) consoleMailbox(ctx context.Context) (*console.Mailbox, error) {
	in, err := n.mailbox.Inbox(ctx)
	if err != nil {
		return nil, err
	}
	ob, err := n.mailbox.Outbox(ctx)
	if err != nil {
		return nil, err
	}
	m := &console.Mailbox{Address: n.mailbox.Address().String(), Inbox: len(in), Outbox: map[string]int{}}
	for _, e := range ob {
		m.Outbox[e.Status]++
	}
	return m, nil
}
