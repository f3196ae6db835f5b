package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/node"
)

// The overlay through the running node: `ronhost pin --replicas N` and
// `ronhost stat CID` when a node serves the data directory.

func overlayCommand() *command {
	c := &command{name: "overlay", summary: "show this node on the overlay: reachability, announced addresses, relays, hole punches, connections (through the running node)"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "overlay")
		if _, err := parse(fs, args, 0, 0); err != nil {
			return err
		}
		cl, err := a.client("")
		if err != nil {
			return err
		}
		var info node.OverlayInfo
		if err := cl.do(ctx, http.MethodGet, "/v1/overlay", "", nil, &info); err != nil {
			return err
		}
		return a.emit(info, func(w io.Writer) {
			if !info.On || info.Status == nil {
				fmt.Fprintln(w, "overlay off ([overlay] mode = off)")
				return
			}
			st := info.Status
			fmt.Fprintf(w, "peer          %s\n", st.Peer)
			fmt.Fprintf(w, "reachability  %s (configured: %s; network: %s)\n", st.Reachability, st.Configured, st.Network)
			fmt.Fprintf(w, "dht           %s, %d peers in the routing table\n", st.DHT, info.Peers)
			fmt.Fprintf(w, "relay service %v\n", st.RelayService)
			for _, s := range st.Addrs {
				fmt.Fprintf(w, "announced     %s\n", s)
			}
			for _, s := range st.Reachable {
				fmt.Fprintf(w, "reachable     %s (AutoNAT v2)\n", s)
			}
			for _, s := range st.Unreachable {
				fmt.Fprintf(w, "unreachable   %s (AutoNAT v2)\n", s)
			}
			for _, s := range st.Relays {
				fmt.Fprintf(w, "relay         %s\n", s)
			}
			hp := st.HolePunches
			fmt.Fprintf(w, "hole punches  %d started, %d succeeded, %d failed\n", hp.Started, hp.Succeeded, hp.Failed)
			for _, c := range st.Conns {
				kind := "direct"
				if c.Relayed {
					kind = "relayed"
				}
				fmt.Fprintf(w, "conn          %s %s %s %s\n", c.Peer, kind, c.Direction, c.Addr)
			}
		})
	}
	return c
}

// nodeRunning says whether a node serves the data directory (its
// node.json exists), so object commands go through it.
func nodeRunning(a *app) bool {
	dir, err := a.data()
	if err != nil {
		return false
	}
	_, err = node.ReadRunInfo(dir)
	return err == nil
}

// objectArg turns a CID or an address into the object to act on: an
// address names its manifest.
func objectArg(arg string) (cid.CID, error) {
	if !cid.IsAddress(arg) {
		return cid.Parse(arg)
	}
	addr, err := cid.ParseAddress(arg)
	if err != nil {
		return cid.CID{}, err
	}
	return addr.Hash, nil
}

// onNode resolves arg and finds the node serving the data directory.
func onNode(a *app, arg string) (cid.CID, *nodeClient, error) {
	target, err := objectArg(arg)
	if err != nil {
		return cid.CID{}, nil, err
	}
	cl, err := a.client("")
	return target, cl, err
}

func runPinOnNode(ctx context.Context, a *app, arg string, replicas int) error {
	target, cl, err := onNode(a, arg)
	if err != nil {
		return err
	}
	var res node.PinResult
	if err := cl.postJSON(ctx, "/v1/pin", map[string]any{"cid": target.String(), "replicas": replicas}, &res); err != nil {
		return err
	}
	return a.emit(res, func(w io.Writer) {
		fmt.Fprintf(w, "pinned %s\n", res.CID)
		for _, r := range res.Replicas {
			if r.OK {
				fmt.Fprintf(w, "replica on %s\n", r.Peer)
			} else {
				fmt.Fprintf(w, "refused by %s: %s\n", r.Peer, r.Error)
			}
		}
		if replicas > 0 {
			fmt.Fprintf(w, "%d of %d replicas placed\n", res.Held, replicas)
		}
	})
}

func runStatOnNode(ctx context.Context, a *app, arg string) error {
	target, cl, err := onNode(a, arg)
	if err != nil {
		return err
	}
	var st node.ObjectStat
	if err := cl.do(ctx, http.MethodGet, "/v1/stat/"+url.PathEscape(target.String()), "", nil, &st); err != nil {
		return err
	}
	return a.emit(st, func(w io.Writer) {
		fmt.Fprintf(w, "cid     %s\n", st.CID)
		if st.Stored {
			fmt.Fprintf(w, "size    %d (%s)\npinned  %v\n", st.Size, human(st.Size), st.Pinned)
		} else {
			fmt.Fprintf(w, "stored  no (not on this node)\n")
		}
		for _, r := range st.Refs {
			fmt.Fprintf(w, "ref     %s\n", r)
		}
		fmt.Fprintf(w, "copies  %d\n", len(st.Copies))
		for _, c := range st.Copies {
			self := ""
			if c.Self {
				self = " (this node)"
			}
			fmt.Fprintf(w, "  %s%s\n", c.Peer, self)
		}
	})
}
