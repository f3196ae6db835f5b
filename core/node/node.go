package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/ronhost/ronhost/bus"
	"github.com/ronhost/ronhost/core/blob"
	"github.com/ronhost/ronhost/core/cid"
	"github.com/ronhost/ronhost/core/config"
	"github.com/ronhost/ronhost/core/gateway"
	"github.com/ronhost/ronhost/core/index"
	"github.com/ronhost/ronhost/core/ledger"
	"github.com/ronhost/ronhost/core/mailbox"
	"github.com/ronhost/ronhost/core/overlay"
	"github.com/ronhost/ronhost/core/store"
	"github.com/ronhost/ronhost/core/token"
	"github.com/ronhost/ronhost/core/tor"
	"github.com/ronhost/ronhost/plugins"
)

// Builtin is a plugin module shipped inside the binary.
type Builtin struct {
	TLD  string
	Wasm []byte
}

// Options configure a Node.
type Options struct {
	DataDir  string
	Config   config.Config
	Builtins []Builtin
	Logger   *slog.Logger
	Version  string
	// ReconcileEvery is how often the node looks for catalog changes made by
	// the CLI (`ronhost plugin install|remove`); 0 means 2 s.
	ReconcileEvery time.Duration
}

// Node is one running ronhost node: every role of a micronode in one
// process, wired explicitly.
type Node struct {
	opts    Options
	log     *slog.Logger
	host    *plugins.Host
	router  *plugins.Router
	catalog *plugins.Catalog
	metrics *prometheus.Registry

	// Set by Start.
	id       string // the node's id, from its key (DATA/keys/node.key)
	payout   string
	tokenKey token.Key
	store    *store.Store
	index    *index.Index
	ledger   *ledger.Ledger
	tor      *tor.Tor // nil when the private plane runs without tor
	mailbox  *mailbox.Mailbox
	bus      *bus.Bus
	gw       *gateway.Gateway
	overlay  *overlay.Overlay // nil with [overlay] mode = off
	blob     *blob.Service
	fetches  fetches
	provide  providing
	runCtx   context.Context // ends when Close begins
	ln       net.Listener
	srv      *http.Server
	ready    atomic.Bool
	settleMu sync.Mutex

	reconcileMu sync.Mutex
	lastStamp   string
	sources     map[string]string // TLD -> "builtin" or "installed"

	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closers []func() error // undone in reverse by Close (and by a failed Start)
}

