package bus

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	neturl "net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"golang.org/x/crypto/bcrypt"
)

// Sentinel errors for callers to test with errors.Is.
var (
	ErrConfig     = errors.New("bus: bad options")
	ErrNotStarted = errors.New("bus: not started")
	ErrClosed     = errors.New("bus: closed")
	ErrBadToken   = errors.New("bus: bad subject token")
)

// Defaults.
const (
	DefaultRequestTimeout = 5 * time.Second
	DefaultConcurrency    = 64
	// internalUser is the embedded server's user for the node's own
	// in-process connection when the listener requires credentials.
	internalUser = "_ron_internal"
	// closeGrace is how long Close lets in-flight handlers finish before it
	// cancels their contexts.
	closeGrace = time.Second
	// connectTimeout bounds Start when ctx has no deadline.
	connectTimeout = 10 * time.Second
	// DefaultRetries is Options.Retries' default.
	DefaultRetries = 2
	// dialTimeout bounds one attempt to connect to one server of URL.
	dialTimeout = 2 * time.Second
	// reconnectWait and its jitter space out the attempts to reconnect to
	// the same server of URL (the others are tried at once).
	reconnectWait      = 500 * time.Millisecond
	reconnectJitter    = 500 * time.Millisecond
	reconnectJitterTLS = time.Second
	clientPingInterval = 10 * time.Second
	clientMaxPingsOut  = 3
)

// Options configure a Bus.
type Options struct {
	// URL is "" to run an embedded nats-server in this process, or the
	// address of an existing NATS deployment (nats://host:port, a comma
	// separated list is fine).
	URL string
	// Listen is "" for no TCP listener (in-process connections only), or an
	// address such as "127.0.0.1:4222" (port 0 picks a free one) on which
	// the embedded server accepts clients such as the nats CLI. It requires
	// User and Password, and cannot be combined with URL.
	Listen string
	// User and Password are the credentials required on Listen, and also
	// those presented to URL. On Listen, Password may be a bcrypt hash.
	User, Password string
	// CredsFile is a NATS credentials file presented to URL.
	CredsFile string
	// Name is the node id: the client connection's name and the "node" of
	// events and service metadata.
	Name string
	// Logger receives the bus's logs and the embedded server's warnings and
	// errors. nil: slog.Default().
	Logger *slog.Logger
	// RequestTimeout bounds a request without a context deadline, and every
	// handler. 0: DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Concurrency is how many handlers of one verb run at once on this bus;
	// further requests wait in the subscription. 0: DefaultConcurrency.
	Concurrency int

	// Cluster joins the embedded server to a NATS cluster (Cluster.Name ""
	// means none). Not with URL.
	Cluster ClusterOptions
	// TLS secures the embedded server's listener and routes, or the
	// connection to URL. nil: no TLS.
	TLS *TLSOptions

	// Retries is how many more times Request sends a request that failed in
	// a way another attempt may fix (see Request). 0: DefaultRetries; a
	// negative number: none.
	Retries int
	// AttemptTimeout is how long Request waits for the reply to an
	// idempotent request before it sends it again, to another instance if
	// there is one, while still waiting for the first reply. 0: the
	// request's deadline divided by its number of attempts (1+Retries); a
	// negative duration: never send again a request that got no reply.
	AttemptTimeout time.Duration

	// Contract is every role of the bus and what it may do, and Roles are
	// the roles this process runs. With a Contract, the process may serve
	// only its Roles' verbs, call only the verbs they call and emit only
	// their events (Contract.Permissions): the Bus refuses anything else
	// with ErrForbidden (codes.Forbidden for Request), and the embedded
	// server enforces the same on its own connection. nil: no limits.
	Contract Contract
	Roles    []string
	// Secret is the operator's bus secret (SecretSize bytes): the embedded
	// server's Listen then also admits the role keys derived from it
	// (RoleKey), each with the permissions of its role set. Needs Contract.
	Secret []byte
	// RoleKey is this process's role key (RoleKey(secret, Roles), from
	// `ronhost bus creds`), presented to URL instead of User and Password.
	// Needs Contract and Roles.
	RoleKey []byte
}

