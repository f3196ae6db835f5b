package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// FileName is the configuration file's name inside the data directory.
const FileName = "config.toml"

// Config is the node's configuration.
type Config struct {
	Node    Node    `toml:"node" comment:"The node process."`
	Gateway Gateway `toml:"gateway" comment:"The HTTP gateway (served on node.listen)."`
	Bus     Bus     `toml:"bus" comment:"The NATS bus the node's roles talk over."`
	Store   Store   `toml:"store" comment:"The content store under DATA/store."`
	Payouts Payouts `toml:"payouts" comment:"The payout ledger under DATA/ledger."`
	Tor     Tor     `toml:"tor" comment:"The private plane: the system tor, client only (never a relay)."`
	Mailbox Mailbox `toml:"mailbox" comment:"The onion mailbox under DATA/mailbox."`
	Overlay Overlay `toml:"overlay" comment:"The libp2p overlay: peers, the DHT, fetching objects this node lacks."`
	Plugins Plugins `toml:"plugins" comment:"The WebAssembly plugin host."`
}

// Node configures the node process.
type Node struct {
	// Listen is the HTTP address of the node's API; it binds to loopback
	// unless the operator says otherwise.
	Listen string `toml:"listen" comment:"HTTP API address (loopback by default)"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `toml:"log_level" comment:"debug, info, warn or error"`
	// Payout is the address this node is paid at for the bytes it serves
	// (the operator's share of a split).
	Payout string `toml:"payout" comment:"payout address for the bytes this node serves (the operator role); empty means the node id"`
	// Roles are the roles this process runs; all of them make a micronode.
	Roles []string `toml:"roles" comment:"roles this process runs (gateway, store, index, plugins, ledger, dht, mailbox); a macronode spreads them over processes joined by one NATS cluster"`
	// OperatorTokenTTL is how long DATA/operator.token is valid; the node
	// rewrites it every half of that, and revokes the previous run's at start.
	OperatorTokenTTL Duration `toml:"operator_token_ttl" comment:"how long the operator token the node writes to DATA/operator.token is valid (rotated every half of it; the previous run's is revoked at start)"`
	// MinFree is the free disk space writes leave on the data directory's
	// filesystem: past it writes get 507 while reads go on, and they resume
	// by themselves once space is freed.
	MinFree Size `toml:"min_free" comment:"free disk space the node keeps: a write that would leave less gets 507 (reads go on; writes resume once space is freed); the databases need this room for their own log and compactions"`
	// StopTimeout bounds a stop (SIGTERM): past it the process exits with
	// work still in flight.
	StopTimeout Duration `toml:"stop_timeout" comment:"how long stopping (SIGTERM) may take before the process exits anyway; keep it under a supervisor's stop_timeout"`
	// Require names the parts beyond the public plane that /readyz waits
	// for: "tor" (the private plane's tor bootstrapped) and "overlay" (a
	// peer in the DHT's routing table). Without them they report their
	// state in /readyz?verbose and the metrics and leave the node ready.
	Require []string `toml:"require" comment:"parts beyond the public plane (gateway, store, index, plugins, ledger) that /readyz waits for: tor (bootstrapped), overlay (a DHT peer); by default they report in /readyz?verbose and metrics without making the node unready"`
}

// Requirable lists what [node] require may name.
func Requirable() []string { return []string{"tor", "overlay"} }

// Gateway configures the HTTP gateway's protections.
type Gateway struct {
	MaxConcurrent  int      `toml:"max_concurrent" comment:"requests served at once; more get 429 with Retry-After"`
	MaxBody        Size     `toml:"max_body" comment:"largest request body (a publish's payload); more gets 413"`
	RequestTimeout Duration `toml:"request_timeout" comment:"deadline of a request's work before its response starts; past it, 504"`
	WriteIdle      Duration `toml:"write_idle" comment:"a response stalled this long (a client not reading), or a request body (a client not sending), is cut"`
	Domains        []string `toml:"domains" comment:"public gateway domains, each with wildcard DNS (*.DOMAIN) to this node: every address gets its own origin <label>.<tld>.DOMAIN, and /r/ and /o/ redirect there; localhost always works this way"`
	PathHosts      []string `toml:"path_hosts" comment:"other host names of this node (no wildcard DNS): served as a path gateway whose active content is sandboxed; IP addresses always are; any other Host gets 421"`
	MaxPerClient   int      `toml:"max_per_client" comment:"requests of one client address (IPv4, or IPv6 /64) served at once; 0 means max_concurrent/8; behind a reverse proxy set it to max_concurrent"`
	MinReadRate    Size     `toml:"min_read_rate" comment:"a client reading a response slower than this many bytes per second over min_read_window is cut; 0 turns it off"`
	MinReadWindow  Duration `toml:"min_read_window" comment:"the span over which min_read_rate is judged"`
	IdleTimeout    Duration `toml:"idle_timeout" comment:"a keep-alive connection idle this long between requests is closed"`
	ReadHeader     Duration `toml:"read_header_timeout" comment:"a client must send its request line and headers within this"`
}

// Bus configures the NATS bus.
type Bus struct {
	URL        string `toml:"url" comment:"connect to this existing NATS deployment (nats://host:port) instead of running an embedded server"`
	Listen     string `toml:"listen" comment:"also serve the embedded NATS on this TCP address (e.g. 127.0.0.1:4222) for the nats CLI; empty means in-process only"`
	User       string `toml:"user" comment:"user name on that listener, or for url"`
	Password   string `toml:"password" comment:"password on that listener, or for url (required with listen)"`
	CredsFile  string `toml:"creds_file" comment:"a NATS credentials file for url"`
	SecretFile string `toml:"secret_file" comment:"the operator's bus secret (ronhost bus creds makes it): the listener then admits the role keys derived from it, each with its roles' permissions"`
	RoleKey    string `toml:"role_key" comment:"this process's role key for url (ronhost bus creds --roles <node.roles>): it may serve, call and emit only what its roles do"`

	ClusterName     string   `toml:"cluster_name" comment:"join the embedded NATS server to this cluster (same name on every member); empty means no cluster"`
	ClusterListen   string   `toml:"cluster_listen" comment:"the route listener of this member (e.g. 127.0.0.1:6222)"`
	Routes          []string `toml:"routes" comment:"the other members' routes (nats-route://host:6222); a member may list itself"`
	ClusterUser     string   `toml:"cluster_user" comment:"route authorization user (same on every member)"`
	ClusterPassword string   `toml:"cluster_password" comment:"route authorization password (the plain secret; same on every member)"`
	TLSCert         string   `toml:"tls_cert" comment:"PEM certificate of the listener and routes; with url, a client certificate"`
	TLSKey          string   `toml:"tls_key" comment:"its PEM private key"`
	TLSCA           string   `toml:"tls_ca" comment:"PEM CA that signs the other side (required for routes over TLS; with url, the CA to trust)"`
	TLSVerify       bool     `toml:"tls_verify" comment:"the listener requires client certificates signed by tls_ca"`
	Retries         int      `toml:"retries" comment:"how many more times a request is sent when no instance answered or one died (idempotent verbs only after silence); negative: never"`
}

// Tor configures how the node reaches the private plane.
type Tor struct {
	Mode       string   `toml:"mode" comment:"auto (managed when tor is installed, else off), managed (start and supervise the system tor), attach (use an operator's tor), off"`
	Binary     string   `toml:"binary" comment:"the tor executable (managed mode)"`
	Control    string   `toml:"control" comment:"attach mode: the operator's tor control port (127.0.0.1:9051 or unix:/run/tor/control)"`
	Cookie     string   `toml:"cookie" comment:"attach mode: its control cookie file; empty asks tor"`
	ExtraTorrc []string `toml:"extra_torrc" comment:"lines added to the generated torrc (e.g. a private network's DirAuthority lines); relay lines are refused"`
}

// Mailbox configures the onion mailbox.
type Mailbox struct {
	Listen    string   `toml:"listen" comment:"the local address the onion service forwards to (with tor off, peers dial it directly: loopback tests only)"`
	Retention Duration `toml:"retention" comment:"how long an unacknowledged message stays in the inbox"`
	TTL       Duration `toml:"ttl" comment:"how long a sent message is retried before it fails"`
	MaxInbox  int      `toml:"max_inbox" comment:"messages the inbox holds; more are refused (the sender retries)"`
	MaxBody   Size     `toml:"max_body" comment:"largest message body"`
	RetryMin  Duration `toml:"retry_min" comment:"first wait before a failed delivery is retried (it doubles up to retry_max, with jitter)"`
	RetryMax  Duration `toml:"retry_max" comment:"longest wait between delivery attempts"`
}

// Overlay configures the libp2p overlay and the DHT.
type Overlay struct {
	Mode         string   `toml:"mode" comment:"on (join the overlay: provide pinned roots, fetch missing objects from peers) or off"`
	Listen       []string `toml:"listen" comment:"libp2p listen multiaddrs, TCP and QUIC (loopback unless you change them)"`
	Bootstrap    []string `toml:"bootstrap" comment:"peers to join through: multiaddrs ending in /p2p/<peer id> (ronhost stat shows a node's)"`
	ConnLow      int      `toml:"conn_low" comment:"connection manager: trim connections down to this many"`
	ConnHigh     int      `toml:"conn_high" comment:"connection manager: start trimming above this many connections"`
	MaxMemory    Size     `toml:"max_memory" comment:"libp2p resource manager: memory for connections and streams (every other limit scales from it)"`
	Reprovide    Duration `toml:"reprovide" comment:"re-announce every pinned root this often (provider records expire after 48h)"`
	Fetch        bool     `toml:"fetch" comment:"fetch objects this node lacks from providers found through the DHT when they are requested"`
	Providers    int      `toml:"providers" comment:"providers one fetch uses at once"`
	ServeRate    Size     `toml:"serve_rate" comment:"cap on the bytes per second this node sends to peers (all of them together); 0 means none"`
	FetchTimeout Duration `toml:"fetch_timeout" comment:"how long finding providers and starting a fetch may take before the request fails (504)"`
	// Replication is taken only from peers the operator names: any other
	// peer's request to hold a copy is refused.
	TrustedPeers   []string `toml:"trusted_peers" comment:"peer IDs (12D3Koo..., as ronhost stat or node.json show them) whose pin --replicas requests this node accepts: it fetches, pins and provides what they ask, within the quotas below; every other peer is refused"`
	ReplicaBytes   Size     `toml:"replica_bytes" comment:"per trusted peer: bytes of replicas it may have this node hold (unpinning one frees its share)"`
	ReplicaObjects int      `toml:"replica_objects" comment:"per trusted peer: objects it may have this node hold"`

	Reachability         string   `toml:"reachability" comment:"auto (AutoNAT v2 and this node's addresses decide whether peers can dial it), public or private (you say); a public node serves the DHT and, with relay_service, relays; any other reserves relay slots"`
	Announce             []string `toml:"announce" comment:"addresses to announce besides those AutoNAT v2 confirms, without /p2p/: a forwarded port or a DNS name (/ip4/203.0.113.7/tcp/4470, /dns4/node.example.org/tcp/4470)"`
	Relays               []string `toml:"relays" comment:"relays to reserve a slot on while this node is not public: multiaddrs ending in /p2p/<peer id> (connected peers that offer relaying are tried too)"`
	RelayService         bool     `toml:"relay_service" comment:"relay connections for nodes behind NATs while this node is public, within the relay_* limits"`
	RelayReservations    int      `toml:"relay_reservations" comment:"relay service: peers that may hold a slot at once"`
	RelayCircuits        int      `toml:"relay_circuits" comment:"relay service: relayed connections one peer may have open"`
	RelayCircuitBytes    Size     `toml:"relay_circuit_bytes" comment:"relay service: bytes one relayed connection may carry each way before it is reset"`
	RelayCircuitDuration Duration `toml:"relay_circuit_duration" comment:"relay service: how long one relayed connection may last"`
	RelayData            bool     `toml:"relay_data" comment:"fetch objects over a relayed connection when hole punching gives no direct one (otherwise such a provider fails and others are used)"`
	HolePunching         bool     `toml:"hole_punching" comment:"upgrade relayed connections to direct ones by hole punching (DCUtR)"`
}

// Store configures the content store.
type Store struct {
	Quota     Size `toml:"quota" comment:"bound on payload plus outboard bytes; 0 means none"`
	InlineMax Size `toml:"inline_max" comment:"objects up to this size live inline in the index"`
}

// Payouts configures metering and settlement.
type Payouts struct {
	Epoch      Duration `toml:"epoch" comment:"length of a payout epoch; at its end the node seals it and settles it through the TLD plugins"`
	AutoSettle bool     `toml:"auto_settle" comment:"seal and settle every epoch automatically (otherwise only with ronhost payouts settle)"`
}

// Plugins configures the plugin host.
type Plugins struct {
	TrustedPublishers []string `toml:"trusted_publishers" comment:"publisher keys (ed25519:<hex>) whose signed plugins install without --allow-unsigned"`
	Builtins          bool     `toml:"builtins" comment:"install the built-in plugins (.map, .ai, .mod, .alg)"`
	PoolSize          int      `toml:"pool_size" comment:"warm instances per plugin; 0 means one per CPU"`
	MemoEntries       int      `toml:"memo_entries" comment:"memoized validate/split results; negative turns the memo off"`
	QuarantineAfter   int      `toml:"quarantine_after" comment:"faults in a row that quarantine a plugin, over 3 or more distinct inputs; only faults that say the plugin is broken count (an instance that fails to start, a trap on an input it answered before): a fault on content marks that content, never the plugin"`
	MemoryMiB         int      `toml:"memory_mib" comment:"linear memory cap per instance (ABI maximum 64)"`
	ValidateMillis    int      `toml:"validate_ms" comment:"time limit of one validate call in ms (ABI maximum 100): a fuel budget of 2e9 units per ms, with a wall-clock safety net 20 times longer"`
	SplitMillis       int      `toml:"split_ms" comment:"time limit of one split call in ms (ABI maximum 50), as validate_ms"`
	ResolveMillis     int      `toml:"resolve_ms" comment:"time limit of one resolve call in ms (ABI maximum 50), as validate_ms"`
	CacheDir          string   `toml:"cache_dir" comment:"wazero's compilation cache; empty means DATA/cache/wazero"`
	Registries        []string `toml:"registries" comment:"plugin registries this node follows (b3:<id>), in order of preference; ronhost registry follow adds more (DATA/registry/following); a TLD installed by hand or built in wins over any registry"`
	RegistryPoll      Duration `toml:"registry_poll" comment:"how often the node asks peers for the registries' heads (heads also arrive by gossip at once)"`
	RegistryHeartbeat Duration `toml:"registry_heartbeat" comment:"gossipsub heartbeat of the registries' topics"`
}

// Default returns the configuration with every default written out.
func Default() Config {
	return Config{
		Node: Node{Listen: "127.0.0.1:8470", LogLevel: "info", Roles: AllRoles(), OperatorTokenTTL: Duration(24 * time.Hour),
			MinFree: 256 << 20, StopTimeout: Duration(8 * time.Second), Require: []string{}},
		Gateway: Gateway{
			MaxConcurrent:  256,
			MaxBody:        1 << 30,
			RequestTimeout: Duration(30 * time.Second),
			WriteIdle:      Duration(60 * time.Second),
			Domains:        []string{},
			PathHosts:      []string{},
			MinReadRate:    16 << 10,
			MinReadWindow:  Duration(10 * time.Second),
			IdleTimeout:    Duration(60 * time.Second),
			ReadHeader:     Duration(10 * time.Second),
		},
		Bus:     Bus{User: "ronhost", Routes: []string{}},
		Store:   Store{InlineMax: 4096},
		Payouts: Payouts{Epoch: Duration(time.Hour), AutoSettle: true},
		Tor:     Tor{Mode: "auto", Binary: "tor", ExtraTorrc: []string{}},
		Mailbox: Mailbox{Listen: "127.0.0.1:0", Retention: Duration(7 * 24 * time.Hour), TTL: Duration(7 * 24 * time.Hour),
			MaxInbox: 10000, MaxBody: 64 << 10, RetryMin: Duration(5 * time.Second), RetryMax: Duration(15 * time.Minute)},
		Overlay: Overlay{Mode: "on", Listen: []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"},
			Bootstrap: []string{}, ConnLow: 64, ConnHigh: 128, MaxMemory: 256 << 20, Reprovide: Duration(12 * time.Hour),
			Fetch: true, Providers: 4, FetchTimeout: Duration(20 * time.Second),
			TrustedPeers: []string{}, ReplicaBytes: 10 << 30, ReplicaObjects: 10000,
			Reachability: "auto", Announce: []string{}, Relays: []string{},
			RelayReservations: 128, RelayCircuits: 16, RelayCircuitBytes: 128 << 10, RelayCircuitDuration: Duration(2 * time.Minute),
			HolePunching: true},
		Plugins: Plugins{
			TrustedPublishers: []string{},
			Registries:        []string{},
			RegistryPoll:      Duration(time.Minute),
			RegistryHeartbeat: Duration(time.Second),
			Builtins:          true,
			MemoEntries:       4096,
			QuarantineAfter:   5,
			MemoryMiB:         64,
			ValidateMillis:    100,
			SplitMillis:       50,
			ResolveMillis:     50,
		},
	}
}

// Path returns the configuration file's path in a data directory.
func Path(dataDir string) string { return filepath.Join(dataDir, FileName) }

// Load reads DATA/config.toml over the defaults and validates it; a missing
// file gives the defaults. It ignores the environment; see Resolve.
func Load(dataDir string) (Config, error) {
	c, err := load(Path(dataDir))
	if err != nil {
		return c, err
	}
	return c, c.Validate()
}

// load reads the file at path over the defaults; a missing file gives the defaults.
func load(path string) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	dec := toml.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) {
			return c, fmt.Errorf("config: %s: %s", path, sm.String())
		}
		return c, fmt.Errorf("config: %s: %w", path, err)
	}
	return c, nil
}

// Validate checks ranges: the ABI's limits are maxima a node may tighten.
func (c Config) Validate() error {
	p := c.Plugins
	switch {
	case p.MemoryMiB < 1 || p.MemoryMiB > 64:
		return fmt.Errorf("config: plugins.memory_mib %d is outside 1..64", p.MemoryMiB)
	case p.ValidateMillis < 1 || p.ValidateMillis > 100:
		return fmt.Errorf("config: plugins.validate_ms %d is outside 1..100", p.ValidateMillis)
	case p.SplitMillis < 1 || p.SplitMillis > 50:
		return fmt.Errorf("config: plugins.split_ms %d is outside 1..50", p.SplitMillis)
	case p.ResolveMillis < 1 || p.ResolveMillis > 50:
		return fmt.Errorf("config: plugins.resolve_ms %d is outside 1..50", p.ResolveMillis)
	case p.PoolSize < 0:
		return fmt.Errorf("config: plugins.pool_size %d is negative", p.PoolSize)
	case p.RegistryPoll.D() < 100*time.Millisecond || p.RegistryHeartbeat.D() < 10*time.Millisecond:
		return fmt.Errorf("config: plugins.registry_poll must be at least 100ms and plugins.registry_heartbeat at least 10ms")
	}
	for _, id := range p.Registries {
		if _, err := cid.Parse(id); err != nil {
			return fmt.Errorf("config: plugins.registries: %q is not a registry ID (b3:<64 hex>)", id)
		}
	}
	g := c.Gateway
	switch {
	case g.MaxConcurrent < 1:
		return fmt.Errorf("config: gateway.max_concurrent %d must be at least 1", g.MaxConcurrent)
	case g.MaxBody < 1:
		return fmt.Errorf("config: gateway.max_body must be positive")
	case g.RequestTimeout.D() <= 0 || g.WriteIdle.D() <= 0:
		return fmt.Errorf("config: gateway.request_timeout and gateway.write_idle must be positive")
	case g.MaxPerClient < 0 || g.MinReadRate < 0 || g.MinReadWindow.D() <= 0 || g.IdleTimeout.D() <= 0 || g.ReadHeader.D() <= 0:
		return fmt.Errorf("config: gateway.max_per_client and min_read_rate must not be negative; min_read_window, idle_timeout and read_header_timeout must be positive")
	case c.Node.OperatorTokenTTL.D() < time.Minute:
		return fmt.Errorf("config: node.operator_token_ttl %s is shorter than 1m", c.Node.OperatorTokenTTL.D())
	case c.Payouts.Epoch.D() < time.Second:
		return fmt.Errorf("config: payouts.epoch %s is shorter than 1s", c.Payouts.Epoch.D())
	case c.Store.Quota < 0 || c.Store.InlineMax < 0 || c.Store.InlineMax > 1<<20:
		return fmt.Errorf("config: store.quota must be >= 0 and store.inline_max within 0..1MiB")
	case c.Tor.Mode != "auto" && c.Tor.Mode != "managed" && c.Tor.Mode != "attach" && c.Tor.Mode != "off":
		return fmt.Errorf("config: tor.mode %q is not auto, managed, attach or off", c.Tor.Mode)
	case c.Tor.Mode == "attach" && c.Tor.Control == "":
		return fmt.Errorf("config: tor.mode attach needs tor.control (the operator's control port)")
	case c.Mailbox.MaxInbox < 1 || c.Mailbox.MaxBody < 1 || c.Mailbox.Retention.D() <= 0 || c.Mailbox.TTL.D() <= 0 ||
		c.Mailbox.RetryMin.D() <= 0 || c.Mailbox.RetryMax < c.Mailbox.RetryMin:
		return fmt.Errorf("config: mailbox.max_inbox, max_body, retention, ttl and retry_min must be positive, retry_max at least retry_min")
	case c.Overlay.Mode != "on" && c.Overlay.Mode != "off":
		return fmt.Errorf("config: overlay.mode %q is not on or off", c.Overlay.Mode)
	case c.Overlay.ConnLow < 1 || c.Overlay.ConnHigh < c.Overlay.ConnLow:
		return fmt.Errorf("config: overlay.conn_low must be at least 1 and conn_high at least conn_low")
	case c.Overlay.MaxMemory < 16<<20:
		return fmt.Errorf("config: overlay.max_memory must be at least 16MiB")
	case c.Overlay.Reprovide.D() < time.Minute || c.Overlay.Reprovide.D() > 24*time.Hour:
		return fmt.Errorf("config: overlay.reprovide must be within 1m..24h (provider records expire after 48h)")
	case c.Overlay.Providers < 1 || c.Overlay.FetchTimeout.D() <= 0 || c.Overlay.ServeRate < 0:
		return fmt.Errorf("config: overlay.providers must be at least 1 and overlay.fetch_timeout positive")
	case c.Overlay.ReplicaBytes < 0 || c.Overlay.ReplicaObjects < 0:
		return fmt.Errorf("config: overlay.replica_bytes and overlay.replica_objects must not be negative")
	case c.Overlay.Reachability != "auto" && c.Overlay.Reachability != "public" && c.Overlay.Reachability != "private":
		return fmt.Errorf("config: overlay.reachability %q is not auto, public or private", c.Overlay.Reachability)
	case c.Overlay.RelayReservations < 1 || c.Overlay.RelayReservations > 1<<16:
		return fmt.Errorf("config: overlay.relay_reservations %d is outside 1..65536", c.Overlay.RelayReservations)
	case c.Overlay.RelayCircuits < 1 || c.Overlay.RelayCircuits > 1024:
		return fmt.Errorf("config: overlay.relay_circuits %d is outside 1..1024", c.Overlay.RelayCircuits)
	case c.Overlay.RelayCircuitBytes < 1<<10 || c.Overlay.RelayCircuitBytes > 1<<40:
		return fmt.Errorf("config: overlay.relay_circuit_bytes %s is outside 1KiB..1TiB (a relay never carries unbounded circuits)", c.Overlay.RelayCircuitBytes)
	case c.Overlay.RelayCircuitDuration.D() < time.Second || c.Overlay.RelayCircuitDuration.D() > 24*time.Hour:
		return fmt.Errorf("config: overlay.relay_circuit_duration %s is outside 1s..24h", c.Overlay.RelayCircuitDuration.D())
	case c.Bus.Listen != "" && c.Bus.URL != "":
		return fmt.Errorf("config: bus.listen and bus.url exclude each other (listen serves the embedded server, url replaces it)")
	case c.Bus.Listen != "" && c.Bus.Password == "" && c.Bus.SecretFile == "":
		return fmt.Errorf("config: bus.listen needs bus.password (the operator's, with bus.user) or bus.secret_file (role keys): the listener never runs without credentials")
	case c.Bus.SecretFile != "" && c.Bus.Listen == "":
		return fmt.Errorf("config: bus.secret_file admits role keys on bus.listen: set bus.listen")
	case c.Bus.RoleKey != "" && c.Bus.URL == "":
		return fmt.Errorf("config: bus.role_key is presented to bus.url (an embedded server's own connection needs none)")
	case c.Bus.RoleKey != "" && (c.Bus.Password != "" || c.Bus.CredsFile != ""):
		return fmt.Errorf("config: set one of bus.role_key, bus.password and bus.creds_file")
	}
	for _, d := range append(slices.Clone(g.Domains), g.PathHosts...) {
		if _, err := cid.CheckDomain(d); err != nil {
			return fmt.Errorf("config: gateway.domains and gateway.path_hosts: %w", err)
		}
	}
	if err := CheckRoles(c.Node.Roles); err != nil {
		return err
	}
	for _, a := range c.Overlay.Announce {
		if !strings.HasPrefix(a, "/") || strings.Contains(a, "/p2p/") {
			return fmt.Errorf("config: overlay.announce %q: want a multiaddr without /p2p/ (e.g. /ip4/203.0.113.7/tcp/4470)", a)
		}
	}
	for _, a := range c.Overlay.Relays {
		if !strings.HasPrefix(a, "/") || !strings.Contains(a, "/p2p/") {
			return fmt.Errorf("config: overlay.relays %q: want a multiaddr ending in /p2p/<peer id>", a)
		}
	}
	if c.Bus.ClusterName != "" && (c.Bus.URL != "" || c.Bus.ClusterListen == "") {
		return fmt.Errorf("config: bus.cluster_name needs bus.cluster_listen, and excludes bus.url (a member embeds its server)")
	}
	if (c.Bus.TLSCert == "") != (c.Bus.TLSKey == "") {
		return fmt.Errorf("config: bus.tls_cert and bus.tls_key go together")
	}
	switch c.Node.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: node.log_level %q is not debug, info, warn or error", c.Node.LogLevel)
	}
	if c.Node.MinFree < 0 {
		return fmt.Errorf("config: node.min_free %d is negative", c.Node.MinFree)
	}
	if c.Node.StopTimeout <= 0 {
		return fmt.Errorf("config: node.stop_timeout must be positive")
	}
	seen := map[string]bool{}
	for _, r := range c.Node.Require {
		switch {
		case !slices.Contains(Requirable(), r):
			return fmt.Errorf("config: node.require %q is not one of %v", r, Requirable())
		case seen[r]:
			return fmt.Errorf("config: node.require names %q twice", r)
		case r == "tor" && c.Tor.Mode == "off":
			return fmt.Errorf("config: node.require names tor but tor.mode is off")
		case r == "overlay" && c.Overlay.Mode == "off":
			return fmt.Errorf("config: node.require names overlay but overlay.mode is off")
		}
		seen[r] = true
	}
	return nil
}

// Marshal renders c as a commented TOML file.
func (c Config) Marshal() ([]byte, error) {
	b, err := toml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	head := "# ronhost configuration: every key with its default.\n" +
		"# Each key can be overridden by RON_<SECTION>_<KEY> (e.g. RON_NODE_LISTEN)\n" +
		"# and some by flags of ronhost serve; see ronhost config show.\n\n"
	return append([]byte(head), b...), nil
}

// AllRoles lists every role a process can run, in start order.
func AllRoles() []string {
	return []string{"store", "index", "plugins", "ledger", "dht", "mailbox", "gateway"}
}

// CheckRoles validates a roles list: known names, no repeats, at least one.
func CheckRoles(roles []string) error {
	if len(roles) == 0 {
		return fmt.Errorf("config: node.roles is empty: name at least one of %v", AllRoles())
	}
	seen := map[string]bool{}
	for _, r := range roles {
		known := false
		for _, k := range AllRoles() {
			known = known || r == k
		}
		switch {
		case !known:
			return fmt.Errorf("config: node.roles: unknown role %q (roles: %v)", r, AllRoles())
		case seen[r]:
			return fmt.Errorf("config: node.roles: %q twice", r)
		}
		seen[r] = true
	}
	if seen["dht"] && !seen["store"] {
		return fmt.Errorf("config: node.roles: dht provides what a store holds: run it with store")
	}
	return nil
}

// PublicPort is the overlay's port (TCP, and UDP for QUIC) in the public
// profile.
const PublicPort = 4470

// Public returns the profile of a node on the internet (`ronhost config
// init --public`): every default, except that the overlay listens on every
// interface (IPv4 and IPv6) on PublicPort over TCP and QUIC, announces the
// given public addresses besides those AutoNAT v2 confirms, and relays for
// nodes behind NATs within the relay_* limits. Reachability stays auto:
// the node serves the DHT only once peers have confirmed it reachable. The
// HTTP API stays on loopback. An address is an IP, a DNS name or a
// multiaddr (used as it is).
func Public(announce []string) (Config, error) {
	c := Default()
	p := PublicPort
	c.Overlay.Listen = []string{
		fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", p), fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", p),
		fmt.Sprintf("/ip6/::/tcp/%d", p), fmt.Sprintf("/ip6/::/udp/%d/quic-v1", p),
	}
	c.Overlay.RelayService = true
	for _, a := range announce {
		a = strings.TrimSpace(a)
		var base string
		switch ip := net.ParseIP(a); {
		case a == "":
			continue
		case strings.HasPrefix(a, "/"):
			c.Overlay.Announce = append(c.Overlay.Announce, a)
			continue
		case ip != nil && ip.To4() != nil:
			base = "/ip4/" + ip.String()
		case ip != nil:
			base = "/ip6/" + ip.String()
		case validHostname(a):
			base = "/dns/" + a
		default:
			return c, fmt.Errorf("config: %q is not an IP address, a DNS name or a multiaddr", a)
		}
		c.Overlay.Announce = append(c.Overlay.Announce, fmt.Sprintf("%s/tcp/%d", base, p), fmt.Sprintf("%s/udp/%d/quic-v1", base, p))
	}
	return c, c.Validate()
}

// validHostname accepts letters, digits, hyphens and dots, labels of 1..63.
func validHostname(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
