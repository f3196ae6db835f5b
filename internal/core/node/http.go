package node

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/config"
	"github.com/ronhost/ronhost/internal/core/gateway"
	"github.com/ronhost/ronhost/internal/plugins"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// PluginInfo is one entry of GET /v1/plugins.
type PluginInfo struct {
	TLD      string        `json:"tld"`
	Plugin   string        `json:"plugin"`
	Source   string        `json:"source"`
	Name     string        `json:"name"`
	Version  string        `json:"version"`
	Summary  string        `json:"summary"`
	Roles    []string      `json:"roles"`
	Features []string      `json:"features"`
	Stats    plugins.Stats `json:"stats"`
}

// gatewayConfig is the gateway's configuration; it logs through the node's
// logger.
func gatewayConfig(c config.Config, log *slog.Logger) (gateway.Config, error) {
	g := c.Gateway
	hosts, err := gateway.NewHosts(g.Domains, g.PathHosts)
	if err != nil {
		return gateway.Config{}, fmt.Errorf("node: [gateway]: %w", err)
	}
	return gateway.Config{
		MaxConcurrent:  g.MaxConcurrent,
		MaxPerClient:   g.MaxPerClient,
		MaxBodyBytes:   int64(g.MaxBody),
		RequestTimeout: g.RequestTimeout.D(),
		WriteIdle:      g.WriteIdle.D(),
		MinReadRate:    minReadRate(int64(g.MinReadRate)),
		MinReadWindow:  g.MinReadWindow.D(),
		Hosts:          hosts,
		Logger:         log.With("component", "gateway"),
	}, nil
}

// minReadRate maps the config's 0 (off) to the gateway's negative (off).
func minReadRate(r int64) int64 {
	if r == 0 {
		return -1
	}
	return r
}

// httpHandler is what the node serves once started: one ServeMux holding
// every route of the node's origin (routes), behind the gateway's
// protections and content routing with the gateway role.
func (n *Node) httpHandler() (http.Handler, error) {
	mux := n.routes()
	if !n.has("gateway") {
		return mux, nil
	}
	gcfg, err := gatewayConfig(n.opts.Config, n.log)
	if err != nil {
		return nil, err
	}
	objs, ok := n.objs.(gateway.Objects)
	if !ok {
		return nil, fmt.Errorf("node: the gateway needs a local store or cache")
	}
	// The gateway declares its API routes on mux (/v1/publish, /v1/objects,
	// /v1/names, /v1/payouts, /v1/payouts/settle) and serves the whole mux
	// under its protections; content (/o/, /r/, /resolve/, content
	// origins) it routes itself, before the mux (RATIONALE.md).
	n.gw = gateway.New(gcfg, objs, backend{n}, n.auth(), mux)
	for _, c := range n.gw.Collectors() {
		n.metrics.MustRegister(c)
	}
	n.progress.ready("gateway")
	return n.gw.Handler(), nil
}

// routes is the node's one ServeMux: its own endpoints, the mailbox's and
// the overlay's and the store's for the CLI, the web console's, and a JSON
// 404 for the rest; the gateway adds its API routes (httpHandler).
func (n *Node) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", n.serveReadyz)
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"name": "ronhost", "version": n.opts.Version, "abi": "1", "id": n.id})
	})
	mux.HandleFunc("GET /v1/plugins", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"plugins": n.Plugins()})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.metrics, promhttp.HandlerOpts{}))
	// The mailbox, for the local operator's CLI: private, so every call needs
	// a token, and served only by the process that runs it (messages never
	// cross the bus). The overlay: this node's peer and where copies of an
	// object are (public), pinning with replicas (a token).
	for pattern, op := range n.mailboxOps() {
		mux.HandleFunc(pattern, n.mailboxCall(op))
	}
	mux.HandleFunc("GET /v1/overlay", n.busCall(contract.DHTPeers.Spec, false, nil))
	mux.HandleFunc("GET /v1/stat/{cid}", n.busCall(contract.DHTStat.Spec, false, func(r *http.Request) (any, error) {
		return map[string]string{"cid": r.PathValue("cid")}, nil
	}))
	mux.HandleFunc("POST /v1/pin", n.busCall(contract.DHTPin.Spec, true, jsonBody(64<<10)))
	// The store's own verbs, for the CLI while a node holds the store.
	mux.HandleFunc("POST /v1/unpin", n.busCall(contract.StoreUnpin.Spec, true, jsonBody(64<<10)))
	mux.HandleFunc("POST /v1/gc", n.busCall(contract.StoreGC.Spec, true, nil))
	mux.HandleFunc("POST /v1/scrub", n.busCall(contract.StoreScrub.Spec, true, jsonBody(64<<10)))
	mux.HandleFunc("GET /v1/store", n.busCall(contract.StoreStat.Spec, false, nil))
	mux.HandleFunc("POST /v1/registry/heads", n.offerHead)
	mux.HandleFunc("GET /v1/registries", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"registries": n.Registries()})
	})
	n.newConsole().Register(mux) // /ui/: the web console (console.go)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		gateway.WriteError(w, bus.Errorf(codes.NotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// busCall serves an endpoint by one role's verb: the request is body(r)
// (nil: {}), the answer the verb's JSON reply. authed endpoints need a token.
func (n *Node) busCall(v bus.Spec, authed bool, body func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if authed {
			if _, err := n.auth().Authorize(r); err != nil {
				gateway.WriteError(w, err)
				return
			}
		}
		var in any = struct{}{}
		if body != nil {
			var err error
			if in, err = body(r); err != nil {
				gateway.WriteError(w, err)
				return
			}
		}
		var out json.RawMessage
		if err := n.bus.Request(r.Context(), v, in, &out); err != nil {
			gateway.WriteError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	}
}

// jsonBody passes a request's JSON body (at most max bytes) on as it is.
func jsonBody(max int64) func(r *http.Request) (any, error) {
	return func(r *http.Request) (any, error) {
		var in json.RawMessage
		if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, max)).Decode(&in); err != nil {
			return nil, bus.Errorf(codes.Invalid, "bad JSON body: %v", err)
		}
		return in, nil
	}
}

// Plugins lists the installed plugins in TLD order.
func (n *Node) Plugins() []PluginInfo {
	var out []PluginInfo
	for _, tld := range n.router.TLDs() {
		p, err := n.router.Plugin(tld)
		if err != nil {
			continue
		}
		d := p.Info()
		// Before its first load a plugin's roles and features are not
		// known: empty lists, never null, for clients that iterate them.
		if d.Roles == nil {
			d.Roles = []string{}
		}
		if d.Features == nil {
			d.Features = []string{}
		}
		out = append(out, PluginInfo{
			TLD: tld, Plugin: p.Hash(), Source: n.source(tld), Name: d.Name, Version: d.Version,
			Summary: d.Summary, Roles: d.Roles, Features: d.Features, Stats: p.Stats(),
		})
	}
	return out
}

// busValidator is the index's Validator: the plugins role's validate verb.
type busValidator struct{ n *Node }

func (v busValidator) Validate(ctx context.Context, tld string, m json.RawMessage, size int64) (json.RawMessage, json.RawMessage, error) {
	out, err := bus.Call(ctx, v.n.bus, contract.PluginsValidate, contract.ValidateReq{TLD: tld, Manifest: m, PayloadSize: size})
	return out.Manifest, out.Index, err
}
