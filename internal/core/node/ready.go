package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/gateway"
	"github.com/ronhost/ronhost/internal/core/tor"
)

// Readiness: /readyz answers 200 when the public plane can serve (the bus
// and, in this process, the gateway, the store, the index, the plugins and
// the ledger). The private plane (tor, the mailbox) and the overlay report
// their own state in /readyz?verbose and the metrics and leave the node
// ready while degraded, unless [node] require names them: a node whose tor
// cannot reach the network still serves its content.

// Component is one part of the node as /readyz?verbose reports it.
type Component struct {
	// State is ready, or why not: starting, bootstrapping, restarting,
	// stopped, degraded, unavailable, off.
	State string `json:"state"`
	Ready bool   `json:"ready"`
	// Required: /readyz answers 503 while it is not ready.
	Required bool   `json:"required"`
	Detail   string `json:"detail,omitempty"`
	// Progress is tor's bootstrap progress in percent.
	Progress *int `json:"progress,omitempty"`
	// Peers is the overlay's DHT routing table size.
	Peers *int `json:"peers,omitempty"`
}

// publicPlane are the components /readyz always requires when the process
// runs them.
var publicPlane = []string{"bus", "gateway", "store", "index", "plugins", "ledger"}

// Components reports each part this process runs, by name.
func (n *Node) Components(ctx context.Context) map[string]Component {
	out := map[string]Component{}
	set := func(name string, ready bool, state, detail string) Component {
		if ready {
			state = "ready"
		}
		c := Component{State: state, Ready: ready, Detail: detail, Required: slices.Contains(publicPlane, name) || n.requires(name)}
		out[name] = c
		return c
	}
	// The bus is nil until it has started (and after a failed Start that
	// did not reach it): then it, and the roles reached over it, are
	// unavailable.
	busUp := n.bus != nil && n.bus.Ready()
	set("bus", busUp, "unavailable", "the bus is not connected")
	if n.has("gateway") {
		set("gateway", n.gw != nil, "starting", "")
	}
	switch {
	case (n.has("gateway") || n.has("index")) && !busUp:
		set("store", false, "unavailable", "the store role is reached over the bus, which is not connected")
	case n.has("gateway") || n.has("index"):
		// The store role may run in another process: a round trip.
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := n.bus.Request(sctx, contract.StoreStat.Spec, contract.Empty{}, nil)
		cancel()
		detail := ""
		if err != nil {
			detail = fmt.Sprintf("the store role does not answer: %v", err)
		}
		set("store", err == nil, "unavailable", detail)
	case n.has("store"):
		set("store", n.store != nil, "starting", "")
	}
	if n.has("index") {
		set("index", n.index != nil, "starting", "")
	}
	if n.has("plugins") {
		waiting := len(n.router.TLDs()) == 0 && n.opts.Config.Plugins.Builtins && len(n.opts.Builtins) > 0
		detail := fmt.Sprintf("%d TLDs", len(n.router.TLDs()))
		if waiting {
			detail = "no plugin is installed yet"
		}
		set("plugins", !waiting, "starting", detail)
	}
	if n.has("ledger") {
		set("ledger", n.ledger != nil, "starting", "")
	}
	if n.has("mailbox") {
		set("mailbox", n.mailbox != nil, "starting", "")
		c := n.torComponent()
		c.Required = n.requires("tor")
		out["tor"] = c
	}
	if n.has("store") || n.has("gateway") || n.has("dht") {
		if n.overlay == nil {
			set("overlay", false, "off", "[overlay] mode = \"off\"")
		} else {
			peers := n.overlay.Peers()
			err := n.overlay.Ready()
			detail := ""
			if err != nil {
				detail = "no peer in the DHT's routing table yet: objects are provided once there is one"
			}
			c := set("overlay", err == nil, "degraded", detail)
			c.Peers = &peers
			out["overlay"] = c
		}
	}
	return out
}

// torComponent is tor's state: off, bootstrapping (with progress),
// restarting, stopped or ready.
func (n *Node) torComponent() Component {
	if n.tor == nil {
		detail := "[tor] mode = \"off\": the mailbox is reachable only on loopback"
		if n.opts.Config.Tor.Mode == "auto" {
			detail = "tor is not installed: the mailbox is reachable only on loopback"
		}
		return Component{State: "off", Detail: detail}
	}
	st := n.tor.Status()
	progress := st.Bootstrap
	c := Component{State: "ready", Ready: st.Err == nil, Progress: &progress}
	if st.Err != nil {
		c.Detail = st.Err.Error()
		switch {
		case errors.Is(st.Err, tor.ErrClosed):
			c.State = "stopped"
		case st.State == "bootstrapping", st.State == "restarting":
			c.State = st.State
		default:
			c.State = "stopped"
		}
	}
	return c
}

// requires says whether [node] require names part.
func (n *Node) requires(part string) bool { return slices.Contains(n.opts.Config.Node.Require, part) }

// Ready says whether the node serves: started, and every required
// component ready (the public plane's, and those [node] require names).
// The error says what is not ready.
func (n *Node) Ready(ctx context.Context) error {
	if !n.ready.Load() {
		return bus.Errorf(codes.Unavailable, "the node is starting or stopping")
	}
	return notReady(n.Components(ctx))
}

// notReady is nil when every required component is ready, else an
// unavailable error naming those that are not.
func notReady(cs map[string]Component) error {
	var why []string
	for _, name := range sortedNames(cs) {
		if c := cs[name]; c.Required && !c.Ready {
			s := name + ": " + c.State
			if c.Detail != "" {
				s += " (" + c.Detail + ")"
			}
			why = append(why, s)
		}
	}
	if len(why) == 0 {
		return nil
	}
	return bus.Errorf(codes.Unavailable, "not ready: %s", strings.Join(why, "; "))
}