// Bus is a node's connection to its NATS bus and, when embedded, the server.
type Bus struct {
	o       Options
	log     *slog.Logger
	timeout time.Duration

	mu       sync.Mutex
	started  bool
	closed   bool
	srv      *server.Server
	srvLog   *serverLogger
	conn     atomic.Pointer[nats.Conn] // set once Start has connected
	connDone chan struct{}             // closed by the connection's closed handler
	services map[string]micro.Service

	// handler bookkeeping: hmu guards closing and inflight.
	hmu      sync.Mutex
	closing  bool
	inflight int
	idle     *sync.Cond
	base     context.Context
	cancel   context.CancelFunc
	// cancels: the running requests a caller may cancel (cancel.go).
	cancels cancels

	retries int
	// connEvent gets a token (never blocking) when the connection connects
	// or fails an attempt to; Start waits on it.
	connEvent chan struct{}
	connErr   atomic.Pointer[error] // the last failed connection attempt's error
	quitting  atomic.Bool           // the connection is being closed on purpose
	stats     counters
	// retryHook, when set (by tests), is called before each repeated send.
	retryHook func(attempt int, cause *Error)
	// grants are this process's permissions (nil: no Contract); set by Start.
	grants *grants
	// watchDenied: the server refuses this connection's event subscriptions
	// (it has its roles' permissions, which do not include watching).
	watchDenied bool
	// authNow, when set (by tests), is the clock of the limits on failed
	// authentications.
	authNow func() time.Time
}

// New returns a Bus configured by o. It does no I/O.
func New(o Options) *Bus {
	b := &Bus{o: o, timeout: o.RequestTimeout, services: map[string]micro.Service{}}
	if b.o.Logger == nil {
		b.o.Logger = slog.Default()
	}
	b.log = b.o.Logger.With("component", "bus")
	if b.timeout <= 0 {
		b.timeout = DefaultRequestTimeout
	}
	if b.o.Concurrency <= 0 {
		b.o.Concurrency = DefaultConcurrency
	}
	b.retries = o.Retries
	if b.retries == 0 {
		b.retries = DefaultRetries
	}
	b.retries = max(b.retries, 0)
	b.connEvent = make(chan struct{}, 1)
	b.idle = sync.NewCond(&b.hmu)
	b.base, b.cancel = context.WithCancel(context.Background())
	return b
}

func (o *Options) check() error {
	if o.URL != "" && o.Listen != "" {
		return fmt.Errorf("%w: Listen is for the embedded server; with URL the listener is that deployment's", ErrConfig)
	}
	if o.CredsFile != "" && o.URL == "" {
		return fmt.Errorf("%w: CredsFile is for connecting to URL", ErrConfig)
	}
	if o.CredsFile != "" && (o.User != "" || o.Password != "") {
		return fmt.Errorf("%w: set either User and Password or CredsFile, not both", ErrConfig)
	}
	if (o.User == "") != (o.Password == "") {
		return fmt.Errorf("%w: User and Password go together", ErrConfig)
	}
	if o.Listen != "" {
		if o.User == "" && o.Secret == nil {
			return fmt.Errorf("%w: a NATS listener (%s) requires User and Password (the operator), or Secret (role keys), or both", ErrConfig, o.Listen)
		}
		if o.User == internalUser {
			return fmt.Errorf("%w: the user name %q is reserved", ErrConfig, internalUser)
		}
		if strings.Contains(o.User, ",") {
			return fmt.Errorf("%w: the user name %q has a comma (role keys' user names do)", ErrConfig, o.User)
		}
		host, _, err := splitHostPort("Listen", o.Listen)
		if err != nil {
			return err
		}
		if o.Password != "" {
			if err := CheckPassword("Password", o.User, o.Password); err != nil {
				return err
			}
		}
		if err := CheckExposure("Listen", host, o.TLS != nil && o.TLS.CertFile != ""); err != nil {
			return err
		}
	}
	if err := o.checkAccess(); err != nil {
		return err
	}
	if err := o.checkCluster(); err != nil {
		return err
	}
	return o.checkTLS()
}

