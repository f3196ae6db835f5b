package gateway

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// Origins. A browser isolates what it runs by origin (scheme, host, port):
// storage, service workers and same-origin reads. Content is therefore
// served from an origin per address,
//
//	<label>.<tld>.<domain>   an address: "/" is its payload, other paths its plugin resolves
//	<label>.<domain>         an object (/o/): "/" only
//
// where <label> is the CID's DNS label (cid.Label: 52 lower-case base32
// characters) and <domain> a gateway domain: "localhost" (browsers resolve
// *.localhost to loopback) and the public domains an operator configures
// (with wildcard DNS). The node's own origin (a gateway domain itself, an IP
// address, an operator's path host) serves the API and the ops endpoints;
// there, path requests (/r/, /o/) are redirected to their origin when the
// host is a gateway domain, and served sandboxed (Content-Security-Policy:
// sandbox) when it is not. A host that is none of these is refused (421):
// a page whose DNS name was rebound to the node's address never reaches it.

// ErrMisdirected is wrapped by the error for a Host this node does not
// serve; its status is 421.
var ErrMisdirected = errors.New("gateway: misdirected request")

// OriginKind is what a request's Host names.
type OriginKind uint8

// What a Host names.
const (
	OriginUnknown OriginKind = iota // not a host of this node
	OriginNode                      // the node's own origin: API, ops endpoints, path requests
	OriginContent                   // one address's, or one object's, origin
)

// Origin is what a request's Host names.
type Origin struct {
	Kind OriginKind
	// Domain is the gateway domain of the host ("localhost" or a configured
	// one). It is empty for a node origin where no origin per address can
	// exist (an IP address, a path host, no Host at all): content is served
	// there sandboxed, not redirected.
	Domain string
	// Hash and TLD name a content origin's address; an object's origin has
	// no TLD.
	Hash cid.CID
	TLD  string
}

// Localhost is the gateway domain every node serves: browsers resolve
// *.localhost to loopback without DNS.
const Localhost = "localhost"

// Hosts decides the origin of a request from its Host header. It is
// immutable and safe for concurrent use.
type Hosts struct {
	domains []string // longest first, so a domain wins over its parent
	paths   []string
}

// NewHosts returns the host table for the public gateway domains (served
// with an origin per address; they need wildcard DNS) and the path hosts
// (other names of the node, served as a path gateway). "localhost" is
// always a gateway domain; IP addresses are always the node's origin.
// Names are matched without case and a trailing dot.
func NewHosts(domains, pathHosts []string) (*Hosts, error) {
	h := &Hosts{domains: []string{Localhost}}
	for _, d := range domains {
		n, err := cid.CheckDomain(d)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(h.domains, n) {
			h.domains = append(h.domains, n)
		}
	}
	for _, p := range pathHosts {
		n, err := cid.CheckDomain(p)
		if err != nil {
			return nil, err
		}
		if slices.Contains(h.domains, n) {
			return nil, fmt.Errorf("gateway: %q is both a gateway domain and a path host", n)
		}
		h.paths = append(h.paths, n)
	}
	slices.SortStableFunc(h.domains, func(a, b string) int { return len(b) - len(a) })
	return h, nil
}

// Domains returns the gateway domains, localhost included.
func (h *Hosts) Domains() []string { return slices.Clone(h.domains) }

// Classify returns the origin a Host header (host[:port]) names, or an
// error: ErrMisdirected for a host this node does not serve, cid's
// ErrInvalidCID for a malformed label under a gateway domain. A nil Hosts
// knows only localhost.
func (h *Hosts) Classify(host string) (Origin, error) {
	name, ok := hostName(host)
	if !ok {
		return Origin{}, fmt.Errorf("%w: the Host %q is malformed", ErrMisdirected, host)
	}
	if name == "" || isIP(name) {
		return Origin{Kind: OriginNode}, nil
	}
	domains := []string{Localhost}
	var paths []string
	if h != nil {
		domains, paths = h.domains, h.paths
	}
	for _, d := range domains {
		if name == d {
			return Origin{Kind: OriginNode, Domain: d}, nil
		}
		if len(name) <= len(d)+1 || name[len(name)-len(d)-1] != '.' || name[len(name)-len(d):] != d {
			continue
		}
		sub := name[:len(name)-len(d)-1]
		lbl, tld, two := strings.Cut(sub, ".")
		if two && strings.Contains(tld, ".") {
			break // more labels than <label>.<tld>
		}
		c, err := cid.ParseLabel(lbl)
		if err != nil {
			return Origin{}, fmt.Errorf("gateway: the host %s is not <label>.<tld>.%s: %w", name, d, err)
		}
		if two {
			if err := cid.CheckTLD(tld); err != nil {
				return Origin{}, fmt.Errorf("gateway: the host %s: %w: %v", name, cid.ErrInvalidAddress, err)
			}
		}
		return Origin{Kind: OriginContent, Domain: d, Hash: c, TLD: tld}, nil
	}
	if slices.Contains(paths, name) {
		return Origin{Kind: OriginNode}, nil
	}
	return Origin{}, fmt.Errorf("%w: this node does not serve the host %q (it serves localhost and its subdomains, IP addresses, "+
		"and the names in [gateway] domains and path_hosts)", ErrMisdirected, name)
}

// hostName returns the lower-case host name of a Host header without its
// port and trailing dot ("" for no Host); an IPv6 literal keeps its
// brackets. ok is false for a malformed header.
func hostName(host string) (string, bool) {
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 || !validPort(host[end+1:]) {
			return "", false
		}
		return strings.ToLower(host[:end+1]), true
	}
	name := host
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		if !validPort(host[i:]) {
			return "", false
		}
		name = host[:i]
	}
	return strings.TrimSuffix(asciiLower(name), "."), true
}

// validPort accepts "" or ":" followed by up to 5 digits.
func validPort(p string) bool {
	if p == "" {
		return true
	}
	if p[0] != ':' || len(p) > 6 {
		return false
	}
	for i := 1; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// isIP reports whether name is an IPv4 address or a bracketed IPv6 one.
func isIP(name string) bool {
	if strings.HasPrefix(name, "[") {
		a, err := netip.ParseAddr(name[1 : len(name)-1])
		return err == nil && a.Is6()
	}
	a, err := netip.ParseAddr(name)
	return err == nil && a.Is4()
}

// port returns the ":port" of a Host header, or "".
func port(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		return host[i:]
	}
	return ""
}
