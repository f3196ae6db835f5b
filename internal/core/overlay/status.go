package overlay

import (
	"slices"
	"sort"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"
	ma "github.com/multiformats/go-multiaddr"
)

// Conn is one open connection.
type Conn struct {
	Peer      string `json:"peer"`
	Addr      string `json:"addr"`      // the remote multiaddr
	Direction string `json:"direction"` // inbound or outbound
	// Relayed: the connection runs through a relay (its address has
	// /p2p-circuit); Limited: the relay bounds it (bytes, duration).
	Relayed bool `json:"relayed"`
	Limited bool `json:"limited"`
}

// Status is what a node knows of its place on the network.
type Status struct {
	Peer string `json:"peer"`
	// Reachability is the verdict: public, private or unknown; Configured
	// is Config.Reachability (auto, public, private).
	Reachability string `json:"reachability"`
	Configured   string `json:"configured"`
	// Network is "internet" once the node has public addresses or public
	// peers, "local" before (loopback, a LAN).
	Network string `json:"network"`
	// DHT is "server" or "client".
	DHT string `json:"dht"`
	// Addrs are the addresses announced (ending in /p2p/<id>).
	Addrs []string `json:"addrs"`
	// Reachable and Unreachable are the addresses AutoNAT v2 confirmed.
	Reachable   []string `json:"reachable"`
	Unreachable []string `json:"unreachable"`
	// Relays are the relays this node holds a reservation with.
	Relays []string `json:"relays"`
	// RelayService: this node relays for others now.
	RelayService bool        `json:"relay_service"`
	HolePunches  HolePunches `json:"hole_punches"`
	Conns        []Conn      `json:"conns"`
}

// Status returns the node's reachability, addresses and connections;
// the zero Status before Start or after Close.
func (o *Overlay) Status() Status {
	h, _, err := o.running()
	if err != nil {
		return Status{Addrs: []string{}, Reachable: []string{}, Unreachable: []string{}, Relays: []string{}, Conns: []Conn{}}
	}
	v, internet, reachable, unreachable := o.reach.snapshot()
	st := Status{
		Peer:         h.ID().String(),
		Reachability: reachString(v),
		Configured:   o.cfg.Reachability,
		Network:      "local",
		DHT:          "client",
		Addrs:        o.Addrs(),
		Reachable:    strs(reachable),
		Unreachable:  strs(unreachable),
		Relays:       []string{},
		HolePunches: HolePunches{
			Started:     o.punches.started.Load(),
			Succeeded:   o.punches.succeeded.Load(),
			Failed:      o.punches.failed.Load(),
			DirectDials: o.punches.directDials.Load(),
		},
		Conns: []Conn{},
	}
	if o.cfg.Host != nil {
		st.Configured = "" // a prebuilt host: no reachability management
	}
	if internet {
		st.Network = "internet"
	}
	protos := h.Mux().Protocols()
	if slices.Contains(protos, protocol.ID(ProtocolPrefix+"/kad/1.0.0")) {
		st.DHT = "server"
	}
	st.RelayService = slices.Contains(protos, protocol.ID(proto.ProtoIDv2Hop))
	for _, a := range h.Addrs() {
		if !isRelayAddr(a) {
			continue
		}
		if rid, err := a.ValueForProtocol(ma.P_P2P); err == nil && !slices.Contains(st.Relays, rid) {
			st.Relays = append(st.Relays, rid)
		}
	}
	for _, c := range h.Network().Conns() {
		st.Conns = append(st.Conns, Conn{
			Peer:      c.RemotePeer().String(),
			Addr:      c.RemoteMultiaddr().String(),
			Direction: dirString(c.Stat().Direction),
			Relayed:   isRelayedConn(c),
			Limited:   c.Stat().Limited,
		})
	}
	sort.Slice(st.Conns, func(i, j int) bool {
		if st.Conns[i].Peer != st.Conns[j].Peer {
			return st.Conns[i].Peer < st.Conns[j].Peer
		}
		return st.Conns[i].Addr < st.Conns[j].Addr
	})
	return st
}

// ConnsTo lists the open connections to p.
func (o *Overlay) ConnsTo(p peer.ID) []Conn {
	var out []Conn
	for _, c := range o.Status().Conns {
		if c.Peer == p.String() {
			out = append(out, c)
		}
	}
	return out
}

func dirString(d network.Direction) string {
	switch d {
	case network.DirInbound:
		return "inbound"
	case network.DirOutbound:
		return "outbound"
	}
	return "unknown"
}

func strs(as []ma.Multiaddr) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}
