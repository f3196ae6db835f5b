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
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/core/blob"
	"github.com/ronhost/ronhost/internal/core/config"
	"github.com/ronhost/ronhost/internal/core/console"
	"github.com/ronhost/ronhost/internal/core/fetch"
	"github.com/ronhost/ronhost/internal/core/gateway"
	"github.com/ronhost/ronhost/internal/core/index"
	"github.com/ronhost/ronhost/internal/core/index/indexsvc"
	"github.com/ronhost/ronhost/internal/core/ledger"
	"github.com/ronhost/ronhost/internal/core/ledger/ledgersvc"
	"github.com/ronhost/ronhost/internal/core/mailbox"
	"github.com/ronhost/ronhost/internal/core/objects"
	"github.com/ronhost/ronhost/internal/core/overlay"
	"github.com/ronhost/ronhost/internal/core/registry/follower"
	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/core/token"
	"github.com/ronhost/ronhost/internal/core/tor"
	"github.com/ronhost/ronhost/internal/plugins"
	"github.com/ronhost/ronhost/internal/plugins/pluginsvc"
	"github.com/ronhost/ronhost/internal/secretfile"
)

// Builtin is a plugin module shipped inside the binary.
type Builtin struct {
	TLD  string
	Wasm []byte // the module, or nil when Open reads it
	// Open reads the module when a load needs it, so that the bytes of a
	// built-in nobody asks for are never read (nor copied out of the
	// binary); nil means Wasm.
	Open func() ([]byte, error)
	// Hash is the module's plugin hash when known without reading it (make
	// build writes it beside the module); "" means the hash of its bytes.
	Hash string
}

// Bytes returns the module.
func (b Builtin) Bytes() ([]byte, error) {
	if b.Open != nil {
		return b.Open()
	}
	return b.Wasm, nil
}

// PluginHash returns the module's plugin hash, reading it only when Hash
// is not set.
func (b Builtin) PluginHash() (string, error) {
	if b.Hash != "" {
		return b.Hash, nil
	}
	wasm, err := b.Bytes()
	if err != nil {
		return "", err
	}
	return plugins.HashBytes(wasm), nil
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
	revoked  *token.Revocations // DATA/keys/revoked
	store    *store.Store
	index    *index.Index
	ledger   *ledger.Ledger
	tor      *tor.Tor // nil when the private plane runs without tor
	mailbox  *mailbox.Mailbox
	bus      *bus.Bus
	roles    map[string]bool
	objs     objects.Objects
	gw       *gateway.Gateway
	overlay  *overlay.Overlay // nil with [overlay] mode = off
	blob     *blob.Service
	fetcher  *fetch.Fetcher // nil without the blob protocol
	provide  providing
	runCtx   context.Context // ends when the loops stop
	ln       net.Listener
	srv      *http.Server
	served   chan struct{} // closed when srv's Serve has returned
	handler  swapHandler   // startingHandler until Start is done
	api      http.Handler  // the node's handler (http.go), served once started
	progress startProgress // what Start has brought up, for /readyz?verbose meanwhile
	plugs    *pluginLoad   // the plugins' load at start
	// beforeLoad, when set (tests), runs before the plugins load at start;
	// stopHook, when set (tests), is told each component stopped.
	beforeLoad func(ctx context.Context)
	stopHook   func(component string)
	ready      atomic.Bool
	ledgerSvc  *ledgersvc.Service // nil without the ledger role

	reconcileMu sync.Mutex
	lastStamp   string
	sources     map[string]string                 // TLD -> "builtin", "installed" or "registry b3:<id>"
	blocked     atomic.Pointer[map[string]string] // TLD -> why a revocation leaves it without a plugin
	follower    *follower.Follower
	console     *console.Console // the web console (console.go)

	cancel  context.CancelFunc // ends runCtx
	wg      sync.WaitGroup     // the loops and what they started
	up      []startedComponent // the components Start began, in order
	closers []func() error     // their stops, run in reverse by Close (and by a failed Start)
}

