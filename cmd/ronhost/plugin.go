package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/ronhost/ronhost/conformance"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/config"
	"github.com/ronhost/ronhost/internal/core/node"
	"github.com/ronhost/ronhost/internal/core/registry"
	"github.com/ronhost/ronhost/internal/plugins"
	sdkrust "github.com/ronhost/ronhost/sdk-rust"
	"github.com/ronhost/ronhost/sdk-wasm/template"
)

func pluginCommand() *command {
	return &command{name: "plugin", summary: "install, inspect, test, sign and create TLD plugins", sub: []*command{
		pluginInstallCommand(),
		pluginListCommand(),
		pluginInfoCommand(),
		pluginRemoveCommand(),
		pluginTestCommand(),
		pluginCallCommand(),
		pluginSignCommand(),
		pluginKeygenCommand(),
		pluginNewCommand(),
	}}
}

// pluginEnv is what the plugin commands need of the data directory.
type pluginEnv struct {
	dir     string
	cfg     config.Config
	catalog *plugins.Catalog
}

func (a *app) pluginEnv() (*pluginEnv, error) {
	dir, err := a.data()
	if err != nil {
		return nil, err
	}
	cfg, err := a.config(dir)
	if err != nil {
		return nil, err
	}
	return &pluginEnv{dir: dir, cfg: cfg, catalog: plugins.NewCatalog(filepath.Join(dir, "plugins"))}, nil
}

// pluginArg parses the one argument of a plugin command (after its flags)
// and opens the data directory's plugin environment.
func (a *app) pluginArg(fs *flag.FlagSet, args []string) (string, *pluginEnv, error) {
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return "", nil, err
	}
	e, err := a.pluginEnv()
	if err != nil {
		return "", nil, err
	}
	return pos[0], e, nil
}

// load compiles and checks a module under the node's limits; the caller closes the host.
func (e *pluginEnv) load(ctx context.Context, wasm []byte) (*plugins.Host, *plugins.Plugin, error) {
	cfg := node.HostConfig(e.cfg, e.dir, slog.New(slog.DiscardHandler), version)
	cfg.PoolSize = 1
	h := plugins.New(cfg)
	p, err := h.Load(ctx, wasm)
	if err != nil {
		_ = h.Close(ctx)
		return nil, nil, err
	}
	return h, p, nil
}

