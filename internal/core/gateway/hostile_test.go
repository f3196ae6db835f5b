package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/poll"
)

// dialRaw opens a connection to the env's server from the loopback address ip,
// bounded by poll.Deadline (a hang guard, never a verdict on speed).
func (e *env) dialRaw(t *testing.T, ip string) net.Conn {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c, err := d.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(poll.Deadline))
	return c
}

// TestUnsentBodyHoldsNothing: a client that declares a request body and
// never sends it gets its answer at once, the connection is closed within
// WriteIdle, and its slot is free. (Before, net/http read the rest of the
// body, with no deadline, before sending the answer: from inside the
// handler when the answer was large, so a client holding its share of
// connections this way held its share of slots for good; after the
// handler otherwise, so the connection was never closed.)
func TestUnsentBodyHoldsNothing(t *testing.T) {
	e := newEnv(t, Config{MaxConcurrent: 4, MaxPerClient: 1, WriteIdle: 200 * time.Millisecond})
	obj := data(100<<10, 11) // answered from inside the handler
	c := e.put(t, obj)
	for _, tc := range []struct {
		req    string
		status int
		body   []byte
	}{
		{"GET /o/" + c.String() + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n", 200, obj},
		{"GET /o/" + c.String() + " HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n", 200, obj},
		{"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n", 200, []byte("ok\n")},
		{"POST /v1/objects HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nabc", 401, nil},
		{"POST /v1/objects HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 300000\r\n\r\n", 401, nil},
	} {
		what := strings.SplitN(tc.req, "\r\n", 2)[0] + " without its body"
		conn := e.dialRaw(t, "127.0.0.2")
		if _, err := io.WriteString(conn, tc.req); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: no answer: %v", what, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != tc.status || tc.body != nil && !bytes.Equal(body, tc.body) {
			t.Fatalf("%s: %d, %d bytes, %v", what, resp.StatusCode, len(body), err)
		}
		if !resp.Close {
			t.Fatalf("%s: the answer keeps the connection open (the rest of the body would be read as a request)", what)
		}
		// The server closes the connection (within WriteIdle), the slot is free.
		if n, err := br.Read(make([]byte, 1)); err == nil || n != 0 || strings.Contains(err.Error(), "timeout") {
			t.Fatalf("%s: the connection stays open: %d, %v", what, n, err)
		}
		resp, b := e.doFrom(t, "127.0.0.2", "/o/"+c.String())
		if resp.StatusCode != 200 || !bytes.Equal(b, obj) {
			t.Fatalf("after %s: the next request from that address: %d", what, resp.StatusCode)
		}
		// That request's handler returns just after its client has the answer.
		poll.Until(t, "no request in flight", func() bool { return e.metric(t, "ron_gateway_in_flight", nil) == 0 })
	}
	// A body sent keeps the connection, and a stalled one is still 408.
	conn := e.dialRaw(t, "127.0.0.2")
	br := bufio.NewReader(conn)
	for range 2 {
		fmt.Fprintf(conn, "POST /v1/objects HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer good\r\nContent-Length: 5\r\n\r\nhello")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 201 || resp.Close {
			t.Fatalf("an upload: %d, close %v", resp.StatusCode, resp.Close)
		}
	}
}

// doFrom GETs path from the loopback address ip.
func (e *env) doFrom(t *testing.T, ip, path string) (*http.Response, []byte) {
	t.Helper()
	cl := dialFrom(ip)
	defer cl.CloseIdleConnections()
	resp, err := cl.Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestUnreadAnswerIsCut: an answer not streamed by the content streamer
// (the node's ops endpoints, console assets, JSON) that its client does not
// read is cut after WriteIdle, and its slot freed. (Before, the handler's
// write blocked for good once the socket buffers were full.)
func TestUnreadAnswerIsCut(t *testing.T) {
	e := newEnv(t, Config{MaxConcurrent: 4, MaxPerClient: 1, WriteIdle: 200 * time.Millisecond})
	blob := bytes.Repeat([]byte("unread "), 64<<20/7) // more than loopback's socket buffers
	done := make(chan error, 1)
	e.gw.mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) {
		_, err := w.Write(blob)
		done <- err
	})
	small := e.put(t, []byte("small"))
	conn := e.dialRaw(t, "127.0.0.2")
	fmt.Fprintf(conn, "GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("64 MiB written to a client that reads nothing")
		}
	case <-time.After(poll.Deadline):
		t.Fatal("the handler is still writing to a client that reads nothing")
	}
	resp, b := e.doFrom(t, "127.0.0.2", "/o/"+small.String())
	if resp.StatusCode != 200 || string(b) != "small" {
		t.Fatalf("the next request from that address: %d %s", resp.StatusCode, b)
	}
}

