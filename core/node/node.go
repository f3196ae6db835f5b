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
	"github.com/ronhost/ronhost/core/config"
	"github.com/ronhost/ronhost/core/store"
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

// Node is one running ronhost node.
type Node struct {
	opts    Options
	log     *slog.Logger
	host    *plugins.Host
	router  *plugins.Router
	catalog *plugins.Catalog
	metrics *prometheus.Registry

	ln    net.Listener
	srv   *http.Server
	ready atomic.Bool

	reconcileMu sync.Mutex
	lastStamp   string
	sources     map[string]string // TLD -> "builtin" or "installed"

	cancel context.CancelFunc
	wg     sync.WaitGroup
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

// Start creates the data directory, installs the plugins and serves the API.
// On failure it undoes what it started.
func (n *Node) Start(ctx context.Context) (err error) {
	if err := os.MkdirAll(n.opts.DataDir, 0o755); err != nil {
		return fmt.Errorf("node: data directory: %w", err)
	}
	ln, err := net.Listen("tcp", n.opts.Config.Node.Listen)
	if err != nil {
		return fmt.Errorf("node: listening on %s: %w", n.opts.Config.Node.Listen, err)
	}
	n.ln = ln
	defer func() {
		if err != nil {
			_ = ln.Close()
			n.ln = nil
		}
	}()
	if len(n.opts.Builtins) == 0 && n.opts.Config.Plugins.Builtins {
		n.log.Warn("this binary embeds no built-in plugins; build it with `make build`")
	}
	if err := n.Reconcile(ctx); err != nil {
		n.log.Error("some plugins could not be installed", "err", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancel = cancel
	n.srv = &http.Server{Handler: n.handler(), ReadHeaderTimeout: 10 * time.Second}
	n.wg.Add(2)
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
	n.ready.Store(true)
	n.log.Info("node started", "api", "http://"+ln.Addr().String(), "data", n.opts.DataDir, "tlds", n.router.TLDs())
	return nil
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
	}
	for _, tld := range n.router.TLDs() {
		if _, ok := wants[tld]; !ok {
			_ = n.router.Remove(ctx, tld)
			delete(n.sources, tld)
			n.log.Info("plugin removed", "tld", tld)
		}
	}
	return errors.Join(errs...)
}

func (n *Node) source(tld string) string {
	n.reconcileMu.Lock()
	defer n.reconcileMu.Unlock()
	return n.sources[tld]
}

// Close stops the API and the catalog watcher, waits for them, drains every
// plugin's calls in flight and closes the host.
func (n *Node) Close() error {
	n.ready.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	if n.srv != nil {
		err = n.srv.Shutdown(ctx)
	} else if n.ln != nil {
		err = n.ln.Close()
	}
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	_ = n.router.Close(ctx)
	if cerr := n.host.Close(ctx); err == nil {
		err = cerr
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
