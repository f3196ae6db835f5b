package bus

import (
	"crypto/hmac"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"
)

// The embedded server's client authentication (when it accepts connections
// from outside its process): the node's own connection (internalUser), the
// operator (Options.User and Password: every subject, for the nats CLI),
// and role keys derived from Options.Secret (Contract.Permissions of their
// role set). Failed attempts are counted per address (authLimiter).

// credential is a user name, the bcrypt hash of its password and its
// permissions (nil: everything).
type credential struct {
	user  string
	hash  []byte
	perms *server.Permissions
}

type authenticator struct {
	log      *slog.Logger
	internal credential
	operator *credential // nil: no operator user
	secret   []byte      // nil: no role keys
	contract Contract
	limit    *authLimiter
}

// Check is nats-server's hook for every client connection.
func (a *authenticator) Check(c server.ClientAuthentication) bool {
	addr := limitKey(c.RemoteAddress())
	if !a.limit.begin(addr) {
		return false
	}
	user, perms, ok := a.verify(c)
	a.limit.end(addr, ok, user)
	if !ok {
		return false
	}
	c.RegisterUser(&server.User{Username: user, Permissions: perms})
	return true
}

// verify checks the credentials c presents; it returns the user and its
// permissions.
func (a *authenticator) verify(c server.ClientAuthentication) (string, *server.Permissions, bool) {
	o := c.GetOpts()
	switch {
	case o.Nkey != "":
		return a.verifyRoleKey(o, c.GetNonce())
	case o.Username == "" || o.Password == "" || o.Token != "" || o.JWT != "":
		return o.Username, nil, false
	case o.Username == a.internal.user:
		return o.Username, a.internal.perms, bcrypt.CompareHashAndPassword(a.internal.hash, []byte(o.Password)) == nil
	case a.operator != nil && o.Username == a.operator.user:
		return o.Username, nil, bcrypt.CompareHashAndPassword(a.operator.hash, []byte(o.Password)) == nil
	}
	return o.Username, nil, false
}

// verifyRoleKey checks a role-key connection: its user names a role set
// (RoleSet form), its nkey is the one derived for that set, and its
// signature of the nonce verifies.
func (a *authenticator) verifyRoleKey(o *server.ClientOpts, nonce []byte) (string, *server.Permissions, bool) {
	if a.secret == nil || o.Password != "" || len(nonce) == 0 {
		return o.Username, nil, false
	}
	roles := strings.Split(o.Username, ",")
	if set, err := RoleSet(roles); err != nil || set != o.Username {
		return o.Username, nil, false
	}
	key, err := RoleKey(a.secret, roles)
	if err != nil {
		return o.Username, nil, false
	}
	pub, err := RolePublicKey(key)
	if err != nil || !hmac.Equal([]byte(pub), []byte(o.Nkey)) {
		return o.Username, nil, false
	}
	sig, err := base64.RawURLEncoding.DecodeString(o.Sig)
	if err != nil {
		if sig, err = base64.StdEncoding.DecodeString(o.Sig); err != nil {
			return o.Username, nil, false
		}
	}
	kp, err := nkeys.FromPublicKey(pub)
	if err != nil || kp.Verify(nonce, sig) != nil {
		return o.Username, nil, false
	}
	p, err := a.contract.Permissions(roles, roleInbox(pub))
	if err != nil {
		return o.Username, nil, false
	}
	return o.Username, p.server(), true
}

// Limits on failed authentications, per client address (an IPv4 address,
// or an IPv6 /64): an address may fail authBurst times at once; after
// that it gets one attempt every authRefill, and meanwhile its attempts are
// refused without their credentials being looked at (a right guess is
// refused too, so guessing learns nothing). A WARN says so when an address
// reaches the limit, and at most every authWarnEvery while it goes on.
// Connections from inside the process are never limited.
const (
	authBurst     = 10
	authRefill    = 2 * time.Second
	authWarnEvery = time.Minute
	authMaxAddrs  = 4096
)

type authLimiter struct {
	log *slog.Logger
	now func() time.Time

	mu    sync.Mutex
	addrs map[string]*authBucket
}

type authBucket struct {
	tokens  float64   // attempts it may fail now
	at      time.Time // when tokens was last brought up to date
	failed  int       // failures since the last WARN
	refused int       // attempts refused since the last WARN
	warned  time.Time // zero: not warned since the bucket was last full
}

func newAuthLimiter(log *slog.Logger, now func() time.Time) *authLimiter {
	if now == nil {
		now = time.Now
	}
	return &authLimiter{log: log, now: now, addrs: map[string]*authBucket{}}
}