// New returns a node for opts. It does no I/O.
func New(opts Options) *Node {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// A line logged with a request's context carries its request id.
	opts.Logger = slog.New(bus.LogHandler(opts.Logger.Handler()))
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
		provide: providing{wake: make(chan struct{}, 1)},
	}
	n.metrics.MustRegister(newPluginCollector(n.router), newDiskCollector(n), newReadyCollector(n))
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
	// The configured deadlines are in ABI v1 terms: each sets a fuel budget,
	// the verdict, and a wall-clock safety net 20 times longer (ABI v1.1).
	l.SetDeadline(plugins.EntryValidate, time.Duration(p.ValidateMillis)*time.Millisecond)
	l.SetDeadline(plugins.EntrySplit, time.Duration(p.SplitMillis)*time.Millisecond)
	l.SetDeadline(plugins.EntryResolve, time.Duration(p.ResolveMillis)*time.Millisecond)
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

// component is one part of the node. Start starts the components in order;
// when one fails (or ctx ends first: a stop while starting) it stops those
// already started, in reverse; Close stops them all in reverse. A start
// that opens several things (the private plane, the overlay) registers a
// stop for each as it goes (onStop), so that its own failure half-way
// undoes what it opened; stop, when set, is registered once start returns.
type component struct {
	name  string
	on    bool // this process runs it
	start func(ctx context.Context) error
	stop  func() error
}

// components are the node's parts in the order Start brings them up: the
// HTTP listener first (a taken port fails at once, and clients learn at
// once that the node is starting: /healthz answers 200, /readyz 503 with
// what is still starting in ?verbose, anything else 503 with Retry-After),
// the plugins' registration (in the background, joined before the roles
// serve; nothing is compiled: each plugin loads at its first call), keys,
// the store (the store role's, or a gateway's cache), index, ledger, the
// operator's token (once the locks are held), bus, private plane, the
// overlay, the roles' services, the routes, then the loops and the swap to
// the node's own handler. Stopped in reverse: the HTTP API first, the
// listener last.
func (n *Node) components() []component {
	has := n.has
	return []component{
		{"listener", true, n.listen, n.closeListener},
		{"data directory", true, n.dataDir, nil},
		{"plugin load", true, n.loadPlugins, n.stopPluginLoad},
		{"keys", true, func(context.Context) error { return n.keys() }, nil},
		{"store", has("store") || has("gateway"), n.openStore, func() error { return n.store.Close() }},
		{"objects", true, n.objects, nil},
		{"index", has("index"), n.openIndex, func() error { return n.index.Close() }},
		{"ledger", has("ledger"), n.openLedger, func() error { return n.ledger.Close() }},
		{"operator token", true, func(context.Context) error { return n.operatorToken() }, nil},
		{"bus", true, n.startBus, func() error { return n.bus.Close() }},
		{"mailbox", has("mailbox"), n.startMailbox, nil},
		{"overlay", has("store") || has("gateway") || has("dht"), n.joinOverlay, nil},
		{"fetches", true, nil, n.stopFetches},
		{"plugins", has("plugins"), n.joinPlugins, nil},
		{"registries", has("plugins"), n.startFollower, nil},
		{"services", true, n.serveRoles, nil},
		{"routes", true, n.buildHandler, n.closeConsole},
		{"run file", true, func(context.Context) error { return n.writeRunFile() }, n.removeRunFile},
		{"loops", true, n.startLoops, n.stopLoops},
		{"api", true, n.serve, n.shutdown},
	}
}

// Start brings the node's components up in order (components) and
// returns once the node serves. On failure, or when ctx ends first (a stop
// while starting), it stops what it started, in reverse, the plugins' load
// included, and returns an error naming the component.
func (n *Node) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = n.undo()
		}
	}()
	cfg := n.opts.Config
	if err := config.CheckRoles(cfg.Node.Roles); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.roles = map[string]bool{}
	for _, r := range cfg.Node.Roles {
		n.roles[r] = true
	}
	if n.has("gateway") && !n.has("store") && cfg.Overlay.Mode == "off" {
		return fmt.Errorf("node: a gateway without the store role reaches the store's bytes over the overlay: set [overlay] mode = \"on\"")
	}
	// Fetches and the loops run under runCtx, which Close (or a failed
	// Start) cancels before the overlay and the store close.
	n.runCtx, n.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, c := range n.components() {
		if !c.on {
			continue
		}
		if err := n.startComponent(ctx, c); err != nil {
			return &startError{component: c.name, err: err}
		}
	}
	n.log.Info("node started", "id", n.id, "roles", cfg.Node.Roles, "api", "http://"+n.ln.Addr().String(), "data", n.opts.DataDir, "tlds", n.router.TLDs())
	return nil
}

