package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronhost/ronhost/conformance"
	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/gateway"
	"github.com/ronhost/ronhost/internal/core/registry"
	"github.com/ronhost/ronhost/internal/core/registry/follower"
	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/plugins"
)

// The node's part in following plugin registries (docs/REGISTRY.md): the
// follower (core/registry/follower) runs where the plugins role and the
// overlay are; it records what the registries provide in the catalog's
// registry rows, which Reconcile applies like the operator's entries.

// RegistryDir is where the node keeps what it follows, under DATA.
const RegistryDir = "registry"

// FollowFile lists the registries `ronhost registry follow` added.
func FollowFile(dataDir string) string { return filepath.Join(dataDir, RegistryDir, "following") }

// startFollower starts following registries (a process with the plugins
// role on the overlay).
func (n *Node) startFollower(ctx context.Context) error {
	if n.overlay == nil {
		if len(n.opts.Config.Plugins.Registries) > 0 {
			n.log.Warn("plugins.registries needs the overlay in this process: not following")
		}
		return nil
	}
	p := n.opts.Config.Plugins
	// The verdict must be the same at every node: the suite judges time by
	// fuel alone (ABI v1.1), so the ABI's limits give it under any load.
	n.follower = follower.New(follower.Config{
		Registries: p.Registries,
		FollowFile: FollowFile(n.opts.DataDir),
		Dir:        filepath.Join(n.opts.DataDir, RegistryDir),
		Poll:       p.RegistryPoll.D(),
		Heartbeat:  p.RegistryHeartbeat.D(),
		Conformance: conformance.Options{CacheDir: HostConfig(n.opts.Config, n.opts.DataDir, nil, n.opts.Version).CacheDir,
			Logger: n.log.With("component", "conformance")},
		Logger: n.log.With("component", "registry"),
	}, n.overlay, registryObjects{n}, n.catalog, activator{n})
	if err := n.follower.Start(ctx); err != nil {
		n.follower = nil
		return fmt.Errorf("node: %w", err)
	}
	n.closers = append(n.closers, n.follower.Close)
	n.metrics.MustRegister(registryCollector{n})
	return nil
}

// registryObjects gives the follower the node's objects: the store, or
// peers through the overlay, verified against the CID.
type registryObjects struct{ n *Node }

func (o registryObjects) Fetch(ctx context.Context, c cid.CID, max int64) ([]byte, error) {
	info, err := o.n.objs.Info(ctx, c)
	if err != nil {
		return nil, err
	}
	if info.Size > max {
		return nil, fmt.Errorf("node: %s has %d bytes, more than %d", c, info.Size, max)
	}
	rc, err := o.n.objs.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, max+1))
}

func (o registryObjects) Keep(ctx context.Context, b []byte) error {
	res, err := o.n.objs.Put(ctx, bytes.NewReader(b), store.PutOptions{Pin: true})
	if err == nil && o.n.store != nil {
		if perr := o.n.store.Pin(ctx, res.CID); perr != nil && !errors.Is(perr, store.ErrNotPinned) {
			err = perr
		}
	}
	return err
}

// activator applies the catalog at once when the follower changed it.
type activator struct{ n *Node }

func (a activator) Apply(ctx context.Context) {
	if err := a.n.Reconcile(ctx); err != nil {
		a.n.log.Error("applying the registries' plugins", "err", err)
	}
}

// blockedTLD returns why tld is not served, when a registry revoked the
// module that would serve it ("" otherwise).
func (n *Node) blockedTLD(tld string) string {
	if m := n.blocked.Load(); m != nil {
		return (*m)[tld]
	}
	return ""
}

// registryRows returns the catalog's active registry rows by TLD and why
// each TLD a revocation left without a module is blocked.
func (n *Node) registryRows() (active map[string]plugins.CatalogEntry, blocked map[string]string, err error) {
	rows, err := n.catalog.Registry()
	if err != nil {
		return nil, nil, err
	}
	active, blocked = map[string]plugins.CatalogEntry{}, map[string]string{}
	for _, r := range rows {
		switch r.Status {
		case plugins.StatusActive:
			active[r.TLD] = r
		case plugins.StatusRevoked:
			blocked[r.TLD] = fmt.Sprintf("the .%s plugin %s is revoked and quarantined: %s", r.TLD, r.Plugin, r.Reason)
		}
	}
	for tld := range active {
		delete(blocked, tld)
	}
	return active, blocked, nil
}

