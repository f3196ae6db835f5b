package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/node"
	"github.com/ronhost/ronhost/internal/core/registry"
	"github.com/ronhost/ronhost/internal/core/registry/follower"
	"github.com/ronhost/ronhost/internal/plugins"
)

// The maintainers' side of a registry is a working directory (--dir):
//
//	objects/<seq>.json     the published entry objects, in order
//	head.json              the published head
//	modules/<hex>.wasm     modules bound, to upload with their entry
//	proposal.json          the next entry and head, being signed
//
// Every maintainer may keep a copy; only signatures give authority.

func registryCommand() *command {
	return &command{name: "registry", summary: "run a plugin registry (maintainers) or follow one (operators)", sub: []*command{
		registryInitCommand(),
		registryBindCommand(),
		registryRevokeCommand(),
		registryRotateCommand(),
		registryRefreshCommand(),
		registrySignCommand(),
		registryPublishCommand(),
		registryShowCommand(),
		registryFollowCommand(),
	}}
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// workdir is a registry's working directory.
type workdir struct{ dir string }

func (w workdir) proposal() string { return filepath.Join(w.dir, "proposal.json") }

// load verifies the published log of the working directory (nil before the
// genesis is published).
func (w workdir) load() (*registry.Log, error) {
	names, err := filepath.Glob(filepath.Join(w.dir, "objects", "*.json"))
	if err != nil || len(names) == 0 {
		return nil, err
	}
	sort.Strings(names)
	var objs []*registry.Object
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		o, err := registry.ParseObject(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		objs = append(objs, o)
	}
	l, err := registry.Build(objs)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(w.dir, "head.json"))
	if err != nil {
		return nil, err
	}
	sh, err := registry.ParseHead(raw)
	if err != nil {
		return nil, err
	}
	return l.Restore(sh, raw)
}

// propose writes a proposal, signed with keyPath when given, refusing to
// overwrite one being signed.
func (a *app) propose(w workdir, p *registry.Proposal, keyPath string) error {
	if _, err := os.Stat(w.proposal()); err == nil {
		return fmt.Errorf("%s already holds a proposal: publish it or remove it first", w.proposal())
	}
	if keyPath != "" {
		k, err := readKey(keyPath)
		if err != nil {
			return err
		}
		p.Sign(k)
	}
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(w.proposal(), p.Encode(), 0o644); err != nil {
		return err
	}
	what := "a new head"
	if p.Object != nil {
		what = fmt.Sprintf("entry %d (%s)", p.Object.Entry.Seq, p.Object.Entry.Op)
	}
	return a.emit(map[string]any{"proposal": w.proposal(), "registry": p.Head.Head.Registry, "seq": p.Head.Head.Seq},
		func(out io.Writer) {
			fmt.Fprintf(out, "proposed %s of registry %s\nwrote %s: maintainers sign it with `ronhost registry sign %s --key KEY`, then `ronhost registry publish`\n",
				what, p.Head.Head.Registry, w.proposal(), w.proposal())
		})
}

func readKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := plugins.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ed25519.PrivateKey(k), nil
}

// registryFlags adds the flags every proposing command shares.
func registryFlags(fs *flag.FlagSet) (dir, key *string, expires *time.Duration) {
	dir = fs.String("dir", "registry", "the registry's working directory")
	key = fs.String("key", "", "sign the proposal with this maintainer key (from `ronhost plugin keygen`)")
	expires = fs.Duration("expires", 30*24*time.Hour, "how long the new head is valid (nodes refuse it after)")
	return
}

// next loads the published log for a proposal of the next entry.
func next(dir string) (workdir, *registry.Log, error) {
	w := workdir{dir}
	l, err := w.load()
	if err == nil && l == nil {
		err = fmt.Errorf("%s has no published registry: `ronhost registry init`, sign, then `ronhost registry publish` first", dir)
	}
	return w, l, err
}

func registryInitCommand() *command {
	c := &command{name: "init", args: "--threshold M --maintainer KEY... [--name NAME] [--key KEYFILE] [--dir DIR]",
		summary: "propose a new registry (its genesis): M of the maintainer keys must sign every entry"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "registry init")
		var ms listFlag
		fs.Var(&ms, "maintainer", "a maintainer's public key ed25519:<hex> (repeat)")
		threshold := fs.Int("threshold", 0, "signatures an entry needs")
		name := fs.String("name", "registry", "the registry's name")
		dir, key, expires := registryFlags(fs)
		if _, err := parse(fs, args, 0, 0); err != nil {
			return err
		}
		w := workdir{*dir}
		if l, err := w.load(); l != nil || err != nil {
			return fmt.Errorf("%s already holds a registry (%v)", *dir, err)
		}
		p, err := registry.Genesis(*name, ms, *threshold, time.Now(), *expires)
		if err != nil {
			return err
		}
		return a.propose(w, p, *key)
	}
	return c
}