func sortedNames(cs map[string]Component) []string {
	names := make([]string, 0, len(cs))
	for name := range cs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// degraded lists the components that are not ready but not required
// (and not turned off).
func degraded(cs map[string]Component) []string {
	out := []string{}
	for _, name := range sortedNames(cs) {
		if c := cs[name]; !c.Required && !c.Ready && c.State != "off" {
			out = append(out, name)
		}
	}
	return out
}

// serveReadyz answers /readyz: 200 or 503 with the error shape, and with
// ?verbose every component's state whatever the status.
func (n *Node) serveReadyz(w http.ResponseWriter, r *http.Request) {
	_, verbose := r.URL.Query()["verbose"]
	cs := n.Components(r.Context())
	err := notReady(cs)
	if !n.ready.Load() {
		err = bus.Errorf(codes.Unavailable, "the node is starting or stopping")
	}
	if !verbose && err != nil {
		gateway.WriteError(w, err)
		return
	}
	// A full disk leaves the node ready: it serves reads, and says that
	// writes get 507 until space is freed.
	body := map[string]any{"status": "ready", "id": n.id, "tlds": n.router.TLDs(), "disk": n.Disk(), "degraded": degraded(cs)}
	status := http.StatusOK
	if err != nil {
		body["status"], body["error"] = "unavailable", err.Error()
		status = http.StatusServiceUnavailable
	}
	if verbose {
		body["components"] = cs
	}
	writeJSON(w, status, body)
}

// startingHandler serves while the node starts (the listener is bound
// first, so that a taken port fails at once): /healthz is 200, /readyz
// 503 (?verbose: status starting, and each component's progress), anything
// else 503 with Retry-After. Nothing it serves reads what Start is wiring.
func (n *Node) startingHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		if _, verbose := r.URL.Query()["verbose"]; verbose {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "starting", "error": "the node is starting", "components": n.startingComponents()})
			return
		}
		gateway.WriteError(w, bus.Errorf(codes.Unavailable, "the node is starting"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		gateway.WriteError(w, bus.Errorf(codes.Unavailable, "the node is starting"))
	})
	return mux
}

// startProgress is what Start has brought up so far.
type startProgress struct {
	mu      sync.Mutex
	done    map[string]bool
	plugins int // how many plugins the last reconcile loads
}

// ready marks part as up.
func (p *startProgress) ready(part string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		p.done = map[string]bool{}
	}
	p.done[part] = true
}

// loading records how many plugins are being loaded.
func (p *startProgress) loading(plugins int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.plugins = plugins
}

// startingComponents are the components this process runs, as far as
// Start has brought them up (the roles are set before the listener serves).
func (n *Node) startingComponents() map[string]Component {
	n.progress.mu.Lock()
	defer n.progress.mu.Unlock()
	out := map[string]Component{}
	add := func(name, detail string) {
		ready := n.progress.done[name]
		c := Component{State: "starting", Ready: ready, Detail: detail,
			Required: slices.Contains(publicPlane, name) || n.requires(name)}
		if ready {
			c.State, c.Detail = "ready", ""
		}
		out[name] = c
	}
	add("bus", "")
	for _, role := range []string{"gateway", "index", "ledger", "mailbox"} {
		if n.has(role) {
			add(role, "")
		}
	}
	if n.has("store") || n.has("gateway") {
		add("store", "")
	}
	if n.has("plugins") {
		add("plugins", fmt.Sprintf("loading plugins: %d of %d installed", len(n.router.TLDs()), n.progress.plugins))
	}
	if n.has("store") || n.has("gateway") || n.has("dht") {
		add("overlay", "")
	}
	return out
}

// swapHandler serves with whichever handler was stored last.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

// readyCollector exports readiness: ron_ready, and per component
// ron_component_ready and ron_component_required; tor's bootstrap progress
// and the overlay's DHT peers.
type readyCollector struct {
	n                          *Node
	ready, comp, req, boot, pe *prometheus.Desc
}

func newReadyCollector(n *Node) *readyCollector {
	return &readyCollector{n: n,
		ready: prometheus.NewDesc("ron_ready", "1 when /readyz answers 200.", nil, nil),
		comp:  prometheus.NewDesc("ron_component_ready", "1 when the component is ready (/readyz?verbose).", []string{"component"}, nil),
		req:   prometheus.NewDesc("ron_component_required", "1 when /readyz waits for the component (the public plane, and [node] require).", []string{"component"}, nil),
		boot:  prometheus.NewDesc("ron_tor_bootstrap_percent", "Tor's bootstrap progress.", nil, nil),
		pe:    prometheus.NewDesc("ron_overlay_dht_peers", "Peers in the overlay DHT's routing table.", nil, nil),
	}
}

func (c *readyCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.ready, c.comp, c.req, c.boot, c.pe} {
		ch <- d
	}
}

func (c *readyCollector) Collect(ch chan<- prometheus.Metric) {
	if !c.n.ready.Load() {
		ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, 0)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	cs := c.n.Components(ctx)
	ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, b2f(notReady(cs) == nil))
	for name, comp := range cs {
		ch <- prometheus.MustNewConstMetric(c.comp, prometheus.GaugeValue, b2f(comp.Ready), name)
		ch <- prometheus.MustNewConstMetric(c.req, prometheus.GaugeValue, b2f(comp.Required), name)
		if name == "tor" && comp.Progress != nil {
			ch <- prometheus.MustNewConstMetric(c.boot, prometheus.GaugeValue, float64(*comp.Progress))
		}
		if name == "overlay" && comp.Peers != nil {
			ch <- prometheus.MustNewConstMetric(c.pe, prometheus.GaugeValue, float64(*comp.Peers))
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