// checkAccess checks Contract, Roles, Secret and RoleKey.
func (o *Options) checkAccess() error {
	if o.Contract == nil {
		if len(o.Roles) > 0 || o.Secret != nil || o.RoleKey != nil {
			return fmt.Errorf("%w: Roles, Secret and RoleKey need a Contract", ErrConfig)
		}
		return nil
	}
	if err := o.Contract.Check(); err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if _, err := newGrants(o.Contract, o.Roles); err != nil {
		return fmt.Errorf("%w: Roles: %v", ErrConfig, err)
	}
	if o.Secret != nil {
		if o.URL != "" || o.Listen == "" {
			return fmt.Errorf("%w: Secret admits role keys on the embedded server's Listen: set Listen (not URL)", ErrConfig)
		}
		if len(o.Secret) != SecretSize {
			return fmt.Errorf("%w: the bus secret must be %d bytes, not %d", ErrConfig, SecretSize, len(o.Secret))
		}
	}
	if o.RoleKey != nil {
		if o.URL == "" {
			return fmt.Errorf("%w: RoleKey is presented to URL (an embedded server's own connection needs none)", ErrConfig)
		}
		if o.User != "" || o.CredsFile != "" {
			return fmt.Errorf("%w: set either RoleKey, or User and Password, or CredsFile", ErrConfig)
		}
		if _, err := rolePair(o.RoleKey); err != nil {
			return err
		}
	}
	return nil
}

// splitHostPort parses the listen address of field; port 0 becomes
// nats-server's "any free port".
func splitHostPort(field, listen string) (string, int, error) {
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %s %q: %v", ErrConfig, field, listen, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%w: %s %q: bad port", ErrConfig, field, listen)
	}
	if host == "" {
		return "", 0, fmt.Errorf("%w: %s %q: give a host, e.g. 127.0.0.1", ErrConfig, field, listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// Start runs the embedded server (unless Options.URL is set) and connects.
//
// With URL, Start waits until ctx ends (10 s without a deadline) for one of
// the servers to accept the connection, trying them again and again, so a
// process may start before its NATS cluster is up; a refused password or
// certificate fails it at once. Once connected, the connection survives
// the loss of its server by reconnecting to another one of URL (or one the
// cluster announced), for ever; meanwhile Ready is false.
func (b *Bus) Start(ctx context.Context) error {
	if err := b.o.check(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if b.started {
		return errors.New("bus: already started")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bus: start: %w", err)
	}
	b.quitting.Store(false)
	wait := connectTimeout
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl)
	}

	name := b.o.Name
	if name == "" {
		name = "ronhost"
	}
	b.connDone = make(chan struct{})
	done := b.connDone
	opts := []nats.Option{
		nats.Name(name),
		nats.Timeout(min(wait, dialTimeout)),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.ReconnectJitter(reconnectJitter, reconnectJitterTLS),
		nats.PingInterval(clientPingInterval),
		nats.MaxPingsOutstanding(clientMaxPingsOut),
		nats.DrainTimeout(10 * time.Second),
		nats.ClosedHandler(func(nc *nats.Conn) {
			if !b.quitting.Load() {
				// nats.go gives up only on a server that refuses the
				// credentials twice in a row.
				b.log.Error("the NATS connection is closed for good; restart the process", "err", nc.LastError())
			}
			close(done)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.log.Warn("disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.stats.reconnects.Add(1)
			b.log.Info("reconnected", "url", nc.ConnectedUrlRedacted())
			b.signalConn()
		}),
		nats.ConnectHandler(func(*nats.Conn) { b.signalConn() }), // a first connection made in the background
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.connErr.Store(&err)
				b.log.Debug("a connection attempt failed", "err", err)
			}
			b.signalConn()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			b.log.Warn("async error", "subject", subj, "err", err)
		}),
	}

	b.grants, b.watchDenied = nil, false
	if b.o.Contract != nil {
		g, err := newGrants(b.o.Contract, b.o.Roles)
		if err != nil {
			return err
		}
		b.grants = g
	}

	var url string
	if b.o.URL == "" {
		srv, internal, err := b.startServer(wait)
		if err != nil {
			return err
		}
		b.srv = srv
		opts = append(opts, nats.InProcessServer(srv))
		if internal.password != "" {
			opts = append(opts, nats.UserInfo(internalUser, internal.password))
		}
		if internal.inbox != "" {
			opts = append(opts, nats.CustomInboxPrefix(internal.inbox))
			b.watchDenied = true
		}
	} else {
		url = b.o.URL
		if b.o.User != "" {
			opts = append(opts, nats.UserInfo(b.o.User, b.o.Password))
			if err := CheckPassword("Password", b.o.User, b.o.Password); err != nil {
				b.log.Warn("the password given for the NATS deployment is weak; prefer a role key (ronhost bus creds)", "err", err)
			}
		}
		if b.o.CredsFile != "" {
			opts = append(opts, nats.UserCredentials(b.o.CredsFile))
		}
		if b.o.RoleKey != nil {
			ro, err := roleKeyOptions(b.o.RoleKey, b.o.Roles)
			if err != nil {
				return err
			}
			opts = append(opts, ro...)
			b.watchDenied = true
		}
		opts = append(opts, clientTLS(b.o.TLS)...)
		opts = append(opts, nats.RetryOnFailedConnect(true))
	}
	where := "the embedded server"
	if url != "" {
		where = redactURLs(url)
	}
	nc, err := nats.Connect(url, opts...)
	if err == nil && url != "" {
		err = b.awaitConnection(ctx, nc, wait)
	}
	if err != nil {
		if nc != nil {
			b.quitting.Store(true)
			nc.Close()
			<-done
		}
		if b.srv != nil {
			b.srv.Shutdown()
			b.srv.WaitForShutdown()
			b.srv = nil
		}
		return fmt.Errorf("bus: connecting to %s: %w", where, err)
	}
	b.conn.Store(nc)
	b.started = true
	if b.srv != nil {
		if u := b.listenURL(); u != "" {
			b.log.Info("embedded NATS server listening", "url", u, "operator", b.o.User, "role_keys", b.o.Secret != nil, "tls", b.o.TLS != nil)
		} else {
			b.log.Debug("embedded NATS server running, in-process connections only")
		}
		if b.o.Cluster.enabled() {
			b.log.Info("embedded NATS server in a cluster", "cluster", b.o.Cluster.Name,
				"routes_listen", b.srv.ClusterAddr().String(), "routes", len(b.o.Cluster.Routes))
		}
	} else {
		b.log.Info("connected to NATS", "url", nc.ConnectedUrlRedacted())
	}
	return nil
}