func registryBindCommand() *command {
	c := &command{name: "bind", args: "TLD PLUGIN.wasm [--version V] [--key KEYFILE] [--dir DIR]",
		summary: "propose binding a TLD to a plugin module (an upgrade if the TLD is bound)"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "registry bind")
		version := fs.String("version", "", "the version to record (default: the one the plugin describes)")
		dir, key, expires := registryFlags(fs)
		pos, err := parse(fs, args, 2, 2)
		if err != nil {
			return err
		}
		tld := strings.TrimPrefix(pos[0], ".")
		w, l, err := next(*dir)
		if err != nil {
			return err
		}
		wasm, err := os.ReadFile(pos[1])
		if err != nil {
			return err
		}
		e, err := a.pluginEnv()
		if err != nil {
			return err
		}
		h, p, err := e.load(ctx, wasm)
		if err != nil {
			return err
		}
		d := p.Info()
		_ = h.Close(ctx)
		if d.TLD != tld {
			return fmt.Errorf("%w: the plugin describes itself as .%s, not .%s", plugins.ErrTLDMismatch, d.TLD, tld)
		}
		if *version == "" {
			*version = d.Version
		}
		hash := plugins.HashBytes(wasm)
		entry := &registry.Entry{Op: registry.OpBind, TLD: tld, Plugin: hash, Size: int64(len(wasm)), Version: *version, ABI: registry.ABI}
		if _, bound := l.Bindings()[tld]; bound {
			entry.Op = registry.OpUpgrade
		}
		sig, err := readSignature(pos[1], "")
		if err != nil {
			return err
		}
		if sig != nil {
			pub, err := sig.Verify(hash)
			if err != nil {
				return err
			}
			entry.Publisher = pub.String()
		}
		prop, err := l.Propose(entry, time.Now(), *expires)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(w.dir, "modules"), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(w.dir, "modules", strings.TrimPrefix(hash, "b3:")+".wasm"), wasm, 0o644); err != nil {
			return err
		}
		return a.propose(w, prop, *key)
	}
	return c
}

func registryRevokeCommand() *command {
	c := &command{name: "revoke", args: "b3:HASH --reason TEXT [--key KEYFILE] [--dir DIR]",
		summary: "propose revoking a plugin module: every follower quarantines it"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "registry revoke")
		reason := fs.String("reason", "", "why (every follower shows it)")
		dir, key, expires := registryFlags(fs)
		pos, err := parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		w, l, err := next(*dir)
		if err != nil {
			return err
		}
		prop, err := l.Propose(&registry.Entry{Op: registry.OpRevoke, Plugin: pos[0], Reason: *reason}, time.Now(), *expires)
		if err != nil {
			return err
		}
		return a.propose(w, prop, *key)
	}
	return c
}

func registryRotateCommand() *command {
	c := &command{name: "rotate", args: "--threshold M --maintainer KEY... [--key KEYFILE] [--dir DIR]",
		summary: "propose a new maintainer set (the old set signs the entry, the new set its head)"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "registry rotate")
		var ms listFlag
		fs.Var(&ms, "maintainer", "a maintainer's public key ed25519:<hex> (repeat)")
		threshold := fs.Int("threshold", 0, "signatures an entry needs")
		dir, key, expires := registryFlags(fs)
		if _, err := parse(fs, args, 0, 0); err != nil {
			return err
		}
		w, l, err := next(*dir)
		if err != nil {
			return err
		}
		sorted := slices.Clone(ms)
		slices.Sort(sorted)
		prop, err := l.Propose(&registry.Entry{Op: registry.OpRotate, Maintainers: slices.Compact(sorted), Threshold: *threshold}, time.Now(), *expires)
		if err != nil {
			return err
		}
		return a.propose(w, prop, *key)
	}
	return c
}