// readSignature reads path, or FILE.sig beside the module when path is "".
// It returns nil when there is no signature file.
func readSignature(module, path string) (*plugins.Signature, error) {
	explicit := path != ""
	if !explicit {
		path = module + ".sig"
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s, err := plugins.ParseSignature(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

func pluginInstallCommand() *command {
	c := &command{name: "install", args: "FILE.wasm|b3:HASH [--tld NAME] [--sig FILE.sig] [--allow-unsigned] [--replace-builtin]",
		summary: "install a plugin for its TLD (a running node hot-reloads it)"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "plugin install")
		tld := fs.String("tld", "", "the TLD to install it for (default: the one it describes)")
		sigPath := fs.String("sig", "", "signature file (default: FILE.wasm.sig when present)")
		allow := fs.Bool("allow-unsigned", false, "install even if unsigned or signed by an untrusted publisher")
		replace := fs.Bool("replace-builtin", false, "replace a built-in TLD's plugin with one not signed by a trusted publisher")
		arg, e, err := a.pluginArg(fs, args)
		if err != nil {
			return err
		}
		var wasm []byte
		var sig *plugins.Signature
		if strings.HasPrefix(arg, cid.Prefix) {
			// A module by hash: fetched through the node from its peers,
			// verified against the hash.
			if wasm, err = a.fetchModule(ctx, arg); err != nil {
				return err
			}
			if *sigPath != "" {
				sig, err = readSignature("", *sigPath)
			}
		} else {
			if wasm, err = os.ReadFile(arg); err == nil {
				sig, err = readSignature(arg, *sigPath)
			}
		}
		if err != nil {
			return err
		}
		hash := plugins.HashBytes(wasm)
		var trusted []plugins.PublicKey
		for _, s := range e.cfg.Plugins.TrustedPublishers {
			k, err := plugins.ParsePublicKey(s)
			if err != nil {
				return fmt.Errorf("config: plugins.trusted_publishers: %w", err)
			}
			trusted = append(trusted, k)
		}
		policy := plugins.TrustPolicy{Trusted: trusted, AllowUnsigned: *allow}
		if err := policy.Check(hash, sig); err != nil {
			return err
		}
		h, p, err := e.load(ctx, wasm)
		if err != nil {
			return err
		}
		defer h.Close(ctx)
		d := p.Info()
		if *tld == "" {
			*tld = d.TLD
		}
		if d.TLD != *tld {
			return fmt.Errorf("%w: the plugin describes itself as .%s, not .%s", plugins.ErrTLDMismatch, d.TLD, *tld)
		}
		if b, ok := a.activeBuiltin(e, *tld); ok && plugins.HashBytes(b) != hash {
			if err := policy.CheckReplaceBuiltin(*tld, hash, sig, *replace); err != nil {
				return err
			}
		}
		entry, err := e.catalog.Put(*tld, wasm, sig)
		if err != nil {
			return err
		}
		return a.emit(entry, func(w io.Writer) {
			who := "unsigned"
			if entry.Publisher != "" {
				who = "signed by " + entry.Publisher
			}
			fmt.Fprintf(w, "installed %s %s for .%s (%s)\n", d.Name, d.Version, *tld, who)
			fmt.Fprintf(w, "plugin %s\n", hash)
		})
	}
	return c
}

// listed is one row of `plugin list`.
type listed struct {
	TLD       string `json:"tld"`
	Plugin    string `json:"plugin"`
	Source    string `json:"source"` // builtin, installed, or registry b3:<id>
	Publisher string `json:"publisher,omitempty"`
	Version   string `json:"version,omitempty"`
	Status    string `json:"status"` // active, shadowed (a local plugin wins), refused or revoked
	Reason    string `json:"reason,omitempty"`
}

func pluginListCommand() *command {
	c := &command{name: "list", summary: "list the plugins a node on this data directory serves"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "plugin list")
		if _, err := parse(fs, args, 0, 0); err != nil {
			return err
		}
		e, err := a.pluginEnv()
		if err != nil {
			return err
		}
		entries, removed, err := e.catalog.Entries()
		if err != nil {
			return err
		}
		regRows, err := e.catalog.Registry()
		if err != nil {
			return err
		}
		rows := map[string]listed{}
		if e.cfg.Plugins.Builtins {
			for _, b := range a.builtins() {
				hash, err := b.PluginHash()
				if err != nil {
					return err
				}
				rows[b.TLD] = listed{TLD: b.TLD, Plugin: hash, Source: "builtin", Status: "active"}
			}
		}
		for _, t := range removed {
			delete(rows, t)
		}
		for t, en := range entries {
			rows[t] = listed{TLD: t, Plugin: en.Plugin, Source: "installed", Publisher: en.Publisher, Status: "active"}
		}
		out := make([]listed, 0, len(rows))
		for _, r := range rows {
			out = append(out, r)
		}
		// What registries provide: served unless a local plugin has the TLD.
		for _, r := range regRows {
			l := listed{TLD: r.TLD, Plugin: r.Plugin, Source: "registry " + r.Origin, Publisher: r.Publisher,
				Version: r.Version, Status: r.Status, Reason: r.Reason}
			if l.Status == plugins.StatusActive {
				l.Status = "active"
				if _, local := rows[r.TLD]; local {
					l.Status = "shadowed"
				}
			}
			out = append(out, l)
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].TLD < out[j].TLD })
		return a.emit(map[string]any{"plugins": out}, func(w io.Writer) {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TLD\tSTATUS\tSOURCE\tPLUGIN\tPUBLISHER")
			for _, r := range out {
				pub := r.Publisher
				if pub == "" {
					pub = "-"
				}
				fmt.Fprintf(tw, ".%s\t%s\t%s\t%s\t%s\n", r.TLD, r.Status, r.Source, r.Plugin, pub)
				if r.Reason != "" {
					fmt.Fprintf(tw, "\t  %s\t\t\t\n", r.Reason)
				}
			}
			tw.Flush()
		})
	}
	return c
}

// moduleFor returns the module an argument names: a .wasm file, or a TLD a
// node on this data directory serves.
func (a *app) moduleFor(e *pluginEnv, arg string) ([]byte, string, error) {
	if strings.HasSuffix(arg, ".wasm") || strings.ContainsRune(arg, os.PathSeparator) {
		b, err := os.ReadFile(arg)
		return b, "file", err
	}
	tld := strings.TrimPrefix(arg, ".")
	entries, removed, err := e.catalog.Entries()
	if err != nil {
		return nil, "", err
	}
	if en, ok := entries[tld]; ok {
		b, err := e.catalog.Module(en.Plugin)
		return b, "installed", err
	}
	if e.cfg.Plugins.Builtins && !slices.Contains(removed, tld) {
		for _, b := range a.builtins() {
			if b.TLD == tld {
				wasm, err := b.Bytes()
				return wasm, "builtin", err
			}
		}
	}
	return nil, "", fmt.Errorf("%w: no plugin serves .%s here (give a .wasm file or an installed TLD)", plugins.ErrUnknownTLD, tld)
}

