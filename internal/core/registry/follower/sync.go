package follower

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/ronhost/ronhost/conformance"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/registry"
	"github.com/ronhost/ronhost/internal/plugins"
)

// sync turns the registries' bindings and revocations into the catalog's
// registry rows, judging each new module first, and asks the node to apply
// them when they changed.
func (f *Follower) sync(ctx context.Context) {
	f.mu.Lock()
	regs := slices.Clone(f.regs)
	f.mu.Unlock()
	prev, err := f.catalog.Registry()
	if err != nil {
		f.log.Error("reading the catalog", "err", err)
		return
	}
	prevActive := map[string]plugins.CatalogEntry{}
	for _, p := range prev {
		if p.Status == plugins.StatusActive {
			prevActive[p.TLD] = p
		}
	}
	// A module revoked by any followed registry is never served from one.
	revoked := map[string]string{}
	for _, r := range regs {
		if l := r.current(); l != nil {
			for p, rv := range l.Revoked() {
				if _, ok := revoked[p]; !ok {
					revoked[p] = fmt.Sprintf("revoked by registry %s (entry %d): %s", r.id, rv.Seq, rv.Reason)
				}
			}
		}
	}
	claimed := map[string]bool{}
	var rows []plugins.CatalogEntry
	modules := map[string][]byte{}
	for _, r := range regs {
		l := r.current()
		if l == nil {
			continue
		}
		binds := l.Bindings()
		tlds := make([]string, 0, len(binds))
		for t := range binds {
			tlds = append(tlds, t)
		}
		sort.Strings(tlds)
		for _, tld := range tlds {
			if claimed[tld] {
				continue // an earlier registry binds it
			}
			claimed[tld] = true
			b := binds[tld]
			row := plugins.CatalogEntry{TLD: tld, Plugin: b.Plugin, Publisher: b.Publisher, Version: b.Version, Origin: r.id}
			if p, ok := prevActive[tld]; ok && p.Plugin == b.Plugin {
				row.Installed = p.Installed
			} else {
				row.Installed = f.cfg.Now().UTC().Truncate(1e9)
			}
			if why, ok := revoked[b.Plugin]; ok {
				row.Status, row.Reason = plugins.StatusRevoked, why
				rows = append(rows, row)
				continue
			}
			v, wasm, judged := f.judge(ctx, b)
			if !judged {
				if ctx.Err() != nil {
					return
				}
				// Not available yet: keep what the TLD had; try again later.
				if p, ok := prevActive[tld]; ok && revoked[p.Plugin] == "" {
					rows = append(rows, p)
				}
				continue
			}
			if !v.OK {
				row.Status, row.Reason = plugins.StatusRefused, v.Reason
				rows = append(rows, row)
				if p, ok := prevActive[tld]; ok && p.Plugin != b.Plugin && revoked[p.Plugin] == "" && f.catalog.HasModule(p.Plugin) {
					rows = append(rows, p) // the last good module keeps serving
				}
				continue
			}
			if wasm != nil {
				modules[b.Plugin] = wasm
			}
			rows = append(rows, row)
		}
	}
	if sameRows(rows, prev) {
		return
	}
	if err := f.catalog.SetRegistry(rows, modules); err != nil {
		f.log.Error("writing the registry plugins to the catalog", "err", err)
		return
	}
	for _, row := range rows {
		switch row.Status {
		case plugins.StatusRevoked:
			f.log.Warn("registry plugin revoked: quarantined", "tld", row.TLD, "plugin", row.Plugin, "reason", row.Reason)
		case plugins.StatusRefused:
			f.log.Warn("registry plugin refused", "tld", row.TLD, "plugin", row.Plugin, "registry", row.Origin, "reason", row.Reason)
		}
	}
	f.act.Apply(ctx)
}

func sameRows(a, b []plugins.CatalogEntry) bool {
	if len(a) != len(b) {
		return false
	}
	key := func(e plugins.CatalogEntry) string {
		return strings.Join([]string{e.TLD, e.Plugin, e.Origin, e.Version, e.Publisher, e.Status, e.Reason}, "\x00")
	}
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		ka[i], kb[i] = key(a[i]), key(b[i])
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}

// judge returns the verdict on b's module, fetching it and running the
// conformance suite the first time (wasm is then the module, to keep).
// judged is false when the module could not be had now.
func (f *Follower) judge(ctx context.Context, b registry.Binding) (v verdict, wasm []byte, judged bool) {
	f.mu.Lock()
	v, ok := f.verdicts[b.Plugin]
	f.mu.Unlock()
	if ok && (!v.OK || f.catalog.HasModule(b.Plugin)) {
		return v, nil, true
	}
	c, err := cid.Parse(b.Plugin)
	if err != nil {
		return verdict{}, nil, false
	}
	wasm, err = f.objs.Fetch(ctx, c, b.Size)
	if err != nil {
		f.log.Info("a registry module is not available yet", "tld", b.TLD, "plugin", b.Plugin, "err", err)
		return verdict{}, nil, false
	}
	if ok {
		return v, wasm, true // judged before; the catalog had lost the module
	}
	v = verdict{OK: true, Time: f.cfg.Now().UTC()}
	switch {
	case int64(len(wasm)) != b.Size:
		v = verdict{Reason: fmt.Sprintf("the module has %d bytes, the registry says %d", len(wasm), b.Size)}
	case b.ABI != registry.ABI:
		v = verdict{Reason: fmt.Sprintf("the module needs plugin ABI %d; this node runs ABI %d", b.ABI, registry.ABI)}
	default:
		f.log.Info("running the conformance suite on a registry module", "tld", b.TLD, "plugin", b.Plugin, "version", b.Version)
		rep, err := conformance.Run(ctx, wasm, f.cfg.Conformance)
		if err != nil {
			f.log.Warn("the conformance suite could not run", "plugin", b.Plugin, "err", err)
			return verdict{}, nil, false
		}
		if rep.TLD != b.TLD && rep.Failed() == 0 {
			v = verdict{Reason: fmt.Sprintf("the module describes itself as .%s, the registry binds it to .%s", rep.TLD, b.TLD)}
		}
		if n := rep.Failed(); n > 0 {
			var failed []string
			first := ""
			for _, c := range rep.Checks {
				if c.Status == conformance.Fail {
					failed = append(failed, c.ID)
					if first == "" {
						first = c.Message
					}
				}
			}
			if len(first) > 300 {
				first = first[:300] + "…"
			}
			v = verdict{Reason: fmt.Sprintf("conformance: %d of %d checks failed: %s (%s)", n, len(rep.Checks), strings.Join(failed, ", "), first)}
		}
		f.log.Info("conformance verdict", "plugin", b.Plugin, "ok", v.OK, "passed", rep.Passed(), "failed", rep.Failed(), "elapsed", rep.Elapsed)
	}
	v.Time = f.cfg.Now().UTC()
	f.mu.Lock()
	f.verdicts[b.Plugin] = v
	out, _ := json.MarshalIndent(f.verdicts, "", "  ")
	f.mu.Unlock()
	if err := writeFile(filepath.Join(f.cfg.Dir, "verdicts.json"), append(out, '\n')); err != nil {
		f.log.Error("saving conformance verdicts", "err", err)
	}
	return v, wasm, true
}
