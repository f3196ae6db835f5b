package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/ronhost/ronhost/core/node"
	"github.com/ronhost/ronhost/tlds"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func versionCommand() *command {
	c := &command{name: "version", summary: "print the version"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "version")
		if _, err := parse(fs, args, 0, 0); err != nil {
			return err
		}
		return a.emit(map[string]string{"name": "ronhost", "version": version, "abi": "1"}, func(w io.Writer) {
			fmt.Fprintf(w, "ronhost %s (plugin ABI v1)\n", version)
		})
	}
	return c
}

// builtins converts the embedded plugins for the node.
func builtins() []node.Builtin {
	var out []node.Builtin
	for _, b := range tlds.Builtins() {
		out = append(out, node.Builtin{TLD: b.TLD, Wasm: b.Wasm})
	}
	return out
}

func serveCommand() *command {
	c := &command{name: "serve", args: "[--roles R,..] [--listen ADDR] [--nats URL] [--bus-listen ADDR]",
		summary: "run a node: every role on an embedded NATS bus (a micronode), or some roles of a macronode (--roles)"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "serve")
		listen := fs.String("listen", "", "HTTP gateway address (config node.listen; default 127.0.0.1:8470)")
		natsURL := fs.String("nats", "", "use this existing NATS deployment instead of the embedded server (config bus.url)")
		roles := fs.String("roles", "", "the roles this process runs, comma-separated: gateway,store,index,plugins,ledger,dht,mailbox (config node.roles; default all)")
		busListen := fs.String("bus-listen", "", "also serve the embedded NATS on this address for the nats CLI (config bus.listen; needs bus.password)")
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
		n := node.New(node.Options{DataDir: dir, Config: cfg, Builtins: builtins(), Logger: log, Version: version})
		if err := n.Start(ctx); err != nil {
			return err
		}
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		if err := a.emit(map[string]any{"api": "http://" + n.Addr(), "data": dir, "roles": cfg.Node.Roles, "tlds": n.Router().TLDs()}, func(w io.Writer) {
			fmt.Fprintf(w, "ronhost %s serving on http://%s (data %s)\nroles: %v\nTLDs: %v\n", version, n.Addr(), dir, cfg.Node.Roles, n.Router().TLDs())
		}); err != nil {
			_ = n.Close()
			return err
		}
		for {
			select {
			case <-ctx.Done():
				log.Info("stopping")
				return n.Close()
			case <-hup:
				if err := n.Reconcile(ctx); err != nil {
					log.Error("reloading plugins", "err", err)
				}
			}
		}
	}
	return c
}
