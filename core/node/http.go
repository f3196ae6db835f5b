package node

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/ronhost/ronhost/plugins"
)

// apiError is the one shape of every error the API returns.
type apiError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string, retryable bool) {
	writeJSON(w, status, apiError{Code: code, Message: msg, Retryable: retryable})
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

func (n *Node) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !n.ready.Load() {
			writeError(w, http.StatusServiceUnavailable, "not_ready", "the node is starting or stopping", true)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "tlds": n.router.TLDs()})
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"name": "ronhost", "version": n.opts.Version, "abi": "1"})
	})
	mux.HandleFunc("GET /v1/plugins", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"plugins": n.Plugins()})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.metrics, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path, false)
	})
	return mux
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
		out = append(out, PluginInfo{
			TLD: tld, Plugin: p.Hash(), Source: n.source(tld), Name: d.Name, Version: d.Version,
			Summary: d.Summary, Roles: d.Roles, Features: d.Features, Stats: p.Stats(),
		})
	}
	return out
}
