package overlay

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/sec"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"

	"github.com/ronhost/ronhost/internal/poll"
)

// countingConn counts the writes and reads that reach the socket.
type countingConn struct {
	net.Conn
	writes, reads atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) { c.writes.Add(1); return c.Conn.Write(p) }
func (c *countingConn) Read(p []byte) (int, error)  { c.reads.Add(1); return c.Conn.Read(p) }

type tlsSide struct {
	tr   sec.SecureTransport
	id   peer.ID
	conn *countingConn
	sc   sec.SecureConn
}

func newTLSSide(t *testing.T, batched bool) *tlsSide {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	var tr sec.SecureTransport
	if batched {
		tr, err = TLS(libp2ptls.ID, key, nil)
	} else {
		tr, err = libp2ptls.New(libp2ptls.ID, key, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &tlsSide{tr: tr, id: id}
}

// tlsPair connects a client and a server over 127.0.0.1 TCP and secures
// the connection with each side's transport.
func tlsPair(t *testing.T, client, server *tlsSide) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx := context.Background()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		server.conn = &countingConn{Conn: c}
		server.sc, err = server.tr.SecureInbound(ctx, server.conn, client.id)
		done <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	client.conn = &countingConn{Conn: c}
	if client.sc, err = client.tr.SecureOutbound(ctx, client.conn, server.id); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.sc.Close(); server.sc.Close() })
	if client.sc.RemotePeer() != server.id || server.sc.RemotePeer() != client.id {
		t.Fatal("the handshake authenticated the wrong peers")
	}
}

// TestTLSBatchesRecords: a 64 KiB write (four TLS records) leaves in one
// write of the socket, and the bytes arrive intact, with a peer running
// libp2p's own TLS on the other end in both directions (the wire is
// unchanged) and with this TLS on both ends.
func TestTLSBatchesRecords(t *testing.T) {
	for _, tc := range []struct {
		name           string
		client, server bool // batched
	}{{"batched-both", true, true}, {"batched-client", true, false}, {"batched-server", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := newTLSSide(t, tc.client), newTLSSide(t, tc.server)
			tlsPair(t, client, server)
			for _, dir := range []struct {
				name     string
				from, to *tlsSide
				batched  bool
			}{{"to server", client, server, tc.client}, {"to client", server, client, tc.server}} {
				msg := make([]byte, 64<<10)
				rand.Read(msg)
				before := dir.from.conn.writes.Load()
				got := make(chan []byte, 1)
				go func() {
					b := make([]byte, len(msg))
					_, err := io.ReadFull(dir.to.sc, b)
					if err != nil {
						b = nil
					}
					got <- b
				}()
				if n, err := dir.from.sc.Write(msg); err != nil || n != len(msg) {
					t.Fatalf("%s: Write: %d, %v", dir.name, n, err)
				}
				if b := <-got; !bytes.Equal(b, msg) {
					t.Fatalf("%s: the bytes differ", dir.name)
				}
				writes := dir.from.conn.writes.Load() - before
				if dir.batched && writes != 1 {
					t.Errorf("%s: %d socket writes for one 64 KiB Write, want 1", dir.name, writes)
				}
				if !dir.batched && writes < 4 {
					t.Errorf("%s: libp2p's TLS made %d socket writes for four records: the baseline moved", dir.name, writes)
				}
			}
		})
	}
}

// TestTLSStreamsBothWays: many writes of all sizes, both ways at once, all
// arrive in order; reads of every size work through the read buffer; a
// peer that closes ends the other's reads with EOF after its last byte.
func TestTLSStreamsBothWays(t *testing.T) {
	client, server := newTLSSide(t, true), newTLSSide(t, true)
	tlsPair(t, client, server)
	data := make([]byte, 3<<20+17)
	rand.Read(data)
	sizes := []int{1, 100, 16 << 10, 16<<10 + 1, 64 << 10, 200 << 10, batchIO, batchIO + 1}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, p := range [][2]*tlsSide{{client, server}, {server, client}} {
		from, to := p[0], p[1]
		wg.Add(2)
		go func() { // writer: the data in writes of varying sizes, then close
			defer wg.Done()
			for off, i := 0, 0; off < len(data); i++ {
				n := min(sizes[i%len(sizes)], len(data)-off)
				if _, err := from.sc.Write(data[off : off+n]); err != nil {
					errs <- err
					return
				}
				off += n
			}
			if cw, ok := from.sc.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
		}()
		go func() { // reader: reads of varying sizes up to EOF
			defer wg.Done()
			var got bytes.Buffer
			buf := make([]byte, 256<<10)
			for i := 0; ; i++ {
				n, err := to.sc.Read(buf[:sizes[(i*3)%len(sizes)]])
				got.Write(buf[:n])
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					errs <- err
					return
				}
			}
			if !bytes.Equal(got.Bytes(), data) {
				errs <- errors.New("the bytes differ")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestTLSGarbage: a peer that sends bytes that are not TLS records after
// the handshake makes Read fail (no hang, no panic), and a connection whose
// socket ends mid-record fails the same way.
func TestTLSGarbage(t *testing.T) {
	client, server := newTLSSide(t, true), newTLSSide(t, true)
	tlsPair(t, client, server)
	junk := make([]byte, 100<<10)
	rand.Read(junk)
	junk[0] = 23 // application data
	if _, err := client.conn.Conn.Write(junk); err != nil {
		t.Fatal(err)
	}
	if _, err := server.sc.Read(make([]byte, 1024)); err == nil {
		t.Fatal("garbage read as data")
	}

	client, server = newTLSSide(t, true), newTLSSide(t, true)
	tlsPair(t, client, server)
	// A record header announcing more than the socket will ever carry.
	client.conn.Conn.Write([]byte{23, 3, 3, 0x40, 0x00, 1, 2, 3})
	client.conn.Conn.Close()
	if _, err := server.sc.Read(make([]byte, 1024)); err == nil {
		t.Fatal("a truncated record read as data")
	}
}

// TestTLSCloseBreaksStuckWrite: a peer that stops reading leaves a Write
// stuck on the socket (its records gathered, their one socket write
// blocked); Close returns and the Write fails, as with crypto/tls alone.
func TestTLSCloseBreaksStuckWrite(t *testing.T) {
	client, server := newTLSSide(t, true), newTLSSide(t, true)
	tlsPair(t, client, server)
	client.conn.Conn.(*net.TCPConn).SetWriteBuffer(16 << 10)
	server.conn.Conn.(*net.TCPConn).SetReadBuffer(16 << 10)
	before := client.conn.writes.Load()
	done := make(chan error, 1)
	go func() {
		_, err := client.sc.Write(make([]byte, 8<<20)) // far more than both socket buffers hold
		done <- err
	}()
	poll.Until(t, "the gathered records start out", func() bool { return client.conn.writes.Load() > before })
	client.sc.Close()
	if err := <-done; err == nil {
		t.Fatal("a Write to a peer that does not read succeeded after Close")
	}
}