func (b *Bus) signalConn() {
	select {
	case b.connEvent <- struct{}{}:
	default:
	}
}

// awaitConnection waits for nc, which retries in the background, to
// connect: until ctx ends or wait passes, or at once on an error that
// another attempt will not fix (a refused password or certificate).
func (b *Bus) awaitConnection(ctx context.Context, nc *nats.Conn, wait time.Duration) error {
	t := time.NewTimer(wait)
	defer t.Stop()
	warned := false
	for !nc.IsConnected() {
		var last error
		if p := b.connErr.Load(); p != nil {
			last = *p
			if permanent(last) {
				return last
			}
			if !warned {
				warned = true
				b.log.Warn("NATS is not reachable yet; retrying", "url", redactURLs(b.o.URL), "err", last)
			}
		}
		fail := func(why error) error {
			if last != nil {
				return fmt.Errorf("%w (last attempt: %w)", why, last)
			}
			return why
		}
		select {
		case <-b.connEvent:
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-t.C:
			return fail(fmt.Errorf("no server answered within %s", wait))
		}
	}
	b.connErr.Store(nil)
	return nil
}

// permanent says whether a failed connection attempt will fail again: the
// servers refused the credentials, or TLS could not be agreed on.
func permanent(err error) bool {
	var (
		verr  *tls.CertificateVerificationError
		alert tls.AlertError
		uerr  x509.UnknownAuthorityError
		herr  x509.HostnameError
		rerr  tls.RecordHeaderError
		nerr  net.Error
		oerr  *net.OpError
	)
	switch {
	case errors.As(err, &oerr) && oerr.Op == "remote error":
		// crypto/tls's form of a TLS alert from the server, e.g. "tls:
		// certificate required".
		return true
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired),
		errors.Is(err, nats.ErrAuthRevoked), errors.Is(err, nats.ErrAccountAuthExpired),
		errors.Is(err, nats.ErrSecureConnRequired), errors.Is(err, nats.ErrSecureConnWanted),
		errors.As(err, &verr), errors.As(err, &alert), errors.As(err, &uerr), errors.As(err, &herr),
		errors.As(err, &rerr):
		return true
	case errors.Is(err, nats.ErrTLS):
		// The handshake failed, or the server hung up right after it (it
		// refused the client's certificate); a slow handshake is worth
		// another attempt.
		return !errors.As(err, &nerr) || !nerr.Timeout()
	}
	return false
}