// limitKey is the address an attempt is counted under; "" for connections
// from inside the process.
func limitKey(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return ""
	}
	if ip4 := tcp.IP.To4(); ip4 != nil {
		return ip4.String()
	}
	return tcp.IP.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// bucket returns addr's bucket brought up to date; mu is held.
func (l *authLimiter) bucket(addr string, now time.Time) *authBucket {
	b := l.addrs[addr]
	if b == nil {
		if len(l.addrs) >= authMaxAddrs {
			l.evict(now)
		}
		if len(l.addrs) >= authMaxAddrs {
			// Too many addresses failing at once: the newcomers share one
			// bucket, so spreading guesses over addresses does not help.
			addr = "*"
			if b = l.addrs[addr]; b != nil {
				l.refill(b, now)
				return b
			}
		}
		b = &authBucket{tokens: authBurst, at: now}
		l.addrs[addr] = b
		return b
	}
	l.refill(b, now)
	return b
}

func (l *authLimiter) refill(b *authBucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(authBurst, b.tokens+float64(d)/float64(authRefill))
		b.at = now
	}
}

// evict forgets the addresses whose buckets are full again.
func (l *authLimiter) evict(now time.Time) {
	for k, b := range l.addrs {
		if l.refill(b, now); b.tokens >= authBurst {
			delete(l.addrs, k)
		}
	}
}

// begin says whether an attempt from addr may be checked; it reserves one
// failure, which end gives back when the attempt succeeds.
func (l *authLimiter) begin(addr string) bool {
	if addr == "" {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.bucket(addr, now)
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	b.refused++
	if b.warned.IsZero() || now.Sub(b.warned) >= authWarnEvery {
		l.warn(addr, b, now)
	}
	return false
}

// end records the outcome of an attempt begin allowed.
func (l *authLimiter) end(addr string, ok bool, user string) {
	if addr == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.bucket(addr, now)
	if ok {
		b.tokens = min(authBurst, b.tokens+1)
		return
	}
	b.failed++
	l.log.Debug("bus authentication failed", "addr", addr, "user", user)
	if b.tokens < 1 && (b.warned.IsZero() || now.Sub(b.warned) >= authWarnEvery) {
		l.warn(addr, b, now)
	}
}

func (l *authLimiter) warn(addr string, b *authBucket, now time.Time) {
	l.log.Warn("repeated bus authentication failures: refusing this address's attempts (one allowed every "+authRefill.String()+")",
		"addr", addr, "failed", b.failed, "refused", b.refused)
	b.failed, b.refused, b.warned = 0, 0, now
}

// Passwords the embedded server accepts (Options.Password on Listen, and
// Cluster.Password): at least minPasswordLen characters, of which at least
// minPasswordDistinct different ones, not containing the user name; or a
// bcrypt hash of cost at least minBcryptCost.
const (
	minPasswordLen      = 16
	minPasswordDistinct = 8
	minBcryptCost       = 10
)

// CheckPassword applies the password rule to pw, the password of user that
// field names (the error names field): at least 16 characters, at least 8
// different ones, not containing user; or a bcrypt hash of cost 10 or more.
func CheckPassword(field, user, pw string) error {
	if isBcrypt(pw) {
		if cost, _ := bcrypt.Cost([]byte(pw)); cost < minBcryptCost {
			return fmt.Errorf("%w: %s is a bcrypt hash of cost %d: at least %d is needed", ErrConfig, field, cost, minBcryptCost)
		}
		return nil
	}
	distinct := map[rune]bool{}
	n := 0
	for _, r := range pw {
		distinct[r] = true
		n++
	}
	why := ""
	switch {
	case n < minPasswordLen:
		why = fmt.Sprintf("%d characters, fewer than %d", n, minPasswordLen)
	case len(distinct) < minPasswordDistinct:
		why = fmt.Sprintf("only %d different characters, fewer than %d", len(distinct), minPasswordDistinct)
	case user != "" && strings.Contains(strings.ToLower(pw), strings.ToLower(user)):
		why = "it contains the user name"
	}
	if why != "" {
		return fmt.Errorf("%w: %s is too weak (%s): use at least %d random characters, e.g. `head -c 24 /dev/urandom | base64`",
			ErrConfig, field, why, minPasswordLen)
	}
	return nil
}

// CheckExposure refuses a listener of the embedded server on host (which
// field names) that is not on loopback unless it has TLS: passwords, and
// everything the roles say, would cross the network in clear.
func CheckExposure(field, host string, tls bool) error {
	if tls || isLoopback(host) {
		return nil
	}
	what := "a non-loopback address"
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		what = "every address (a wildcard)"
	}
	return fmt.Errorf("%w: %s %q listens on %s without TLS: give it TLS (tls_cert, tls_key) or listen on 127.0.0.1", ErrConfig, field, host, what)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