// TestPipelinedUnreadAnswersAreCut: a client that pipelines requests and
// reads none of the answers has its connection closed once the socket
// buffers are full and a flush has stalled for WriteIdle. (Before, the
// connection and its goroutine waited for good, also after the handler.)
//
// Both ends' socket buffers are small, so the server's writes stall after
// about a hundred answers: with the kernel's own sizing, the server's send
// buffer grows to megabytes, and the answers that fill it took longer than
// the test's guard on a loaded race-detector runner.
func TestPipelinedUnreadAnswersAreCut(t *testing.T) {
	e := newEnv(t, Config{WriteIdle: 200 * time.Millisecond})
	srv := httptest.NewUnstartedServer(e.gw.Handler())
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if tc, ok := c.(*net.TCPConn); ok && s == http.StateNew {
			if err := tc.SetWriteBuffer(4096); err != nil {
				t.Error(err)
			}
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	d := &net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { // a small window: the buffers fill sooner
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetWriteDeadline(time.Now().Add(poll.Deadline)) // a hang guard
	reqs := []byte(strings.Repeat("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 100))
	for {
		_, err := conn.Write(reqs)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("the server still holds a connection whose client reads nothing")
		}
		if err != nil {
			break // reset: the server gave up on it
		}
	}
}

// FuzzRequest: whatever a request's method, Host, target and content
// headers say, the gateway answers without panicking and never with a
// failure of its own (5xx) over a healthy store and index.
func FuzzRequest(f *testing.F) {
	e := newEnv(f, Config{})
	obj := e.put(f, data(200<<10, 12))
	a := e.publish(f, "[meta]\ntld = \"txt\"\ntitle = \"fuzz\"\n", data(3000, 13))
	addr, err := cid.ParseAddress(a.Address)
	if err != nil {
		f.Fatal(err)
	}
	label := addr.Hash.Label() + ".txt.localhost"
	for _, s := range [][6]string{
		{"GET", "127.0.0.1", "/o/" + obj.String(), "bytes=0-9,100-,-5", "", ""},
		{"GET", "localhost", "/o/" + obj.String() + "?format=bao&entity-bytes=5:*", "", "application/vnd.ronhost.bao;q=0.5", ""},
		{"HEAD", label, "/first/10", "bytes=-0", "", `W/"x", *`},
		{"GET", label, "/%2e%2e/first/5", "bytes=1-1,1-1,1-1", "*/*", ""},
		{"OPTIONS", obj.Label() + ".localhost", "/", "", "", ""},
		{"GET", "[::1]:80", "/r/" + addr.Hash.Hex() + ".txt/first/99999", "bytes=0-", "", ""},
		{"GET", "LOCALHOST.", "/resolve/x%2Fy", "", "", ""},
		{"POST", "127.0.0.1", "/v1/objects?pin=maybe", "", "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5])
	}
	f.Fuzz(func(t *testing.T, method, host, target, rng, accept, inm string) {
		if !validMethod(method) || !strings.HasPrefix(target, "/") {
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Method, r.URL, r.RequestURI, r.Host = method, u, target, host
		for k, v := range map[string]string{"Range": rng, "Accept": accept, "If-None-Match": inm} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		w := httptest.NewRecorder()
		e.gw.Handler().ServeHTTP(w, r)
		if w.Code >= 500 && w.Code != http.StatusBadGateway {
			t.Fatalf("%s %s%s (Range %q, Accept %q, If-None-Match %q): %d %s", method, host, target, rng, accept, inm, w.Code, w.Body)
		}
	})
}

// validMethod is what net/http's server accepts as a method: a token.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
