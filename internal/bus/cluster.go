package bus

import (
	"crypto/tls"
	"fmt"
	"net"
	neturl "net/url"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ClusterOptions join the embedded server to a NATS cluster: each member
// listens for routes on Listen and connects to the others' Routes. The
// members share subjects and queue groups, so the instances of a role
// connected to different members share its requests.
type ClusterOptions struct {
	// Name is the cluster's name, the same on every member; "" means no
	// clustering (and the other fields must be empty).
	Name string
	// Listen is the host:port on which this member accepts routes, e.g.
	// "127.0.0.1:6222" (port 0 picks a free one; ClusterURL tells which).
	Listen string
	// Routes are the other members, as nats-route://host:port (nats:// is
	// accepted too). A member may list itself: the server notices and
	// ignores that route, so every member can be given the same list. A
	// member that is not up yet is retried until it is.
	Routes []string
	// User and Password, when set, are required of every member connecting
	// a route, and presented to the members in Routes: give every member
	// the same pair. Password is the plain secret (it is sent to the other
	// members), never a bcrypt hash.
	User, Password string
}

// TLSOptions secure the bus's connections with TLS.
//
// Embedded (Options.URL ""): CertFile and KeyFile are the server's
// certificate, used on the client listener (Options.Listen) and on the
// cluster routes. Verify makes the listener require a client certificate
// signed by CAFile. Routes always use mutual TLS: a member presents its
// certificate and requires one signed by CAFile from the others, so with a
// cluster CAFile is required and the certificate must be valid for both
// server and client authentication and name the host the others dial. The
// in-process connection of the node itself does not use TLS.
//
// With Options.URL: CAFile is the CA that signed the servers' certificates
// ("" trusts the system's roots) and CertFile and KeyFile, when set, are the
// client certificate presented to servers that ask for one. Verify does not
// apply (the servers decide whether they want a client certificate).
type TLSOptions struct {
	CertFile, KeyFile, CAFile string
	Verify                    bool
}

// Server-side keepalives, so that a member or a client that vanished
// without closing its connection (a machine that died, a partition) is
// noticed in about 30 s, and its queue subscriptions stop receiving
// requests; nats-server's defaults take minutes.
const (
	serverPingInterval = 10 * time.Second
	serverMaxPingsOut  = 3
)

func (c *ClusterOptions) enabled() bool { return c.Name != "" }

func (o *Options) checkCluster() error {
	c := &o.Cluster
	if !c.enabled() {
		if c.Listen != "" || len(c.Routes) > 0 || c.User != "" || c.Password != "" {
			return fmt.Errorf("%w: Cluster needs a Name (the same on every member)", ErrConfig)
		}
		return nil
	}
	if o.URL != "" {
		return fmt.Errorf("%w: Cluster is for the embedded server; with URL the cluster is that deployment's", ErrConfig)
	}
	if strings.ContainsAny(c.Name, " \t\r\n") {
		return fmt.Errorf("%w: Cluster.Name %q has white space", ErrConfig, c.Name)
	}
	if c.Listen == "" {
		return fmt.Errorf("%w: Cluster.Listen is required (host:port for the routes of the other members)", ErrConfig)
	}
	if _, _, err := splitHostPort("Cluster.Listen", c.Listen); err != nil {
		return err
	}
	if (c.User == "") != (c.Password == "") {
		return fmt.Errorf("%w: Cluster.User and Cluster.Password go together", ErrConfig)
	}
	if c.Password != "" && isBcrypt(c.Password) {
		return fmt.Errorf("%w: Cluster.Password must be the plain secret (it is presented to the other members), not a bcrypt hash", ErrConfig)
	}
	if c.Password != "" {
		if err := CheckPassword("Cluster.Password", c.User, c.Password); err != nil {
			return err
		}
	}
	host, _, _ := splitHostPort("Cluster.Listen", c.Listen)
	if err := CheckExposure("Cluster.Listen", host, o.TLS != nil && o.TLS.CertFile != ""); err != nil {
		return err
	}
	if _, err := c.routeURLs(); err != nil {
		return err
	}
	return nil
}

// routeURLs parses Routes, adding User and Password to those that carry no
// credentials of their own.
func (c *ClusterOptions) routeURLs() ([]*neturl.URL, error) {
	var out []*neturl.URL
	for _, r := range c.Routes {
		u, err := neturl.Parse(strings.TrimSpace(r))
		if err != nil {
			return nil, fmt.Errorf("%w: Cluster.Routes: %q: %v", ErrConfig, r, err)
		}
		if u.Scheme != "nats-route" && u.Scheme != "nats" {
			return nil, fmt.Errorf("%w: Cluster.Routes: %q: want nats-route://host:port", ErrConfig, u.Redacted())
		}
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "0" || u.Hostname() == "" {
			return nil, fmt.Errorf("%w: Cluster.Routes: %q: want nats-route://host:port with a port", ErrConfig, u.Redacted())
		}
		if u.User == nil && c.User != "" {
			u.User = neturl.UserPassword(c.User, c.Password)
		}
		out = append(out, u)
	}
	return out, nil
}

func (o *Options) checkTLS() error {
	t := o.TLS
	if t == nil {
		return nil
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return fmt.Errorf("%w: TLS.CertFile and TLS.KeyFile go together", ErrConfig)
	}
	if o.URL != "" {
		if t.Verify {
			return fmt.Errorf("%w: TLS.Verify is for the embedded server's listener; with URL the servers decide whether they want a client certificate", ErrConfig)
		}
		return nil
	}
	if o.Listen == "" && !o.Cluster.enabled() {
		return fmt.Errorf("%w: TLS secures the listener and the cluster routes; set Listen or Cluster (the in-process connection needs none)", ErrConfig)
	}
	if t.CertFile == "" {
		return fmt.Errorf("%w: TLS.CertFile and TLS.KeyFile are required for the embedded server", ErrConfig)
	}
	if t.CAFile == "" && t.Verify {
		return fmt.Errorf("%w: TLS.Verify needs TLS.CAFile (the CA that signs client certificates)", ErrConfig)
	}
	if t.CAFile == "" && o.Cluster.enabled() {
		return fmt.Errorf("%w: TLS with a cluster needs TLS.CAFile (routes use mutual TLS)", ErrConfig)
	}
	return nil
}

// configureServer adds the cluster and TLS settings to the embedded
// server's options.
func (b *Bus) configureServer(so *server.Options) error {
	so.PingInterval, so.MaxPingsOut = serverPingInterval, serverMaxPingsOut
	if t := b.o.TLS; t != nil && b.o.Listen != "" {
		tc, err := serverTLS(t, t.Verify)
		if err != nil {
			return err
		}
		so.TLSConfig, so.TLSVerify = tc, t.Verify
		so.TLSTimeout = tlsTimeout.Seconds()
	}
	c := b.o.Cluster
	if !c.enabled() {
		return nil
	}
	host, port, err := splitHostPort("Cluster.Listen", c.Listen)
	if err != nil {
		return err
	}
	routes, err := c.routeURLs()
	if err != nil {
		return err
	}
	so.Cluster = server.ClusterOpts{
		Name:         c.Name,
		Host:         host,
		Port:         port,
		Username:     c.User,
		Password:     c.Password,
		PingInterval: serverPingInterval,
		MaxPingsOut:  serverMaxPingsOut,
		NoAdvertise:  b.o.Listen == "", // the loopback listener of startServer is not for clients
	}
	so.Routes = routes
	if t := b.o.TLS; t != nil {
		tc, err := serverTLS(t, true)
		if err != nil {
			return err
		}
		// A member is the client of the routes it dials: it checks their
		// certificates against the same CA (as nats-server's own cluster
		// tls block does).
		tc.RootCAs = tc.ClientCAs
		so.Cluster.TLSConfig = tc
		so.Cluster.TLSTimeout = tlsTimeout.Seconds()
	}
	return nil
}

// tlsTimeout bounds a TLS handshake on the embedded server.
const tlsTimeout = 2 * time.Second

func serverTLS(t *TLSOptions, verify bool) (*tls.Config, error) {
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: t.CertFile, KeyFile: t.KeyFile, CaFile: t.CAFile, Verify: verify})
	if err != nil {
		return nil, fmt.Errorf("%w: TLS: %v", ErrConfig, err)
	}
	return tc, nil
}

// clientTLS is the nats.go options for TLS to URL.
func clientTLS(t *TLSOptions) []nats.Option {
	if t == nil {
		return nil
	}
	opts := []nats.Option{nats.Secure()}
	if t.CAFile != "" {
		opts = append(opts, nats.RootCAs(t.CAFile))
	}
	if t.CertFile != "" {
		opts = append(opts, nats.ClientCert(t.CertFile, t.KeyFile))
	}
	return opts
}

// ClusterURL is the embedded server's route listener
// (nats-route://host:port) once started, for the other members' Routes; ""
// without a cluster.
func (b *Bus) ClusterURL() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv == nil || !b.o.Cluster.enabled() {
		return ""
	}
	addr := b.srv.ClusterAddr()
	if addr == nil {
		return ""
	}
	return "nats-route://" + addr.String()
}