// startComponent starts c and registers its stop; the stops c's start
// registered as it went are c's too (undo stops them with it).
func (n *Node) startComponent(ctx context.Context, c component) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start interrupted: %w", err)
	}
	n.up = append(n.up, startedComponent{name: c.name, from: len(n.closers)})
	if c.start != nil {
		if err := c.start(ctx); err != nil {
			return err
		}
	}
	if c.stop != nil {
		n.onStop(c.stop)
	}
	n.up[len(n.up)-1].started = true
	return nil
}

// startError is a failed Start: the component that failed, and why.
type startError struct {
	component string
	err       error
}

func (e *startError) Error() string {
	return "node: " + e.component + ": " + strings.TrimPrefix(e.err.Error(), "node: ")
}

func (e *startError) Unwrap() error { return e.err }

// startedComponent is a component Start began: its stops are closers[from:]
// up to the next one's from.
type startedComponent struct {
	name    string
	from    int
	started bool // its start returned nil
}

// onStop registers stop for the component starting now.
func (n *Node) onStop(stop func() error) { n.closers = append(n.closers, stop) }

// undo stops what Start started, in reverse: each component's stops, its
// own in reverse too. It is safe to call again.
func (n *Node) undo() error {
	var errs []error
	end := len(n.closers)
	for i := len(n.up) - 1; i >= 0; i-- {
		c := n.up[i]
		for j := end - 1; j >= c.from; j-- {
			if err := n.closers[j](); err != nil {
				errs = append(errs, fmt.Errorf("node: stopping %s: %w", c.name, err))
			}
		}
		end = c.from
		if c.started && n.stopHook != nil {
			n.stopHook(c.name)
		}
	}
	n.closers, n.up = nil, nil
	return errors.Join(errs...)
}

// listen binds [node] listen and serves startingHandler on it until the
// api component installs the node's handler. A taken port is
// ErrAddrInUse, said plainly.
func (n *Node) listen(context.Context) error {
	cfg := n.opts.Config
	ln, err := net.Listen("tcp", cfg.Node.Listen)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w: %s (another node or program listens there; set [node] listen or serve --listen): %v", ErrAddrInUse, cfg.Node.Listen, err)
	}
	if err != nil {
		return fmt.Errorf("node: listening on %s: %w", cfg.Node.Listen, err)
	}
	n.ln = ln
	n.handler.set(n.startingHandler())
	// Slow or idle clients cannot keep connections: the request line and
	// headers within read_header_timeout, a keep-alive connection closed
	// after idle_timeout between requests (bodies and responses have the
	// gateway's own idle and rate limits).
	n.srv = &http.Server{Handler: &n.handler, ReadHeaderTimeout: cfg.Gateway.ReadHeader.D(),
		IdleTimeout: cfg.Gateway.IdleTimeout.D(), MaxHeaderBytes: 64 << 10}
	n.served = make(chan struct{})
	go func(srv *http.Server, served chan struct{}) {
		defer close(served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("http server stopped", "err", err)
		}
	}(n.srv, n.served)
	return nil
}

// closeListener ends the HTTP server (shut down gracefully already when
// the node served: shutdown) and waits for it.
func (n *Node) closeListener() error {
	err := n.srv.Close()
	<-n.served
	return err
}

// dataDir makes the data directory, private to its owner, like the config
// file in it.
func (n *Node) dataDir(context.Context) error {
	dir := n.opts.DataDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("node: data directory: %w", err)
	}
	return n.private(dir, config.Path(dir))
}