// New returns a node for opts. It does no I/O.
func New(opts Options) *Node {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ReconcileEvery <= 0 {
		opts.ReconcileEvery = 2 * time.Second
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	host := plugins.New(HostConfig(opts.Config, opts.DataDir, opts.Logger, opts.Version))
	n := &Node{
		opts:    opts,
		log:     opts.Logger,
		host:    host,
		router:  plugins.NewRouter(host),
		catalog: plugins.NewCatalog(filepath.Join(opts.DataDir, "plugins")),
		metrics: prometheus.NewRegistry(),
		sources: map[string]string{},
		fetches: fetches{jobs: map[cid.CID]*fetchJob{}},
		provide: providing{wake: make(chan struct{}, 1)},
	}
	n.metrics.MustRegister(newPluginCollector(n.router))
	return n
}

// HostConfig translates the node configuration into the plugin host's.
func HostConfig(c config.Config, dataDir string, log *slog.Logger, version string) plugins.Config {
	p := c.Plugins
	cache := p.CacheDir
	if cache == "" {
		cache = filepath.Join(dataDir, "cache", "wazero")
	}
	l := plugins.DefaultLimits()
	l.MemoryBytes = uint32(p.MemoryMiB) << 20
	l.Validate = time.Duration(p.ValidateMillis) * time.Millisecond
	l.Split = time.Duration(p.SplitMillis) * time.Millisecond
	l.Resolve = time.Duration(p.ResolveMillis) * time.Millisecond
	return plugins.Config{
		Limits:          l,
		PoolSize:        p.PoolSize,
		CacheDir:        cache,
		MemoEntries:     p.MemoEntries,
		QuarantineAfter: p.QuarantineAfter,
		Logger:          log,
		HostVersion:     version,
	}
}

// Router returns the node's TLD router.
func (n *Node) Router() *plugins.Router { return n.router }

// Addr returns the HTTP API's address once started.
func (n *Node) Addr() string {
	if n.ln == nil {
		return ""
	}
	return n.ln.Addr().String()
}

// Start brings the node up in order: keys, store, index, ledger, bus,
// plugins, the roles' services, the settle loop, then the HTTP API. On
// failure it undoes what it started.
func (n *Node) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			n.undo()
		}
	}()
	dir, cfg := n.opts.DataDir, n.opts.Config
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("node: data directory: %w", err)
	}
	if err := n.keys(); err != nil {
		return err
	}
	if n.store, err = store.Open(ctx, filepath.Join(dir, "store"), StoreOptions(cfg, n.log)); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.closers = append(n.closers, n.store.Close)
	// The index validates through the plugins role on the bus, which is up
	// before any request reaches the index.
	if n.index, err = index.Open(ctx, filepath.Join(dir, "index"), index.Options{Logger: n.log}, objects{n.store, n}, busValidator{n}); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.closers = append(n.closers, n.index.Close)
	if n.ledger, err = ledger.Open(ctx, filepath.Join(dir, "ledger"), ledger.Options{Logger: n.log}); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.closers = append(n.closers, n.ledger.Close)

	// A role's request gets the gateway's request deadline (settling many
	// manifests is the longest).
	bo := bus.Options{URL: cfg.Bus.URL, Listen: cfg.Bus.Listen, CredsFile: cfg.Bus.CredsFile, Name: n.id, Logger: n.log,
		RequestTimeout: cfg.Gateway.RequestTimeout.D()}
	if cfg.Bus.Password != "" {
		bo.User, bo.Password = cfg.Bus.User, cfg.Bus.Password
	}
	n.bus = bus.New(bo)
	if err := n.bus.Start(ctx); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.closers = append(n.closers, n.bus.Close)

	if err := n.startPrivatePlane(ctx); err != nil {
		return err
	}

	// Fetches and the provider loop run under runCtx, which Close (or a
	// failed Start) cancels before the overlay and the store close.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.runCtx, n.cancel = runCtx, cancel
	if err := n.startOverlay(ctx); err != nil {
		return err
	}
	n.closers = append(n.closers, func() error {
		cancel()
		n.fetches.wg.Wait()
		return nil
	})

	if len(n.opts.Builtins) == 0 && cfg.Plugins.Builtins {
		n.log.Warn("this binary embeds no built-in plugins; build it with `make build`")
	}
	if err := n.Reconcile(ctx); err != nil {
		n.log.Error("some plugins could not be installed", "err", err)
	}
	n.closers = append(n.closers, func() error {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.router.Close(cctx)
		return n.host.Close(cctx)
	})
	for _, s := range []struct {
		role, desc string
		eps        map[string]bus.Handler
	}{
		{"store", "the verified content store", n.storeService()},
		{"index", "published manifests and name records", n.indexService()},
		{"plugins", "the TLD plugins: validate, resolve, split", n.pluginsService()},
		{"ledger", "metered accesses and payouts", n.ledgerService()},
		{"mailbox", "the onion mailbox: send, inbox, ack", n.mailboxService()},
		{"dht", "the overlay: peers, where copies are, pinning with replicas", n.dhtService()},
	} {
		if err := n.bus.AddService(s.role, BusAPIVersion, s.desc, s.eps); err != nil {
			return fmt.Errorf("node: %s service: %w", s.role, err)
		}
	}

	ln, err := net.Listen("tcp", cfg.Node.Listen)
	if err != nil {
		return fmt.Errorf("node: listening on %s: %w", cfg.Node.Listen, err)
	}
	n.ln = ln
	n.closers = append(n.closers, func() error {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	})
	n.gw = gateway.New(gatewayConfig(cfg), objects{n.store, n}, backend{n}, n.auth(), n.opsHandler())
	for _, c := range n.gw.Collectors() {
		n.metrics.MustRegister(c)
	}
	if err := n.writeRunFile(); err != nil {
		return err
	}

	n.srv = &http.Server{Handler: n.gw.Handler(), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
	n.wg.Add(4)
	go func() {
		defer n.wg.Done()
		if err := n.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("http server stopped", "err", err)
		}
	}()
	go func() {
		defer n.wg.Done()
		n.watchCatalog(runCtx)
	}()
	go func() {
		defer n.wg.Done()
		n.settleLoop(runCtx)
	}()
	go func() {
		defer n.wg.Done()
		n.provideLoop(runCtx)
	}()
	n.ready.Store(true)
	n.log.Info("node started", "id", n.id, "api", "http://"+ln.Addr().String(), "data", dir, "tlds", n.router.TLDs())
	return nil
}

// auth is the node's capability-token check.
func (n *Node) auth() authorizer { return authorizer{key: n.tokenKey, now: time.Now} }

// emit publishes an event on the bus; a failure is logged, never fatal.
func (n *Node) emit(kind string, v any) {
	if n.bus == nil {
		return
	}
	if err := n.bus.Emit(kind, v); err != nil {
		n.log.Warn("publishing an event", "kind", kind, "err", err)
	}
}