// roleKeyOptions are the nats.go options of a connection that presents a
// role key: the role set as its user name, the key's nkey (signing the
// server's nonce), and replies under the key's own inbox prefix.
func roleKeyOptions(key []byte, roles []string) ([]nats.Option, error) {
	set, err := RoleSet(roles)
	if err != nil {
		return nil, err
	}
	kp, err := rolePair(key)
	if err != nil {
		return nil, err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("%w: role key: %v", ErrConfig, err)
	}
	return []nats.Option{
		nats.UserInfo(set, ""),
		nats.Nkey(pub, kp.Sign),
		nats.CustomInboxPrefix(roleInbox(pub)),
	}, nil
}

// internalConn is how the node's own connection reaches its embedded
// server: its password ("" when the server requires none) and its inbox
// prefix ("" for nats.go's default).
type internalConn struct {
	password, inbox string
}

// startServer runs the embedded server; it returns how the in-process
// connection authenticates when the server requires credentials.
func (b *Bus) startServer(wait time.Duration) (*server.Server, internalConn, error) {
	// nats-server starts its routes only once its client listener is open,
	// so a cluster member without Listen gets one on loopback that only the
	// node's own connection may use, and that the cluster does not
	// advertise to clients.
	hidden := b.o.Listen == "" && b.o.Cluster.enabled()
	so := &server.Options{
		DontListen:      b.o.Listen == "" && !hidden,
		NoSigs:          true,
		NoSystemAccount: true,
		// A port of 0 means 4222 to nats-server; we never want that by
		// accident when there is no listener.
		Port: server.RANDOM_PORT,
	}
	var in internalConn
	if b.o.Listen != "" || hidden {
		if hidden {
			so.Host = "127.0.0.1"
		} else {
			host, port, err := splitHostPort("Listen", b.o.Listen)
			if err != nil {
				return nil, in, err
			}
			so.Host, so.Port = host, port
		}
		auth, err := b.authenticator(&in, hidden)
		if err != nil {
			return nil, in, err
		}
		so.CustomClientAuthentication = auth
		so.AlwaysEnableNonce = true // role keys sign it
		// Checking an operator's bcrypt hash of cost 10 can take longer
		// than the 2 s after which the server would ping a new client,
		// and nats.go fails a handshake that sees that PING first.
		so.DisableShortFirstPing = true
	}
	if err := b.configureServer(so); err != nil {
		return nil, in, err
	}
	srv, err := server.NewServer(so)
	if err != nil {
		return nil, in, fmt.Errorf("bus: embedded NATS server: %w", err)
	}
	b.srvLog = &serverLogger{l: b.o.Logger.With("component", "nats-server"), authQuiet: true}
	srv.SetLoggerV2(b.srvLog, false, false, false)
	srv.Start()
	// Wait in slices, so that a listener the server cannot open (it reports
	// that through Fatalf and keeps going) fails Start at once.
	deadline := time.Now().Add(wait)
	for !srv.ReadyForConnections(50 * time.Millisecond) {
		fatal := b.srvLog.fatal.Load()
		if fatal == nil && time.Now().Before(deadline) {
			continue
		}
		srv.Shutdown()
		srv.WaitForShutdown()
		msg := "not ready in time"
		if fatal != nil {
			msg = *fatal
		}
		where := fmt.Sprintf("listen %q", b.o.Listen)
		if b.o.Cluster.enabled() {
			where += fmt.Sprintf(", cluster listen %q", b.o.Cluster.Listen)
		}
		return nil, internalConn{}, fmt.Errorf("bus: embedded NATS server (%s): %s", where, msg)
	}
	return srv, in, nil
}

