package tor

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/cretz/bine/control"
)

// Dialer dials through tor's SOCKS5 port. Hostnames (".onion" included) are
// sent to tor unresolved, so tor resolves them.
type Dialer struct{ t *Tor }

// Dialer returns a dialer through this tor's SOCKS port. It follows restarts:
// each dial uses the current tor, and fails with ErrNotReady while there is
// none.
func (t *Tor) Dialer() *Dialer { return &Dialer{t: t} }

// SOCKSError is a SOCKS5 failure reply from tor.
type SOCKSError struct {
	Addr string
	Code byte
}

func (e *SOCKSError) Error() string {
	return fmt.Sprintf("tor: socks connect %s: %s (0x%02x)", e.Addr, socksReply(e.Code), e.Code)
}

func socksReply(c byte) string {
	switch c {
	case 0x01:
		return "general failure"
	case 0x02:
		return "not allowed by ruleset"
	case 0x03:
		return "network unreachable"
	case 0x04:
		return "host unreachable"
	case 0x05:
		return "connection refused"
	case 0x06:
		return "TTL expired"
	case 0x07:
		return "command not supported"
	case 0x08:
		return "address type not supported"
	// tor's extended errors (SocksPort ExtendedErrors)
	case 0xF0:
		return "onion service descriptor not found"
	case 0xF1:
		return "onion service descriptor invalid"
	case 0xF2:
		return "onion service introduction failed"
	case 0xF3:
		return "onion service rendezvous failed"
	case 0xF4:
		return "onion service client authorization missing"
	case 0xF5:
		return "onion service client authorization wrong"
	case 0xF6:
		return "onion address invalid"
	case 0xF7:
		return "onion service introduction timed out"
	}
	return "unknown error"
}

// DialContext connects to addr ("host:port", host a hostname or an IP) through
// tor. network must be "tcp", "tcp4" or "tcp6".
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("tor: dial %s: network %q not supported", addr, network)
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("tor: dial %s: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("tor: dial %s: bad port", addr)
	}
	if len(host) == 0 || len(host) > 255 {
		return nil, fmt.Errorf("tor: dial %s: bad host", addr)
	}
	inst, err := d.t.current()
	if err != nil {
		return nil, err
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, inst.socksNet, inst.socksAddr)
	if err != nil {
		return nil, fmt.Errorf("%w: socks port %s: %v", ErrNotReady, inst.socksAddr, err)
	}
	if err := socksConnect(ctx, c, host, uint16(port)); err != nil {
		c.Close()
		if id, ok := strings.CutSuffix(strings.ToLower(host), ".onion"); ok && len(id) == 56 {
			// A restarted service has new introduction points, but tor keeps
			// using its cached descriptor for minutes: ask for a fresh one so
			// the next attempt can succeed.
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			inst.request(fctx, func(c *control.Conn) error { return c.GetHiddenServiceDescriptorAsync(id, "") })
			cancel()
		}
		return nil, err
	}
	return c, nil
}

// socksConnect runs the SOCKS5 handshake (no authentication, CONNECT by
// domain name or IP) on c, honouring ctx.
func socksConnect(ctx context.Context, c net.Conn, host string, port uint16) (err error) {
	addr := net.JoinHostPort(host, strconv.Itoa(int(port)))
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		stop()
		c.SetDeadline(time.Time{})
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("tor: socks connect %s: %w (%v)", addr, ctx.Err(), err)
		}
	}()
	if _, err := c.Write([]byte{5, 1, 0}); err != nil {
		return fmt.Errorf("tor: socks connect %s: %w", addr, err)
	}
	var b [4]byte
	if _, err := io.ReadFull(c, b[:2]); err != nil {
		return fmt.Errorf("tor: socks connect %s: %w", addr, err)
	}
	if b[0] != 5 || b[1] != 0 {
		return fmt.Errorf("tor: socks connect %s: server refused the no-auth method", addr)
	}
	req := []byte{5, 1, 0}
	if ip := net.ParseIP(host); ip != nil && ip.To4() != nil {
		req = append(append(req, 1), ip.To4()...)
	} else if ip != nil {
		req = append(append(req, 4), ip.To16()...)
	} else {
		req = append(append(req, 3, byte(len(host))), host...)
	}
	req = binary.BigEndian.AppendUint16(req, port)
	if _, err := c.Write(req); err != nil {
		return fmt.Errorf("tor: socks connect %s: %w", addr, err)
	}
	if _, err := io.ReadFull(c, b[:4]); err != nil {
		return fmt.Errorf("tor: socks connect %s: %w", addr, err)
	}
	if b[0] != 5 {
		return fmt.Errorf("tor: socks connect %s: bad reply version %d", addr, b[0])
	}
	if b[1] != 0 {
		return &SOCKSError{Addr: addr, Code: b[1]}
	}
	var skip int
	switch b[3] {
	case 1:
		skip = 4 + 2
	case 4:
		skip = 16 + 2
	case 3:
		if _, err := io.ReadFull(c, b[:1]); err != nil {
			return fmt.Errorf("tor: socks connect %s: %w", addr, err)
		}
		skip = int(b[0]) + 2
	default:
		return fmt.Errorf("tor: socks connect %s: bad reply address type %d", addr, b[3])
	}
	if _, err := io.CopyN(io.Discard, c, int64(skip)); err != nil {
		return fmt.Errorf("tor: socks connect %s: %w", addr, err)
	}
	return nil
}