// openStore opens the store: the store role's, or a gateway's cache.
func (n *Node) openStore(ctx context.Context) (err error) {
	if n.store, err = store.Open(ctx, filepath.Join(n.opts.DataDir, "store"), StoreOptions(n.opts.Config, n.log)); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.progress.ready("store")
	return nil
}

// objects chooses how the roles reach objects: through the local store
// when this process runs the store role, else over the bus (small
// objects: manifests, a plugin's reads) and, for a gateway, a cache fed by
// the blob protocol.
func (n *Node) objects(context.Context) error {
	cfg := objects.Config{Fetcher: n.objectFetcher, Bus: nodeBus{n}, Emit: n.emit, Provide: n.provideRoots,
		Release: n.remoteRelease, HoldSeconds: holdSeconds, Self: storeOverlay{n}.Self}
	if n.store != nil {
		cfg.Store = n.store
	}
	switch {
	case n.has("store"):
		n.objs = objects.NewLocal(cfg)
	case n.has("gateway"):
		n.objs = objects.NewCache(cfg)
	default:
		n.objs = objects.NewBus(cfg)
	}
	return nil
}

// objectFetcher is the fetcher of the objects the store lacks, when this
// node fetches (internal/core/fetch; it starts with the overlay, after the
// objects).
func (n *Node) objectFetcher() objects.Fetcher {
	if !n.fetchOn() {
		return nil
	}
	return n.fetcher
}

// nodeBus is the node's bus as the objects call it: the bus starts after
// the objects are made.
type nodeBus struct{ n *Node }

func (b nodeBus) Request(ctx context.Context, v bus.Spec, req, resp any) error {
	return b.n.bus.Request(ctx, v, req, resp)
}

// openIndex opens the index. It validates through the plugins role on the
// bus, which is up before any request reaches the index.
func (n *Node) openIndex(ctx context.Context) (err error) {
	o := index.Options{Logger: n.log, MinFree: int64(n.opts.Config.Node.MinFree)}
	if n.index, err = index.Open(ctx, filepath.Join(n.opts.DataDir, "index"), o, n.objs, busValidator{n}); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.progress.ready("index")
	return nil
}

func (n *Node) openLedger(ctx context.Context) (err error) {
	o := ledger.Options{Logger: n.log, MinFree: int64(n.opts.Config.Node.MinFree)}
	if n.ledger, err = ledger.Open(ctx, filepath.Join(n.opts.DataDir, "ledger"), o); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.progress.ready("ledger")
	return nil
}

// startBus connects to the bus (or starts the embedded server).
func (n *Node) startBus(ctx context.Context) error {
	bo := BusOptions(n.opts.Config, n.id, n.log)
	if err := readBusKeys(n.opts.Config, &bo); err != nil {
		return err
	}
	b := bus.New(bo)
	if n.ledger != nil {
		n.ledgerSvc = ledgersvc.New(n.ledger, b, n.emit, n.log)
	}
	if err := b.Start(ctx); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.bus = b // set once started: emit and Components read a bus that is up, or none
	n.metrics.MustRegister(busCollectors(n.bus)...)
	n.progress.ready("bus")
	return nil
}

func (n *Node) startMailbox(ctx context.Context) error {
	if err := n.startPrivatePlane(ctx); err != nil {
		return err
	}
	n.progress.ready("mailbox")
	return nil
}

func (n *Node) joinOverlay(ctx context.Context) error {
	if err := n.startOverlay(ctx); err != nil {
		return err
	}
	n.progress.ready("overlay")
	return nil
}

// stopFetches ends the fetches in flight (runCtx) and waits for them,
// before the overlay and the store close.
func (n *Node) stopFetches() error {
	n.cancel()
	if n.fetcher != nil {
		return n.fetcher.Close()
	}
	return nil
}