// authenticator sets up the embedded server's client authentication and
// fills in how the in-process connection authenticates.
func (b *Bus) authenticator(in *internalConn, hidden bool) (*authenticator, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("bus: generating the internal password: %w", err)
	}
	in.password = hex.EncodeToString(raw[:16])
	// The server holds bcrypt hashes only, never a plain password. The
	// internal one lives in memory for this run only, so the minimum cost
	// is enough; it keeps connecting cheap.
	inHash, err := hashPassword(in.password)
	if err != nil {
		return nil, err
	}
	a := &authenticator{
		log:      b.log,
		internal: credential{user: internalUser, hash: []byte(inHash)},
		contract: b.o.Contract,
		secret:   b.o.Secret,
		limit:    newAuthLimiter(b.log, b.authNow),
	}
	if b.o.Contract != nil {
		// The node's own connection may do what its roles may, like any
		// other process's.
		in.inbox = "_INBOX.i" + hex.EncodeToString(raw[16:24])
		p, err := b.o.Contract.Permissions(b.o.Roles, in.inbox)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		a.internal.perms = p.server()
	}
	if !hidden && b.o.User != "" {
		opHash, err := hashPassword(b.o.Password)
		if err != nil {
			return nil, err
		}
		a.operator = &credential{user: b.o.User, hash: []byte(opHash)}
	}
	return a, nil
}

func hashPassword(pw string) (string, error) {
	if isBcrypt(pw) {
		return pw, nil
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		return "", fmt.Errorf("%w: Password: %v", ErrConfig, err)
	}
	return string(h), nil
}

func isBcrypt(pw string) bool {
	_, err := bcrypt.Cost([]byte(pw))
	return err == nil
}

// Conn is the bus's NATS connection (nil before Start).
func (b *Bus) Conn() *nats.Conn { return b.conn.Load() }

// Ready says whether the bus is connected.
func (b *Bus) Ready() bool {
	nc := b.Conn()
	return nc != nil && nc.IsConnected()
}

// MaxPayload is the largest message, in bytes, the server accepts (0 before
// Start).
func (b *Bus) MaxPayload() int64 {
	if nc := b.conn.Load(); nc != nil {
		return nc.MaxPayload()
	}
	return 0
}

// redactURLs hides the passwords in a comma-separated list of URLs.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if u, err := neturl.Parse(strings.TrimSpace(p)); err == nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

// ListenURL is the embedded server's client listener (nats://host:port), or
// "" when there is none.
func (b *Bus) ListenURL() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.listenURL()
}

func (b *Bus) listenURL() string {
	if b.srv == nil || b.o.Listen == "" {
		return ""
	}
	addr := b.srv.Addr()
	if addr == nil {
		return ""
	}
	return "nats://" + addr.String()
}

// Close stops the services, lets in-flight handlers finish (cancelling them
// after a short grace), drains the connection and shuts the embedded server
// down, waiting for all of it.
func (b *Bus) Close() error {
	// b.mu is not held while waiting: a handler may be making a request.
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.quitting.Store(true)
	services, srv, nc, connDone := b.services, b.srv, b.conn.Load(), b.connDone
	b.services = nil
	b.mu.Unlock()

	var errs []error
	// Stop routing requests here first (a macronode's other instances take
	// them), then refuse what is still queued and wait for what is running.
	for role, s := range services {
		if err := s.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("bus: stopping the %s service: %w", role, err))
		}
	}
	b.hmu.Lock()
	b.closing = true
	if b.inflight > 0 {
		t := time.AfterFunc(closeGrace, b.cancel)
		for b.inflight > 0 {
			b.idle.Wait()
		}
		t.Stop()
	}
	b.hmu.Unlock()
	b.cancel()

	if nc != nil {
		if err := nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			nc.Close()
		}
		<-connDone
	}
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
	return errors.Join(errs...)
}

// serverLogger sends the embedded server's warnings and errors to slog.
type serverLogger struct {
	l     *slog.Logger
	fatal atomic.Pointer[string]
	// authQuiet drops the server's line for each client that failed to
	// authenticate (the bus's authLimiter reports them, summed up, so a
	// guesser cannot flood the log).
	authQuiet bool
}

func (s *serverLogger) Noticef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Errorf(format string, v ...any) {
	m := fmt.Sprintf(format, v...)
	if s.authQuiet && strings.Contains(m, " - cid:") && strings.Contains(m, "authentication error") {
		s.l.Debug(m)
		return
	}
	s.l.Error(m)
}

// Fatalf does not exit: the server reports a fatal condition (such as a
// listener it cannot open) and Start returns it.
func (s *serverLogger) Fatalf(format string, v ...any) {
	m := fmt.Sprintf(format, v...)
	s.fatal.CompareAndSwap(nil, &m)
	s.l.Error(m)
}
func (s *serverLogger) Debugf(string, ...any) {}
func (s *serverLogger) Tracef(string, ...any) {}
