package overlay

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/sec"
	tptu "github.com/libp2p/go-libp2p/p2p/net/upgrader"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
)

// batchIO is how many bytes a TLS connection reads from its socket at once,
// and the size of the buffers its writes gather in: a 64 KiB yamux frame in
// records, with their headers and tags.
const batchIO = 64<<10 + 4<<10

// TLS is libp2p's TLS security transport ("/tls/1.0.0", the same bytes on
// the wire) with fewer system calls: crypto/tls writes each record (at most
// 16 KiB) with a write of its own and reads its socket a record or so at a
// time, which made the system calls the largest cost of a bulk transfer
// (core/blob's benchmark). Under TLS, a connection here gathers the records
// of one Write (a yamux frame of up to 64 KiB: four records) into one write,
// and reads up to batchIO bytes per read. The buffers are pooled: an idle
// connection holds none. Use it as libp2p.Security(libp2ptls.ID, overlay.TLS).
func TLS(id protocol.ID, key crypto.PrivKey, muxers []tptu.StreamMuxer) (sec.SecureTransport, error) {
	t, err := libp2ptls.New(id, key, muxers)
	if err != nil {
		return nil, err
	}
	return &batchedTLS{Transport: t}, nil
}

type batchedTLS struct {
	*libp2ptls.Transport
	pool sync.Pool // *[]byte of batchIO bytes
}

func (t *batchedTLS) SecureInbound(ctx context.Context, insecure net.Conn, p peer.ID) (sec.SecureConn, error) {
	bc := &batchConn{Conn: insecure, pool: &t.pool}
	sc, err := t.Transport.SecureInbound(ctx, bc, p)
	if err != nil {
		return nil, err
	}
	return &batchedConn{SecureConn: sc, bc: bc}, nil
}

func (t *batchedTLS) SecureOutbound(ctx context.Context, insecure net.Conn, p peer.ID) (sec.SecureConn, error) {
	bc := &batchConn{Conn: insecure, pool: &t.pool}
	sc, err := t.Transport.SecureOutbound(ctx, bc, p)
	if err != nil {
		return nil, err
	}
	return &batchedConn{SecureConn: sc, bc: bc}, nil
}

// batchConn is the socket under TLS. While batching, its writes (TLS's
// records) are gathered in out; reads come through a pooled buffer.
type batchConn struct {
	net.Conn
	pool *sync.Pool

	mu       sync.Mutex
	batching bool
	out      []byte

	// Only TLS's reader (one at a time) touches these.
	rmem *[]byte // the read buffer, while it holds unread bytes
	rbuf []byte  // its unread bytes
	rerr error   // the error of the read that filled it, returned after them
}

func (c *batchConn) get() *[]byte {
	if b, ok := c.pool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, batchIO)
	return &b
}

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.batching {
		c.out = append(c.out, p...)
		c.mu.Unlock()
		return len(p), nil
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *batchConn) Read(p []byte) (int, error) {
	if len(c.rbuf) == 0 {
		if err := c.rerr; err != nil {
			c.rerr = nil
			return 0, err
		}
		if len(p) >= batchIO {
			return c.Conn.Read(p)
		}
		if c.rmem == nil {
			c.rmem = c.get()
		}
		n, err := c.Conn.Read(*c.rmem)
		c.rbuf, c.rerr = (*c.rmem)[:n], err
		if n == 0 {
			c.release()
			c.rerr = nil
			return 0, err
		}
	}
	n := copy(p, c.rbuf)
	c.rbuf = c.rbuf[n:]
	if len(c.rbuf) == 0 {
		c.release()
	}
	return n, nil
}

func (c *batchConn) release() {
	if c.rmem != nil {
		c.pool.Put(c.rmem)
		c.rmem, c.rbuf = nil, nil
	}
}

// batchedConn is the TLS connection: each Write's records go out in one
// write of the socket.
type batchedConn struct {
	sec.SecureConn
	bc      *batchConn
	mu      sync.Mutex  // one Write at a time
	writing atomic.Bool // a Write is in progress
}

// Close closes the connection. As crypto/tls does for a Write in flight, it
// then closes the socket first (which breaks the Write) instead of sending
// close_notify behind it: a peer that stopped reading cannot hold it up.
func (s *batchedConn) Close() error {
	if s.writing.Load() {
		s.bc.Conn.Close()
	}
	return s.SecureConn.Close()
}

func (s *batchedConn) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writing.Store(true)
	defer s.writing.Store(false)
	bc := s.bc
	buf := bc.get()
	bc.mu.Lock()
	bc.batching, bc.out = true, (*buf)[:0]
	bc.mu.Unlock()
	n, err := s.SecureConn.Write(p)
	bc.mu.Lock()
	out := bc.out
	bc.batching, bc.out = false, nil
	bc.mu.Unlock()
	if len(out) > 0 {
		if _, werr := bc.Conn.Write(out); werr != nil && err == nil {
			n, err = 0, werr
		}
	}
	bc.pool.Put(buf) // (out may have outgrown it: the pool keeps its size)
	return n, err
}

// CloseWrite ends the sending side (TLS's close_notify) as crypto/tls does.
func (s *batchedConn) CloseWrite() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cw, ok := s.SecureConn.(interface{ CloseWrite() error })
	if !ok {
		return errors.New("overlay: the TLS connection cannot close its writing side")
	}
	return cw.CloseWrite()
}