// joinPlugins waits for the plugins' load and emits its events (the bus is
// up now).
func (n *Node) joinPlugins(ctx context.Context) error {
	if len(n.opts.Builtins) == 0 && n.opts.Config.Plugins.Builtins {
		n.log.Warn("this binary embeds no built-in plugins; build it with `make build`")
	}
	plugs := n.plugs
	select {
	case <-plugs.done:
	case <-ctx.Done():
		return interrupted(ctx) // the plugin load's stop ends the load and waits for it
	}
	if plugs.err != nil && ctx.Err() == nil {
		n.log.Error("some plugins could not be installed", "err", plugs.err)
	}
	for _, e := range plugs.events {
		n.emit(e.kind, e.v)
	}
	n.progress.ready("plugins")
	return nil
}

// serveRoles puts this process's roles' services on the bus (closing the
// bus ends them).
func (n *Node) serveRoles(context.Context) error {
	for _, s := range n.roleServices() {
		if !n.has(s.role) {
			continue
		}
		if err := n.bus.Serve(s.role, BusAPIVersion, s.desc, s.eps()...); err != nil {
			return fmt.Errorf("node: %s service: %w", s.role, err)
		}
	}
	return nil
}

// buildHandler makes the node's HTTP handler (http.go), served once the
// node has started.
func (n *Node) buildHandler(context.Context) error {
	h, err := n.httpHandler()
	if err != nil {
		return err
	}
	n.api = h
	return nil
}

// closeConsole ends the web console's event streams.
func (n *Node) closeConsole() error {
	if n.console != nil {
		n.console.Close()
	}
	return nil
}

func (n *Node) removeRunFile() error {
	_ = os.Remove(runFile(n.opts.DataDir))
	return nil
}

// startLoops starts the node's loops under runCtx.
func (n *Node) startLoops(context.Context) error {
	for _, loop := range []struct {
		role string
		run  func(context.Context)
	}{
		{"", n.diskLoop},
		{"plugins", n.watchCatalog},
		{"ledger", n.settleLoop},
		{"store", n.provideLoop},
		{"", n.operatorTokenLoop},
	} {
		if loop.role == "" || n.has(loop.role) {
			n.spawn(loop.run)
		}
	}
	return nil
}

// spawn runs f under runCtx in a goroutine stopLoops waits for.
func (n *Node) spawn(f func(context.Context)) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f(n.runCtx)
	}()
}

// stopLoops ends the loops (runCtx) and waits for every goroutine they and
// serve started.
func (n *Node) stopLoops() error {
	n.cancel()
	n.wg.Wait()
	return nil
}

// serve swaps the starting handler for the node's.
func (n *Node) serve(context.Context) error {
	// Ready first: the starting handler says 503 until the swap, and the
	// node's own never sees itself not ready once it serves.
	n.ready.Store(true)
	n.handler.set(n.api)
	// Starting left garbage (the built-ins' bytes hashed when make build
	// wrote no hash, the databases' and the bus's set-up): the memory is
	// given back to the system now rather than at the runtime's own pace,
	// so an idle node is small (any instance warmed meanwhile is closed).
	// Off the start's path.
	n.spawn(func(ctx context.Context) {
		n.router.ReleaseAll(ctx)
		debug.FreeOSMemory()
	})
	return nil
}

// shutdown stops serving: the console's event streams first (they would
// hold Shutdown), then the requests in flight, within half the stop
// timeout.
func (n *Node) shutdown() error {
	n.ready.Store(false)
	_ = n.closeConsole()
	ctx, cancel := context.WithTimeout(context.Background(), n.stopTimeout()/2)
	defer cancel()
	// Shutdown waits for requests in flight and, per net/http, for
	// connections that sent nothing yet for up to 5 s; past our share of
	// the stop timeout the rest are cut: a stop never fails because a
	// client holds a connection open.
	if err := n.srv.Shutdown(ctx); err != nil {
		n.log.Warn("node: stop cut open connections", "after", n.stopTimeout()/2, "reason", err)
		_ = n.srv.Close()
	}
	return nil
}

// pluginLoad is the plugins' registration at start, running beside the rest of Start.
type pluginLoad struct {
	done   chan struct{} // closed when the load has ended
	cancel context.CancelFunc
	events []event // the plugin events to emit once the bus is up
	err    error
}

