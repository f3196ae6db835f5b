package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ronhost/ronhost/internal/core/node"
	"github.com/ronhost/ronhost/tlds"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// noBuiltins is what a binary without built-in plugins says at every start
// and in `ronhost version` (docs/RATIONALE.md: why go install builds one).
const noBuiltins = "this ronhost binary carries no built-in TLD plugins (it was built without `make build`, e.g. by `go install`), " +
	"so the node serves no TLD until plugins are installed. Get them with a release archive or the Debian package (docs/OPERATING.md), " +
	"by building from a checkout with `make build`, or install a plugin module with `ronhost plugin install FILE.wasm`"

func versionCommand() *command {
	c := &command{name: "version", summary: "print the version and the built-in plugins"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "version")
		if _, err := parse(fs, args, 0, 0); err != nil {
			return err
		}
		tlds := []string{}
		for _, b := range a.builtins() {
			tlds = append(tlds, b.TLD)
		}
		return a.emit(map[string]any{"name": "ronhost", "version": version, "abi": "1", "builtins": tlds}, func(w io.Writer) {
			fmt.Fprintf(w, "ronhost %s (plugin ABI v1)\n", version)
			if len(tlds) == 0 {
				fmt.Fprintf(w, "built-in plugins: none: %s\n", noBuiltins)
			} else {
				fmt.Fprintf(w, "built-in plugins: %s\n", strings.Join(tlds, " "))
			}
		})
	}
	return c
}

// closeWithin closes n, or gives up after d so that a stop always ends
// the process (whatever is still closing ends with it).
func closeWithin(n *node.Node, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- n.Close() }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("serve: the node did not stop within node.stop_timeout (%s); exiting anyway", d)
	}
}

// embeddedBuiltins converts the plugins embedded by package tlds for the node.
func embeddedBuiltins() []node.Builtin {
	var out []node.Builtin
	for _, b := range tlds.Builtins() {
		out = append(out, node.Builtin{TLD: b.TLD, Hash: b.Hash, Open: b.Wasm})
	}
	return out
}

func serveCommand() *command {
	c := &command{name: "serve", args: "[--roles R,..] [--listen ADDR] [--nats URL] [--bus-listen ADDR]",
		summary: "run a node: every role on an embedded NATS bus (a micronode), or some roles of a macronode (--roles)"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		// SIGHUP first: one sent while the node starts is queued.
		hup, stopHup := a.sighup()
		defer stopHup()
		fs := a.flags(c, "serve")
		listen := fs.String("listen", "", "HTTP gateway address (config node.listen; default 127.0.0.1:8470)")
		natsURL := fs.String("nats", "", "use this existing NATS deployment instead of the embedded server (config bus.url)")
		roles := fs.String("roles", "", "the roles this process runs, comma-separated: gateway,store,index,plugins,ledger,dht,mailbox (config node.roles; default all)")
		busListen := fs.String("bus-listen", "", "also serve the embedded NATS on this address, for the nats CLI and role keys (config bus.listen; needs bus.password or bus.secret_file; off loopback, TLS)")
		if _, err := parse(fs, args, 0, 0); err != nil {
			return err
		}
		dir, err := a.data()
		if err != nil {
			return err
		}
		cfg, err := a.config(dir)
		if err != nil {
			return err
		}
		for key, v := range map[string]string{"node.listen": *listen, "bus.url": *natsURL, "bus.listen": *busListen, "node.roles": *roles} {
			if v != "" {
				if err := cfg.Set(key, v); err != nil {
					return err
				}
			}
		}
		if err := cfg.Validate(); err != nil {
			return err
		}
		var level slog.Level
		_ = level.UnmarshalText([]byte(cfg.Node.LogLevel))
		log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
		builtins := a.builtins()
		if len(builtins) == 0 && cfg.Plugins.Builtins && slices.Contains(cfg.Node.Roles, "plugins") {
			fmt.Fprintf(a.stderr, "ronhost: %s.\n", noBuiltins)
		}
		n := node.New(node.Options{DataDir: dir, Config: cfg, Builtins: builtins, Logger: log, Version: version})
		reload, err := startNode(ctx, n, hup, cfg.Node.StopTimeout.D(), log)
		if err != nil || ctx.Err() != nil {
			return err // nil: stopped while starting
		}
		if err := a.emit(map[string]any{"api": "http://" + n.Addr(), "data": dir, "roles": cfg.Node.Roles, "tlds": n.Router().TLDs()}, func(w io.Writer) {
			fmt.Fprintf(w, "ronhost %s serving on http://%s (data %s)\nroles: %v\nTLDs: %v\n", version, n.Addr(), dir, cfg.Node.Roles, n.Router().TLDs())
		}); err != nil {
			_ = n.Close()
			return err
		}
		for {
			if reload {
				reload = false
				log.Info("reloading plugins (SIGHUP)")
				if err := n.Reconcile(ctx); err != nil {
					log.Error("reloading plugins", "err", err)
				}
			}
			select {
			case <-ctx.Done():
				log.Info("stopping")
				return closeWithin(n, cfg.Node.StopTimeout.D())
			case <-hup:
				reload = true
			}
		}
	}
	return c
}

// startNode starts n while watching the signals: a SIGHUP is queued (the
// reload runs once started; reload reports it), a stop (ctx ending) makes
// Start undo what it started, within stopTimeout. It returns nil when the
// node started, or when it was stopped while starting (ctx has ended then).
func startNode(ctx context.Context, n *node.Node, hup <-chan os.Signal, stopTimeout time.Duration, log *slog.Logger) (reload bool, err error) {
	started := make(chan error, 1)
	go func() { started <- n.Start(ctx) }()
	for {
		select {
		case err := <-started:
			if err != nil && ctx.Err() != nil {
				log.Info("stopped while starting", "err", err)
				return false, nil
			}
			if err == nil && ctx.Err() != nil {
				log.Info("stopping")
				return false, closeWithin(n, stopTimeout)
			}
			return reload, err
		case <-hup:
			if !reload {
				log.Info("SIGHUP while starting: the plugins are reloaded once the node has started")
			}
			reload = true
		case <-ctx.Done():
			log.Info("stopping while starting")
			t := time.NewTimer(stopTimeout)
			defer t.Stop()
			select {
			case err := <-started:
				if err == nil {
					return false, closeWithin(n, stopTimeout)
				}
				log.Info("stopped while starting", "err", err)
				return false, nil
			case <-t.C:
				return false, fmt.Errorf("serve: the node did not stop within node.stop_timeout (%s) while starting; exiting anyway", stopTimeout)
			}
		}
	}
}
