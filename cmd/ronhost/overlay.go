package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/ronhost/ronhost/core/cid"
	"github.com/ronhost/ronhost/core/node"
)

// The overlay through the running node: `ronhost pin --replicas N` and
// `ronhost stat CID` when a node serves the data directory.

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