func registryRefreshCommand() *command {
	c := &command{name: "refresh", args: "[--expires D] [--key KEYFILE] [--dir DIR]",
		summary: "propose a new head for the same entries (before the current one expires)"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "registry refresh")
		dir, key, expires := registryFlags(fs)
		if _, err := parse(fs, args, 0, 0); err != nil {
			return err
		}
		w, l, err := next(*dir)
		if err != nil {
			return err
		}
		prop, err := l.Propose(nil, time.Now(), *expires)
		if err != nil {
			return err
		}
		return a.propose(w, prop, *key)
	}
	return c
}

func registrySignCommand() *command {
	c := &command{name: "sign", args: "PROPOSAL.json --key KEYFILE",
		summary: "co-sign a proposed entry and its head, offline (the file is updated)"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "registry sign")
		keyPath := fs.String("key", "", "your maintainer key")
		pos, err := parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		if *keyPath == "" {
			return usageError("registry sign: --key is required")
		}
		k, err := readKey(*keyPath)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(pos[0])
		if err != nil {
			return err
		}
		p, err := registry.ParseProposal(b)
		if err != nil {
			return fmt.Errorf("%s: %w", pos[0], err)
		}
		p.Sign(k)
		if err := os.WriteFile(pos[0], p.Encode(), 0o644); err != nil {
			return err
		}
		n := len(p.Head.Signatures)
		return a.emit(map[string]any{"proposal": pos[0], "signatures": n}, func(w io.Writer) {
			fmt.Fprintf(w, "signed %s; it carries %d head signatures\n", pos[0], n)
		})
	}
	return c
}