// loadPlugins starts loading the plugins (the plugins role) in the
// background. Its stop (stopPluginLoad) ends the load, waits for it, and
// closes the router and the plugin host: started this early, it is stopped
// after the roles that call plugins.
func (n *Node) loadPlugins(ctx context.Context) error {
	l := &pluginLoad{done: make(chan struct{})}
	lctx, cancel := context.WithCancel(ctx)
	l.cancel = cancel
	n.plugs = l
	if !n.has("plugins") {
		close(l.done)
		return nil
	}
	go func() {
		defer close(l.done)
		if n.beforeLoad != nil {
			n.beforeLoad(lctx)
		}
		l.events, l.err = n.reconcile(lctx, true)
	}()
	return nil
}

func (n *Node) stopPluginLoad() error {
	n.plugs.cancel()
	<-n.plugs.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = n.router.Close(ctx)
	return n.host.Close(ctx)
}

// interrupted is an error once ctx ended: a stop while starting.
func interrupted(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("node: start interrupted: %w", err)
	}
	return nil
}

// ErrAddrInUse: the HTTP address is taken.
var ErrAddrInUse = errors.New("node: the HTTP address is already in use")

// has says whether this process runs role.
func (n *Node) has(role string) bool { return n.roles[role] }

// BusOptions translates the [bus] configuration into the bus's options.
func BusOptions(cfg config.Config, name string, log *slog.Logger) bus.Options {
	b := cfg.Bus
	// A role's request gets the gateway's request deadline (settling many
	// manifests is the longest).
	o := bus.Options{URL: b.URL, Listen: b.Listen, CredsFile: b.CredsFile, Name: name, Logger: log,
		RequestTimeout: cfg.Gateway.RequestTimeout.D(), Retries: b.Retries,
		Contract: BusContract(), Roles: cfg.Node.Roles}
	if b.Password != "" {
		o.User, o.Password = b.User, b.Password
	}
	if b.ClusterName != "" {
		o.Cluster = bus.ClusterOptions{Name: b.ClusterName, Listen: b.ClusterListen, Routes: b.Routes,
			User: b.ClusterUser, Password: b.ClusterPassword}
	}
	if b.TLSCert != "" || b.TLSCA != "" {
		o.TLS = &bus.TLSOptions{CertFile: b.TLSCert, KeyFile: b.TLSKey, CAFile: b.TLSCA, Verify: b.TLSVerify}
	}
	return o
}

// readBusKeys checks the [bus] credentials and listeners (the bus checks
// them too, in its own terms) and reads the files of secret_file and
// role_key into o.
func readBusKeys(cfg config.Config, o *bus.Options) error {
	b := cfg.Bus
	tls := b.TLSCert != ""
	for _, l := range []struct{ key, addr string }{{"bus.listen", b.Listen}, {"bus.cluster_listen", b.ClusterListen}} {
		if l.addr == "" || (l.key == "bus.cluster_listen" && b.ClusterName == "") {
			continue
		}
		if host, _, err := net.SplitHostPort(l.addr); err == nil {
			if err := bus.CheckExposure(l.key, host, tls); err != nil {
				return fmt.Errorf("node: %w", err)
			}
		}
	}
	if b.Password != "" && b.URL == "" {
		if err := bus.CheckPassword("bus.password", b.User, b.Password); err != nil {
			return fmt.Errorf("node: %w", err)
		}
	}
	if b.ClusterPassword != "" && b.ClusterName != "" {
		if err := bus.CheckPassword("bus.cluster_password", b.ClusterUser, b.ClusterPassword); err != nil {
			return fmt.Errorf("node: %w", err)
		}
	}
	var err error
	if f := cfg.Bus.SecretFile; f != "" {
		if o.Secret, err = secretfile.Load(f, bus.SecretSize); err != nil {
			return fmt.Errorf("node: bus.secret_file: %w (ronhost bus creds makes it)", err)
		}
	}
	if f := cfg.Bus.RoleKey; f != "" {
		if o.RoleKey, err = secretfile.Load(f, bus.SecretSize); err != nil {
			return fmt.Errorf("node: bus.role_key: %w (ronhost bus creds --roles %s makes it)", err, strings.Join(cfg.Node.Roles, ","))
		}
	}
	return nil
}