// undo closes what Start opened, in reverse.
func (n *Node) undo() error {
	var errs []error
	for i := len(n.closers) - 1; i >= 0; i-- {
		if err := n.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	n.closers = nil
	return errors.Join(errs...)
}

// settleLoop seals and settles each epoch as it ends, and at start settles
// what a crash left sealed but unsettled.
func (n *Node) settleLoop(ctx context.Context) {
	if _, err := n.settleSealedLocked(ctx); err != nil {
		n.log.Error("settling sealed epochs", "err", err)
	}
	if !n.opts.Config.Payouts.AutoSettle {
		return
	}
	t := time.NewTicker(n.opts.Config.Payouts.Epoch.D())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := n.settle(ctx); err != nil {
				n.log.Error("settling the epoch", "err", err)
			}
		}
	}
}

func (n *Node) settleSealedLocked(ctx context.Context) ([]ledger.Settlement, error) {
	n.settleMu.Lock()
	defer n.settleMu.Unlock()
	return n.settleSealed(ctx)
}

// watchCatalog reconciles whenever the catalog file changes.
func (n *Node) watchCatalog(ctx context.Context) {
	t := time.NewTicker(n.opts.ReconcileEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n.catalogStamp() == n.stamp() {
				continue
			}
			if err := n.Reconcile(ctx); err != nil {
				n.log.Error("reconciling plugins", "err", err)
			}
		}
	}
}

func (n *Node) stamp() string {
	n.reconcileMu.Lock()
	defer n.reconcileMu.Unlock()
	return n.lastStamp
}

func (n *Node) catalogStamp() string {
	fi, err := os.Stat(filepath.Join(n.catalog.Dir(), "installed.json"))
	if err != nil {
		return "none"
	}
	return fmt.Sprintf("%d/%d", fi.ModTime().UnixNano(), fi.Size())
}

// Reconcile makes the router serve exactly the built-ins (less those the
// operator removed) and the installed plugins, hot-reloading what changed and
// reloading what is quarantined.
// A plugin that fails to load is reported and the others still install.
func (n *Node) Reconcile(ctx context.Context) error {
	n.reconcileMu.Lock()
	defer n.reconcileMu.Unlock()
	n.lastStamp = n.catalogStamp()
	entries, removed, err := n.catalog.Entries()
	if err != nil {
		return err
	}
	type want struct {
		hash   string
		source string
		wasm   func() ([]byte, error)
	}
	wants := map[string]want{}
	if n.opts.Config.Plugins.Builtins {
		for _, b := range n.opts.Builtins {
			wasm := b.Wasm
			wants[b.TLD] = want{plugins.HashBytes(wasm), "builtin", func() ([]byte, error) { return wasm, nil }}
		}
		for _, tld := range removed {
			delete(wants, tld)
		}
	}
	for tld, e := range entries {
		e := e
		wants[tld] = want{e.Plugin, "installed", func() ([]byte, error) { return n.catalog.Module(e.Plugin) }}
	}
	var errs []error
	for tld, w := range wants {
		// Unchanged plugins stay; a quarantined one is reloaded, which lifts the quarantine.
		if p, err := n.router.Plugin(tld); err == nil && p.Hash() == w.hash && !p.Stats().Quarantined {
			n.sources[tld] = w.source
			continue
		}
		wasm, err := w.wasm()
		if err == nil {
			_, err = n.router.Install(ctx, tld, wasm)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("node: .%s: %w", tld, err))
			continue
		}
		n.sources[tld] = w.source
		n.log.Info("plugin installed", "tld", tld, "plugin", w.hash, "source", w.source)
		version := ""
		if p, err := n.router.Plugin(tld); err == nil {
			version = p.Info().Version
		}
		n.emit(bus.KindPluginInstalled, bus.PluginInstalled{TLD: tld, Plugin: w.hash, Version: version, Source: w.source})
	}
	for _, tld := range n.router.TLDs() {
		if _, ok := wants[tld]; !ok {
			_ = n.router.Remove(ctx, tld)
			delete(n.sources, tld)
			n.log.Info("plugin removed", "tld", tld)
			n.emit(bus.KindPluginRemoved, bus.PluginRemoved{TLD: tld})
		}
	}
	return errors.Join(errs...)
}

func (n *Node) source(tld string) string {
	n.reconcileMu.Lock()
	defer n.reconcileMu.Unlock()
	return n.sources[tld]
}

// Close stops the API, the loops and the roles, waits for every goroutine
// the node started, drains the plugins' calls in flight and closes the
// databases.
func (n *Node) Close() error {
	n.ready.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	if n.srv != nil {
		err = n.srv.Shutdown(ctx)
	}
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	_ = os.Remove(runFile(n.opts.DataDir))
	if uerr := n.undo(); err == nil {
		err = uerr
	}
	return err
}

// StoreOptions translates the [store] configuration into the store's options.
func StoreOptions(c config.Config, log *slog.Logger) store.Options {
	inline := int(c.Store.InlineMax)
	if inline == 0 {
		inline = -1 // the file says 0: keep only empty objects inline
	}
	return store.Options{QuotaBytes: int64(c.Store.Quota), InlineMax: inline, Logger: log}
}