func pluginInfoCommand() *command {
	c := &command{name: "info", args: "TLD|FILE.wasm", summary: "describe a plugin: its TLD, roles, features, hash and size"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "plugin info")
		arg, e, err := a.pluginArg(fs, args)
		if err != nil {
			return err
		}
		wasm, source, err := a.moduleFor(e, arg)
		if err != nil {
			return err
		}
		h, p, err := e.load(ctx, wasm)
		if err != nil {
			return err
		}
		defer h.Close(ctx)
		d := p.Info()
		info := map[string]any{
			"tld": d.TLD, "name": d.Name, "version": d.Version, "summary": d.Summary,
			"roles": d.Roles, "features": d.Features, "examples": len(d.Examples),
			"plugin": p.Hash(), "size": len(wasm), "source": source,
		}
		return a.emit(info, func(w io.Writer) {
			fmt.Fprintf(w, ".%s  %s %s  (%s)\n%s\n", d.TLD, d.Name, d.Version, source, d.Summary)
			fmt.Fprintf(w, "plugin:   %s (%d bytes)\nroles:    %s\nfeatures: %s\nexamples: %d\n",
				p.Hash(), len(wasm), strings.Join(d.Roles, ", "), strings.Join(d.Features, ", "), len(d.Examples))
		})
	}
	return c
}

func pluginRemoveCommand() *command {
	c := &command{name: "remove", args: "TLD", summary: "uninstall the plugin for a TLD (a built-in stays off until reinstalled)"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "plugin remove")
		arg, e, err := a.pluginArg(fs, args)
		if err != nil {
			return err
		}
		tld := strings.TrimPrefix(arg, ".")
		builtin := false
		for _, b := range a.builtins() {
			builtin = builtin || b.TLD == tld
		}
		if err := e.catalog.Remove(tld, builtin); err != nil {
			return err
		}
		return a.emit(map[string]string{"removed": tld}, func(w io.Writer) { fmt.Fprintf(w, "removed .%s\n", tld) })
	}
	return c
}

func pluginTestCommand() *command {
	c := &command{name: "test", args: "FILE.wasm [--cases DIR] [--junit FILE] [--update]",
		summary: "run the conformance suite on a plugin; ends with 'N passed, N failed'"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "plugin test")
		cases := fs.String("cases", "", "directory of data-driven cases (NAME.json)")
		junit := fs.String("junit", "", "also write a JUnit XML report to FILE")
		update := fs.Bool("update", false, "rewrite the cases' expectations with the plugin's answers")
		seed := fs.Uint64("seed", 0, "seed of the generated inputs (default: the suite's fixed seed)")
		pos, err := parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		wasm, err := os.ReadFile(pos[0])
		if err != nil {
			return err
		}
		opts := conformance.Options{CasesDir: *cases, Update: *update, Seed: *seed}
		if e, err := a.pluginEnv(); err == nil {
			opts.CacheDir = node.HostConfig(e.cfg, e.dir, nil, version).CacheDir
		}
		rep, err := conformance.Run(ctx, wasm, opts)
		if err != nil {
			return err
		}
		if *junit != "" {
			f, err := os.Create(*junit)
			if err != nil {
				return err
			}
			werr := rep.WriteJUnit(f)
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				return werr
			}
		}
		if err := a.emit(rep, func(w io.Writer) { _ = rep.WriteText(w) }); err != nil {
			return err
		}
		if rep.Failed() > 0 {
			return errReported
		}
		return nil
	}
	return c
}

func pluginSignCommand() *command {
	c := &command{name: "sign", args: "FILE.wasm --key KEYFILE [-o FILE.wasm.sig]", summary: "sign a plugin's hash with a publisher key"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "plugin sign")
		keyPath := fs.String("key", "", "the publisher's private key file (from 'plugin keygen')")
		out := fs.String("o", "", "signature file (default FILE.wasm.sig)")
		pos, err := parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		if *keyPath == "" {
			return usageError("plugin sign: --key is required")
		}
		kb, err := os.ReadFile(*keyPath)
		if err != nil {
			return err
		}
		key, err := plugins.ParsePrivateKey(kb)
		if err != nil {
			return err
		}
		wasm, err := os.ReadFile(pos[0])
		if err != nil {
			return err
		}
		if *out == "" {
			*out = pos[0] + ".sig"
		}
		sig := plugins.Sign(key, plugins.HashBytes(wasm))
		if err := os.WriteFile(*out, sig.Marshal(), 0o644); err != nil {
			return err
		}
		return a.emit(map[string]string{"signature": *out, "plugin": sig.Plugin, "publisher": sig.Publisher}, func(w io.Writer) {
			fmt.Fprintf(w, "signed %s\nplugin    %s\npublisher %s\nwrote     %s\n", pos[0], sig.Plugin, sig.Publisher, *out)
		})
	}
	return c
}