func registryPublishCommand() *command {
	c := &command{name: "publish", args: "[--dir DIR] [--token T]",
		summary: "publish a signed proposal through this data directory's node (it stores, provides and gossips it)"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "registry publish")
		dir := fs.String("dir", "registry", "the registry's working directory")
		tok := fs.String("token", "", "capability token (default: the node's operator token)")
		if _, err := parse(fs, args, 0, 0); err != nil {
			return err
		}
		w := workdir{*dir}
		l, err := w.load()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(w.proposal())
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("nothing to publish: %s has no proposal", *dir)
		}
		if err != nil {
			return err
		}
		p, err := registry.ParseProposal(b)
		if err != nil {
			return err
		}
		objRaw, headRaw := p.Finish()
		sh, err := registry.ParseHead(headRaw)
		if err != nil {
			return err
		}
		// Judge it as every node will, for a clear error before anything moves.
		var objs []*registry.Object
		var o *registry.Object
		if objRaw != nil {
			if o, err = registry.ParseObject(objRaw); err != nil {
				return err
			}
			objs = append(objs, o)
		}
		base := l
		if base == nil {
			if o == nil {
				return fmt.Errorf("the proposal has no genesis entry")
			}
			if base, err = registry.NewLog(o); err != nil {
				return err
			}
			objs = nil
		}
		if _, err := base.Extend(sh, headRaw, objs, time.Now()); err != nil {
			return fmt.Errorf("this proposal would be refused: %w", err)
		}
		cl, err := a.client(*tok)
		if err != nil {
			return err
		}
		if o != nil && (o.Entry.Op == registry.OpBind || o.Entry.Op == registry.OpUpgrade) {
			wasm, err := os.ReadFile(filepath.Join(w.dir, "modules", strings.TrimPrefix(o.Entry.Plugin, "b3:")+".wasm"))
			if err != nil {
				return fmt.Errorf("the module of this bind: %w", err)
			}
			if err := cl.do(ctx, http.MethodPost, "/v1/objects", "application/octet-stream", bytes.NewReader(wasm), nil); err != nil {
				return err
			}
		}
		if objRaw != nil {
			if err := cl.do(ctx, http.MethodPost, "/v1/objects", "application/octet-stream", bytes.NewReader(objRaw), nil); err != nil {
				return err
			}
		}
		var st follower.Status
		if err := cl.do(ctx, http.MethodPost, "/v1/registry/heads", "application/json", bytes.NewReader(headRaw), &st); err != nil {
			return err
		}
		if objRaw != nil {
			if err := writeNew(filepath.Join(w.dir, "objects", fmt.Sprintf("%08d.json", o.Entry.Seq)), objRaw); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(w.dir, "head.json"), headRaw, 0o644); err != nil {
			return err
		}
		if err := os.Remove(w.proposal()); err != nil {
			return err
		}
		return a.emit(st, func(out io.Writer) {
			fmt.Fprintf(out, "published head %d of registry %s (%d entries); the node gossips it\n", st.Head, st.Registry, st.Entries)
		})
	}
	return c
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func registryShowCommand() *command {
	c := &command{name: "show", args: "[ID] [--dir DIR]",
		summary: "show a registry: the working directory's, or with ID what this data directory's node follows"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "registry show")
		dir := fs.String("dir", "registry", "the registry's working directory")
		pos, err := parse(fs, args, 0, 1)
		if err != nil {
			return err
		}
		var st follower.Status
		if len(pos) == 1 {
			cl, err := a.client("")
			if err != nil {
				return err
			}
			var all struct{ Registries []follower.Status }
			if err := cl.do(ctx, http.MethodGet, "/v1/registries", "", nil, &all); err != nil {
				return err
			}
			i := slices.IndexFunc(all.Registries, func(s follower.Status) bool { return s.Registry == pos[0] })
			if i < 0 {
				return fmt.Errorf("the node does not follow %s (ronhost registry follow %s)", pos[0], pos[0])
			}
			st = all.Registries[i]
		} else {
			l, err := workdir{*dir}.load()
			if err != nil {
				return err
			}
			if l == nil {
				return fmt.Errorf("%s holds no published registry", *dir)
			}
			sh, _ := l.Head()
			st = follower.Status{Registry: l.ID(), Name: l.Name(), Entries: l.Len(), Head: sh.Head.Seq, Expires: sh.Head.Expires,
				Frozen: !time.Now().Before(sh.Head.ExpiresAt()), Bindings: l.Bindings(), Revoked: l.Revoked(), Refused: map[string]uint64{}}
			st.Maintainers, st.Threshold = l.Maintainers()
		}
		return a.emit(st, func(w io.Writer) {
			fmt.Fprintf(w, "registry %s  %q\nentries %d, head %d, expires %s", st.Registry, st.Name, st.Entries, st.Head, st.Expires)
			if st.Frozen {
				fmt.Fprint(w, " (EXPIRED: frozen)")
			}
			fmt.Fprintf(w, "\nmaintainers (%d of %d sign):\n", st.Threshold, len(st.Maintainers))
			for _, m := range st.Maintainers {
				fmt.Fprintf(w, "  %s\n", m)
			}
			if st.Halted != "" {
				fmt.Fprintf(w, "HALTED: %s\n", st.Halted)
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TLD\tVERSION\tPLUGIN\tSTATE")
			tlds := make([]string, 0, len(st.Bindings))
			for t := range st.Bindings {
				tlds = append(tlds, t)
			}
			sort.Strings(tlds)
			for _, t := range tlds {
				b := st.Bindings[t]
				state := "bound"
				if r, ok := st.Revoked[b.Plugin]; ok {
					state = "revoked: " + r.Reason
				}
				fmt.Fprintf(tw, ".%s\t%s\t%s\t%s\n", t, b.Version, b.Plugin, state)
			}
			tw.Flush()
		})
	}
	return c
}

func registryFollowCommand() *command {
	c := &command{name: "follow", args: "b3:ID [--reset]", summary: "follow a registry (after those in [plugins] registries; a running node picks it up)"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "registry follow")
		reset := fs.Bool("reset", false, "forget what this node knew of the registry (a halt after a fork included); the node must be stopped")
		pos, err := parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		id, err := cid.Parse(pos[0])
		if err != nil {
			return fmt.Errorf("%q is not a registry ID (b3:<64 hex>, as `ronhost registry show` prints it)", pos[0])
		}
		dir, err := a.data()
		if err != nil {
			return err
		}
		if *reset {
			if _, err := node.ReadRunInfo(dir); err == nil {
				return fmt.Errorf("a node is serving %s: stop it before --reset", dir)
			}
			if err := os.RemoveAll(filepath.Join(dir, node.RegistryDir, strings.TrimPrefix(id.String(), cid.Prefix))); err != nil {
				return err
			}
		}
		path := node.FollowFile(dir)
		b, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if !slices.Contains(strings.Fields(string(b)), id.String()) {
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
			if err != nil {
				return err
			}
			_, werr := fmt.Fprintln(f, id.String())
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				return werr
			}
		}
		return a.emit(map[string]string{"following": id.String()}, func(w io.Writer) {
			fmt.Fprintf(w, "following %s (a running node joins it within plugins.registry_poll)\n", id)
		})
	}
	return c
}