// offerHead serves POST /v1/registry/heads: a signed head (ronhost registry
// publish), judged like one from gossip and gossiped when accepted.
func (n *Node) offerHead(w http.ResponseWriter, r *http.Request) {
	if _, err := n.auth().Authorize(r); err != nil {
		gateway.WriteError(w, err)
		return
	}
	if n.follower == nil {
		gateway.WriteError(w, bus.Errorf(codes.Unavailable, "this process follows no registries (it needs the plugins role and the overlay)"))
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, registry.MaxObject))
	if err != nil {
		gateway.WriteError(w, err)
		return
	}
	st, err := n.follower.Offer(r.Context(), raw)
	if err != nil {
		gateway.WriteError(w, registryError(err))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// registryError is the bus's error of the registry's refusals (their
// sentinels carry their codes); anything else is unavailable: the entries
// could not be fetched now.
func registryError(err error) error {
	code := codes.Of(err)
	if code == codes.Internal {
		code = codes.Unavailable
	}
	return bus.Errorf(code, "%v", err)
}

// Registries reports the registries this node follows.
func (n *Node) Registries() []follower.Status {
	if n.follower == nil {
		return []follower.Status{}
	}
	return n.follower.Status()
}

// registryCollector exports the registries' state and the catalog's
// registry rows.
type registryCollector struct{ n *Node }

var (
	regEntries  = prometheus.NewDesc("ron_registry_entries", "Entries in the followed registry's accepted log.", []string{"registry"}, nil)
	regHead     = prometheus.NewDesc("ron_registry_head", "Sequence number of the accepted head.", []string{"registry"}, nil)
	regFrozen   = prometheus.NewDesc("ron_registry_frozen", "1 while the accepted head is past its expiry (no maintainer re-signed it).", []string{"registry"}, nil)
	regHalted   = prometheus.NewDesc("ron_registry_halted", "1 after a fork: the registry accepts nothing more.", []string{"registry"}, nil)
	regAccepted = prometheus.NewDesc("ron_registry_heads_accepted_total", "Heads accepted.", []string{"registry"}, nil)
	regRefused  = prometheus.NewDesc("ron_registry_heads_refused_total", "Heads refused, by reason (rollback, expired, signatures, fork, chain, invalid, malformed, conflict).", []string{"registry", "reason"}, nil)
	regModule   = prometheus.NewDesc("ron_registry_plugin", "1 for each module a registry binds, by what the node made of it (active, refused, revoked).", []string{"registry", "tld", "plugin", "state"}, nil)
)

func (c registryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{regEntries, regHead, regFrozen, regHalted, regAccepted, regRefused, regModule} {
		ch <- d
	}
}

func (c registryCollector) Collect(ch chan<- prometheus.Metric) {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	for _, s := range c.n.Registries() {
		ch <- prometheus.MustNewConstMetric(regEntries, prometheus.GaugeValue, float64(s.Entries), s.Registry)
		ch <- prometheus.MustNewConstMetric(regHead, prometheus.GaugeValue, float64(s.Head), s.Registry)
		ch <- prometheus.MustNewConstMetric(regFrozen, prometheus.GaugeValue, b(s.Frozen), s.Registry)
		ch <- prometheus.MustNewConstMetric(regHalted, prometheus.GaugeValue, b(s.Halted != ""), s.Registry)
		ch <- prometheus.MustNewConstMetric(regAccepted, prometheus.CounterValue, float64(s.Accepted), s.Registry)
		for reason, v := range s.Refused {
			ch <- prometheus.MustNewConstMetric(regRefused, prometheus.CounterValue, float64(v), s.Registry, reason)
		}
	}
	rows, _ := c.n.catalog.Registry()
	for _, r := range rows {
		state := r.Status
		if state == "" {
			state = "active"
		}
		ch <- prometheus.MustNewConstMetric(regModule, prometheus.GaugeValue, 1, r.Origin, r.TLD, r.Plugin, state)
	}
}