// auth is the node's capability-token check.
func (n *Node) auth() authorizer {
	return authorizer{key: n.tokenKey, revoked: n.revoked, now: time.Now}
}

// emit publishes an event on the bus; a failure is logged, never fatal.
func (n *Node) emit(kind string, v any) {
	if n.bus == nil {
		return
	}
	if err := n.bus.Emit(kind, v); err != nil {
		n.log.Warn("publishing an event", "kind", kind, "err", err)
	}
}

// settleLoop seals and settles each epoch as it ends, and at start settles
// what a crash left sealed but unsettled.
func (n *Node) settleLoop(ctx context.Context) {
	if _, err := n.ledgerSvc.SettleSealed(ctx); err != nil {
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
			if _, err := n.ledgerSvc.Settle(ctx); err != nil {
				n.log.Error("settling the epoch", "err", err)
			}
		}
	}
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
			// Idle plugins give their instances and code back; the memory
			// returns to the system at once (a collection of a small heap),
			// not at the runtime's pace (the next collection may be two
			// minutes away when the node is idle).
			loaded := n.router.Loaded()
			if n.router.ReleaseIdle(ctx) > 0 || n.router.Loaded() < loaded {
				debug.FreeOSMemory()
			}
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
	evs, err := n.reconcile(ctx, false)
	for _, e := range evs {
		n.emit(e.kind, e.v)
	}
	return err
}

// reconcile is Reconcile, returning the events to emit instead of emitting
// them: at start it runs before the bus is up. At start (start) the plugins
// are registered, to load at their first call; later, what the operator or
// a registry changed loads at once, so it serves (or is refused, the old
// plugin serving on) by the time the change is applied.
func (n *Node) reconcile(ctx context.Context, start bool) ([]event, error) {
	n.reconcileMu.Lock()
	defer n.reconcileMu.Unlock()
	n.lastStamp = n.catalogStamp()
	entries, removed, err := n.catalog.Entries()
	if err != nil {
		return nil, err
	}
	type want struct {
		hash   string
		source string
		wasm   func() ([]byte, error)
	}
	wants := map[string]want{}
	// What registries provide comes first: a built-in or an installed
	// plugin for the same TLD wins.
	regs, blocked, err := n.registryRows()
	if err != nil {
		return nil, err
	}
	for tld, e := range regs {
		wants[tld] = want{e.Plugin, "registry " + e.Origin, func() ([]byte, error) { return n.catalog.Module(e.Plugin) }}
	}
	if n.opts.Config.Plugins.Builtins {
		for _, b := range n.opts.Builtins {
			hash, err := b.PluginHash()
			if err != nil {
				return nil, fmt.Errorf("node: the built-in .%s: %w", b.TLD, err)
			}
			wants[b.TLD] = want{hash, "builtin", b.Bytes}
		}
		for _, tld := range removed {
			delete(wants, tld)
		}
	}
	for tld, e := range entries {
		e := e
		wants[tld] = want{e.Plugin, "installed", func() ([]byte, error) { return n.catalog.Module(e.Plugin) }}
	}
	for tld := range wants {
		delete(blocked, tld)
	}
	n.blocked.Store(&blocked)
	var errs []error
	var evs []event
	installed := func(tld string, w want, version string) {
		n.sources[tld] = w.source
		evs = append(evs, event{bus.KindPluginInstalled, bus.PluginInstalled{TLD: tld, Plugin: w.hash, Version: version, Source: w.source}})
	}
	load := map[string][]byte{}
	for tld, w := range wants {
		// Unchanged plugins stay; a quarantined one is reloaded, which lifts the quarantine.
		cur, err := n.router.Plugin(tld)
		if err == nil && cur.Hash() == w.hash && !cur.Stats().Quarantined {
			n.sources[tld] = w.source
			continue
		}
		if err := ctx.Err(); err != nil { // a stop while starting: install no more
			errs = append(errs, fmt.Errorf("node: .%s: %w", tld, err))
			continue
		}
		if start && (cur == nil || !cur.Described()) {
			// At start nothing serves the TLD yet: the plugin loads at its
			// first call (compiling was most of a start; an idle node holds
			// no plugin's code). A module that does not load fails that
			// TLD's calls only.
			if _, err := n.router.Register(ctx, tld, w.hash, w.wasm); err != nil {
				errs = append(errs, fmt.Errorf("node: .%s: %w", tld, err))
				continue
			}
			n.log.Info("plugin registered: it loads at its first call", "tld", tld, "plugin", w.hash, "source", w.source)
			installed(tld, w, "")
			continue
		}
		// A change while running loads at once (a hot reload): a failed
		// load leaves the plugin that served serving.
		wasm, err := w.wasm()
		if err != nil {
			errs = append(errs, fmt.Errorf("node: .%s: %w", tld, err))
			continue
		}
		load[tld] = wasm
	}
	n.progress.loading(len(load))
	for tld, err := range n.router.InstallAll(ctx, load) { // compiled in parallel
		w := wants[tld]
		if err != nil {
			errs = append(errs, fmt.Errorf("node: .%s: %w", tld, err))
			continue
		}
		n.log.Info("plugin installed", "tld", tld, "plugin", w.hash, "source", w.source)
		version := ""
		if p, err := n.router.Plugin(tld); err == nil {
			version = p.Info().Version
		}
		installed(tld, w, version)
	}
	for _, tld := range n.router.TLDs() {
		if _, ok := wants[tld]; !ok {
			_ = n.router.Remove(ctx, tld)
			delete(n.sources, tld)
			n.log.Info("plugin removed", "tld", tld)
			evs = append(evs, event{bus.KindPluginRemoved, bus.PluginRemoved{TLD: tld}})
		}
	}
	return evs, errors.Join(errs...)
}