func pluginKeygenCommand() *command {
	c := &command{name: "keygen", args: "[-o KEYFILE]", summary: "make a publisher key pair; prints the public key to trust"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "plugin keygen")
		out := fs.String("o", "publisher.key", "private key file to write (mode 0600; never overwritten)")
		if _, err := parse(fs, args, 0, 0); err != nil {
			return err
		}
		key, err := plugins.GenerateKey()
		if err != nil {
			return err
		}
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, werr := f.Write(key.MarshalText())
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return werr
		}
		pub := key.Public().String()
		return a.emit(map[string]string{"public_key": pub, "private_key_file": *out}, func(w io.Writer) {
			fmt.Fprintf(w, "wrote %s (keep it secret)\npublic key: %s\n", *out, pub)
			fmt.Fprintln(w, "nodes that trust you list it in [plugins] trusted_publishers")
		})
	}
	return c
}

func pluginNewCommand() *command {
	c := &command{name: "new", args: "NAME [--lang go|rust|c] [--dir DIR] [--module PATH] [--sdk-replace DIR]",
		summary: "write a template plugin for the TLD NAME (Go, Rust or C) that builds and passes conformance"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "plugin new")
		lang := fs.String("lang", "go", "the plugin's language: go, rust or c")
		dir := fs.String("dir", "", "where to write it (default ./ron-NAME)")
		module := fs.String("module", "", "Go module path (default example.com/ron-NAME; Go only)")
		replace := fs.String("sdk-replace", "", "use the Go SDK from this local directory (a replace directive; Go only)")
		pos, err := parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		tld := pos[0]
		if *dir == "" {
			*dir = "ron-" + tld
		}
		var next string
		switch *lang {
		case "go":
			opts := template.Options{Module: *module}
			if *replace != "" {
				abs, err := filepath.Abs(*replace)
				if err != nil {
					return err
				}
				opts.SDKReplace = abs
			}
			err = template.Write(*dir, tld, opts)
			next = "go test ./... && GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o plugin.wasm . && ronhost plugin test plugin.wasm --cases testdata/cases"
		case "rust":
			err = sdkrust.Write(*dir, tld, sdkrust.Options{})
			next = "make test   (cargo test, cargo build --release --target wasm32-wasi, ronhost plugin test)"
		case "c":
			err = template.Write(*dir, tld, template.Options{Lang: "c"})
			next = "make test   (clang -> plugin.wasm, ronhost plugin test)"
		default:
			return usageError("plugin new: --lang must be go, rust or c")
		}
		if err != nil {
			return err
		}
		return a.emit(map[string]string{"dir": *dir, "tld": tld, "lang": *lang}, func(w io.Writer) {
			fmt.Fprintf(w, "wrote a .%s plugin in %s (%s)\nnext: cd %s && %s\n", tld, *dir, *lang, *dir, next)
		})
	}
	return c
}

// fetchModule fetches the module named by hash through the running node
// (which finds it on its peers and verifies it as it fetches) and checks
// the bytes against the hash again.
func (a *app) fetchModule(ctx context.Context, hash string) ([]byte, error) {
	c, err := cid.Parse(hash)
	if err != nil {
		return nil, err
	}
	cl, err := a.client("")
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cl.api+"/o/"+c.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the node at %s does not answer: %w", cl.api, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("fetching %s through the node: %s: %s", c, resp.Status, strings.TrimSpace(string(b)))
	}
	wasm, err := io.ReadAll(io.LimitReader(resp.Body, registry.MaxModule+1))
	if err != nil {
		return nil, err
	}
	if got := cid.Sum(wasm); got != c {
		return nil, fmt.Errorf("the node answered bytes hashing to %s for %s: refused", got, c)
	}
	return wasm, nil
}

// activeBuiltin returns the built-in module for tld when this node serves
// built-ins and the operator has not removed that one.
func (a *app) activeBuiltin(e *pluginEnv, tld string) ([]byte, bool) {
	if !e.cfg.Plugins.Builtins {
		return nil, false
	}
	_, removed, err := e.catalog.Entries()
	if err != nil || slices.Contains(removed, tld) {
		return nil, false
	}
	for _, b := range a.builtins() {
		if b.TLD == tld {
			wasm, err := b.Bytes()
			return wasm, err == nil
		}
	}
	return nil, false
}
