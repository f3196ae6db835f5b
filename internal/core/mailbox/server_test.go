package mailbox

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ronhost/ronhost/internal/poll"
)

// serve opens a mailbox with o and serves its Server on loopback TCP.
func serve(t *testing.T, o Options) string {
	t.Helper()
	id, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.FS, o.Identity, o.Host = vfs.NewMem(), id, l.Addr().String()
	m, err := Open(bg, "/m", o)
	if err != nil {
		t.Fatal(err)
	}
	srv := m.Server()
	go srv.Serve(l)
	t.Cleanup(func() {
		srv.Close()
		m.Close()
	})
	return l.Addr().String()
}

func dial(t *testing.T, addr, send string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, send); err != nil {
		t.Fatal(err)
	}
	return c
}

// closedByServer reads c until the server closes it; a minute without
// that is the server holding the connection forever.
func closedByServer(t *testing.T, what string, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(time.Minute))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: the server still holds the connection", what)
	}
}

// TestServerDropsSlowAndIdleSenders: a stranger that trickles an envelope
// (header sent, body never finished), keeps a connection alive and idle
// after an answer, or sends half a header loses the connection after
// ServeTimeout, so strangers cannot hold the node's file descriptors.
// (ServeTimeout also bounds the honest GET's answer: a second leaves a
// loaded race-detector runner room to write it.)
func TestServerDropsSlowAndIdleSenders(t *testing.T) {
	addr := serve(t, Options{ServeTimeout: time.Second})
	slowBody := dial(t, addr, "POST "+DeliverPath+" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"v\":")
	idle := dial(t, addr, "GET "+DeliverPath+" HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Close {
		t.Fatalf("GET: %s, close %v", resp.Status, resp.Close)
	}
	halfHeader := dial(t, addr, "POST "+DeliverPath+" HTTP/1.1\r\nHost: x\r\n")
	closedByServer(t, "a body never finished", slowBody)
	closedByServer(t, "a kept-alive idle connection", idle)
	closedByServer(t, "half a header", halfHeader)
}

// TestServerBoundsConnections: connections over MaxConns are closed as
// they arrive (ServeTimeout is an hour here: only the bound can close
// them); once one of the open ones ends, a new one is served.
func TestServerBoundsConnections(t *testing.T) {
	addr := serve(t, Options{MaxConns: 2, ServeTimeout: time.Hour})
	held := []net.Conn{dial(t, addr, "POST "), dial(t, addr, "POST ")}
	closedByServer(t, "a connection over MaxConns", dial(t, addr, ""))
	held[0].Close()
	poll.Until(t, "a new connection served", func() bool {
		c := dial(t, addr, "GET "+DeliverPath+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusMethodNotAllowed
	})
}