// event is a bus event held until the bus is up.
type event struct {
	kind string
	v    any
}

func (n *Node) source(tld string) string {
	n.reconcileMu.Lock()
	defer n.reconcileMu.Unlock()
	return n.sources[tld]
}

// Close stops the node's components in reverse (components): the HTTP
// API, the loops (waiting for every goroutine the node started), the
// roles, the plugins' calls in flight, the databases, the listener. It is
// safe after a failed Start, and again.
func (n *Node) Close() error {
	n.ready.Store(false)
	return n.undo()
}

// StoreOptions translates the [store] configuration into the store's options.
func StoreOptions(c config.Config, log *slog.Logger) store.Options {
	inline := int(c.Store.InlineMax)
	if inline == 0 {
		inline = -1 // the file says 0: keep only empty objects inline
	}
	return store.Options{QuotaBytes: int64(c.Store.Quota), InlineMax: inline, Logger: log, MinFree: int64(c.Node.MinFree)}
}

// roleService is a role's service on the bus.
type roleService struct {
	role, desc string
	eps        func() []bus.Endpoint
}

// roleServices are the roles' services, each made by its role's package
// (or, for those not yet moved, by this one), in the order Start puts them
// on the bus.
func (n *Node) roleServices() []roleService {
	return []roleService{
		{"store", "the verified content store", func() []bus.Endpoint { return n.storeService().Endpoints() }},
		{"index", "published manifests and name records", func() []bus.Endpoint { return indexsvc.Endpoints(n.index, n.emit) }},
		{"plugins", "the TLD plugins: validate, resolve, split", func() []bus.Endpoint {
			ps := &pluginsvc.Service{Router: n.router, Objects: n.objs, List: func() any { return n.Plugins() }, Emit: n.emit, Blocked: n.blockedTLD}
			return ps.Endpoints()
		}},
		{"ledger", "metered accesses and payouts", func() []bus.Endpoint { return n.ledgerSvc.Endpoints() }},
		{"mailbox", "the onion mailbox: send, inbox, ack", func() []bus.Endpoint { return n.mailboxService().Endpoints() }},
		{"dht", "the overlay: peers, where copies are, pinning with replicas", func() []bus.Endpoint { return n.dhtService().Endpoints() }},
	}
}
