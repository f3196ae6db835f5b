package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/poll"
)

func TestObjectGetAndHead(t *testing.T) {
	e := newEnv(t, Config{})
	for _, n := range []int{0, 1000, 300_000} { // empty, inline, file
		b := data(n, uint64(n))
		c := e.put(t, b)
		etag := `"` + c.String() + `"`
		resp, body := e.do(t, "GET", "/o/"+c.String(), nil, nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, b) {
			t.Fatalf("n=%d: GET %d, %d bytes", n, resp.StatusCode, len(body))
		}
		for k, v := range map[string]string{
			"ETag": etag, "Cache-Control": "public, max-age=31536000, immutable", "Accept-Ranges": "bytes",
			"Content-Length": strconv.Itoa(n), "X-Content-Type-Options": "nosniff", "Content-Type": "application/octet-stream",
		} {
			if got := resp.Header.Get(k); got != v {
				t.Fatalf("n=%d: %s = %q, want %q", n, k, got, v)
			}
		}
		resp, body = e.do(t, "HEAD", "/o/"+c.String(), nil, nil)
		if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(n) || resp.Header.Get("ETag") != etag {
			t.Fatalf("n=%d: HEAD %d, %d body bytes, length %d", n, resp.StatusCode, len(body), resp.ContentLength)
		}
		for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
			resp, body = e.do(t, "GET", "/o/"+c.String(), map[string]string{"If-None-Match": inm}, nil)
			if resp.StatusCode != 304 || len(body) != 0 || resp.Header.Get("ETag") != etag {
				t.Fatalf("If-None-Match %s: %d", inm, resp.StatusCode)
			}
		}
		resp, body = e.do(t, "GET", "/o/"+c.String(), map[string]string{"If-None-Match": `"b3:other"`}, nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, b) {
			t.Fatalf("non-matching If-None-Match: %d", resp.StatusCode)
		}
		resp, body = e.do(t, "GET", "/o/"+c.String(), map[string]string{"If-Match": `"b3:other"`}, nil)
		wantError(t, resp, body, http.StatusPreconditionFailed, codes.Conflict)
		resp, body = e.do(t, "GET", "/o/"+c.String(), map[string]string{"If-Match": etag}, nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, b) {
			t.Fatalf("matching If-Match: %d", resp.StatusCode)
		}
	}
}

func TestObjectRanges(t *testing.T) {
	e := newEnv(t, Config{MaxRanges: 8})
	const n = 200_000
	b := data(n, 1)
	c := e.put(t, b)
	path := "/o/" + c.String()
	get := func(rng string, hdr map[string]string) (*http.Response, []byte) {
		h := map[string]string{"Range": rng}
		for k, v := range hdr {
			h[k] = v
		}
		return e.do(t, "GET", path, h, nil)
	}

	single := []struct {
		rng        string
		start, end int // inclusive
	}{
		{"bytes=0-0", 0, 0}, {"bytes=10-99", 10, 99}, {"bytes=199990-", 199990, n - 1}, {"bytes=-5", n - 5, n - 1},
		{"bytes=100-999999999", 100, n - 1}, {"bytes=-999999", 0, n - 1}, {"BYTES = 5-6", 5, 6},
		{"bytes=0-9,5-20", 0, 20},                  // overlapping: merged
		{"bytes=0-9, 10-19 ,", 0, 19},              // adjacent, with an empty element
		{"bytes=999999-,100-199", 100, 199},        // the unsatisfiable one dropped
		{"bytes=65530-65545", 65530, 65545},        // across a chunk group boundary
		{"bytes=0-99999999999999999999", 0, n - 1}, // saturating last-pos
	}
	for _, s := range single {
		resp, body := get(s.rng, nil)
		want := fmt.Sprintf("bytes %d-%d/%d", s.start, s.end, n)
		if resp.StatusCode != 206 || resp.Header.Get("Content-Range") != want || !bytes.Equal(body, b[s.start:s.end+1]) ||
			resp.ContentLength != int64(s.end-s.start+1) {
			t.Fatalf("Range %q: %d %q, %d bytes; want 206 %q", s.rng, resp.StatusCode, resp.Header.Get("Content-Range"), len(body), want)
		}
	}

	// Several ranges: multipart/byteranges, parsed back, in ascending order
	// (RFC 9110 §14.6: a client reads each part's Content-Range).
	resp, body := get("bytes=150000-150099, 0-9, -3", nil)
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 206 || err != nil || mt != "multipart/byteranges" || params["boundary"] == "" {
		t.Fatalf("multi-range: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.ContentLength != int64(len(body)) {
		t.Fatalf("multi-range Content-Length %d, body %d", resp.ContentLength, len(body))
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for _, w := range [][2]int{{0, 9}, {150000, 150099}, {n - 3, n - 1}} {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(p)
		if cr := p.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes %d-%d/%d", w[0], w[1], n) ||
			p.Header.Get("Content-Type") != "application/octet-stream" || !bytes.Equal(got, b[w[0]:w[1]+1]) {
			t.Fatalf("part %v: %q, %d bytes", w, cr, len(got))
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Fatalf("after the last part: %v", err)
	}
	resp2, _ := get("bytes=150000-150099, 0-9, -3", nil)
	if resp2.Header.Get("Content-Type") == resp.Header.Get("Content-Type") {
		t.Fatal("the boundary is not random")
	}

	// Unsatisfiable, malformed, too many: 416 with bytes */N.
	for _, rng := range []string{"bytes=200000-", "bytes=-0", "bytes=5-1", "bytes=x-", "bytes=", "bytes", "bytes=1-2-3",
		"bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8"} {
		resp, body := get(rng, nil)
		wantError(t, resp, body, http.StatusRequestedRangeNotSatisfiable, codes.Range)
		if cr := resp.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes */%d", n) {
			t.Fatalf("Range %q: Content-Range %q", rng, cr)
		}
	}

	// Ignored: another unit, HEAD, a stale If-Range; honoured with a matching one.
	for _, tc := range []struct {
		method, rng, ifRange string
		status               int
	}{
		{"GET", "items=0-5", "", 200}, {"HEAD", "bytes=0-5", "", 200},
		{"GET", "bytes=0-5", `"b3:stale"`, 200}, {"GET", "bytes=0-5", "Wed, 21 Oct 2015 07:28:00 GMT", 200},
		{"GET", "bytes=0-5", `"` + c.String() + `"`, 206},
	} {
		h := map[string]string{"Range": tc.rng}
		if tc.ifRange != "" {
			h["If-Range"] = tc.ifRange
		}
		resp, body := e.do(t, tc.method, path, h, nil)
		if resp.StatusCode != tc.status {
			t.Fatalf("%s Range %q If-Range %q: %d, want %d", tc.method, tc.rng, tc.ifRange, resp.StatusCode, tc.status)
		}
		if tc.status == 200 && tc.method == "GET" && !bytes.Equal(body, b) {
			t.Fatal("ignored Range: not the whole content")
		}
	}
}

func TestObjectErrors(t *testing.T) {
	e := newEnv(t, Config{})
	resp, body := e.do(t, "GET", "/o/b3:nothex", nil, nil)
	wantError(t, resp, body, 400, codes.Invalid)
	resp, body = e.do(t, "GET", "/o/"+cid.Sum([]byte("absent")).String(), nil, nil)
	wantError(t, resp, body, 404, codes.NotFound)
	resp, body = e.do(t, "DELETE", "/o/"+cid.Sum([]byte("absent")).String(), nil, nil)
	wantError(t, resp, body, 405, codes.Invalid)
	if a := resp.Header.Get("Allow"); a != "GET, HEAD, OPTIONS" {
		t.Fatalf("Allow %q", a)
	}
}

// objectFile is where the store keeps a file object's bytes.
func (e *env) objectFile(c cid.CID) string {
	return filepath.Join(e.dir, "objects", c.Hex()[:2], c.Hex())
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	one := make([]byte, 1)
	if _, err := f.ReadAt(one, off); err != nil {
		t.Fatal(err)
	}
	one[0] ^= 0x40
	if _, err := f.WriteAt(one, off); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptBytesAbortTheTransfer(t *testing.T) {
	e := newEnv(t, Config{})
	const n = 4 << 20
	b := data(n, 3)
	c := e.put(t, b)
	flipByte(t, e.objectFile(c), 3<<20+12345)

	// Headers went out with the first (good) bytes: the body must break.
	resp, err := e.c.Get(e.srv.URL + "/o/" + c.String())
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || err == nil {
		t.Fatalf("status %d, read %d bytes, err %v: a corrupt body must not read as complete", resp.StatusCode, len(got), err)
	}
	if int64(len(got)) >= 3<<20+12345 || !bytes.Equal(got, b[:len(got)]) {
		t.Fatalf("received %d bytes, some past the bad chunk group or wrong", len(got))
	}
	poll.Until(t, "the aborted request recorded", func() bool {
		return e.metric(t, "ron_gateway_requests_total", map[string]string{"class": "aborted"}) == 1
	})

	// A range inside the good part still serves; one over the bad group fails
	// before its headers: a clean 500 whose message names no file path.
	resp, body := e.do(t, "GET", "/o/"+c.String(), map[string]string{"Range": "bytes=0-99"}, nil)
	if resp.StatusCode != 206 || !bytes.Equal(body, b[:100]) {
		t.Fatalf("good range: %d", resp.StatusCode)
	}
	resp, body = e.do(t, "GET", "/o/"+c.String(), map[string]string{"Range": "bytes=3145728-3200000"}, nil)
	er := wantError(t, resp, body, 500, codes.Internal)
	if resp.Header.Get("Content-Range") != "" || resp.Header.Get("ETag") != "" {
		t.Fatalf("a failed range kept its success headers: %v", resp.Header)
	}
	if strings.Contains(er.Message, e.dir) || strings.Contains(er.Message, "/objects/") {
		t.Fatalf("the message leaks a path: %q", er.Message)
	}

	// A missing file: the same clean error, no path.
	os.Remove(e.objectFile(c))
	resp, body = e.do(t, "GET", "/o/"+c.String(), nil, nil)
	er = wantError(t, resp, body, 500, codes.Internal)
	if strings.Contains(er.Message, e.dir) {
		t.Fatalf("the message leaks a path: %q", er.Message)
	}
}

const mapManifest = "[meta]\ntld = \"map\"\ntitle = \"t\"\n"

func TestAddress(t *testing.T) {
	e := newEnv(t, Config{})
	b := data(100_000, 4)
	p := e.publish(t, mapManifest, b)
	a, err := cid.ParseAddress(p.Address)
	if err != nil || p.TLD != "map" || p.Payload != cid.Sum(b) || p.Size != int64(len(b)) {
		t.Fatalf("published %+v (%v)", p, err)
	}
	base := "/r/" + a.Hash.Hex() + ".map"

	resp, body := e.do(t, "GET", base, nil, nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, b) || resp.Header.Get("Content-Type") != "text/plain" ||
		resp.Header.Get("ETag") != `"`+p.Payload.String()+`"` || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("GET %s: %d %v", base, resp.StatusCode, resp.Header)
	}
	resp, body = e.do(t, "GET", base, map[string]string{"Range": "bytes=5-9,2000-2009"}, nil)
	if resp.StatusCode != 206 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/byteranges") ||
		!bytes.Contains(body, []byte("Content-Range: bytes 5-9/100000\r\nContent-Type: text/plain\r\n\r\n"+string(b[5:10]))) ||
		!bytes.Contains(body, []byte("Content-Range: bytes 2000-2009/100000\r\nContent-Type: text/plain\r\n\r\n"+string(b[2000:2010]))) {
		t.Fatalf("ranges of an address: %d %q", resp.StatusCode, body)
	}
	resp, _ = e.do(t, "GET", base, map[string]string{"If-None-Match": `"` + p.Payload.String() + `"`}, nil)
	if resp.StatusCode != 304 {
		t.Fatalf("If-None-Match on an address: %d", resp.StatusCode)
	}

	// A path: the plugin's byte range with its content type.
	resp, body = e.do(t, "GET", base+"/first/10", nil, nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, b[:10]) || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" ||
		resp.Header.Get("ETag") == `"`+p.Payload.String()+`"` {
		t.Fatalf("GET path: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("ETag"))
	}
	etag := resp.Header.Get("ETag")
	resp, body = e.do(t, "GET", base+"/first/10", map[string]string{"Range": "bytes=-3"}, nil)
	if resp.StatusCode != 206 || !bytes.Equal(body, b[7:10]) || resp.Header.Get("Content-Range") != "bytes 7-9/10" {
		t.Fatalf("range of a path: %d %q", resp.StatusCode, resp.Header.Get("Content-Range"))
	}
	resp, _ = e.do(t, "GET", base+"/first/10", map[string]string{"If-None-Match": etag}, nil)
	if resp.StatusCode != 304 {
		t.Fatalf("If-None-Match on a path: %d", resp.StatusCode)
	}
	resp, body = e.do(t, "HEAD", base+"/first/10", nil, nil)
	if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != 10 {
		t.Fatalf("HEAD path: %d", resp.StatusCode)
	}

	for _, tc := range []struct {
		path   string
		status int
		code   codes.Code
	}{
		{base + "/nothing", 404, codes.NotFound},
		{base + "/status/404", 404, codes.NotFound},
		{base + "/status/500", 502, codes.PluginFault},
		{base + "/out", 502, codes.PluginFault},
		{"/r/" + a.Hash.Hex() + ".txt", 404, codes.NotFound},                // the hash names a .map manifest
		{"/r/" + cid.Sum([]byte("x")).Hex() + ".nope", 404, codes.NotFound}, // no such manifest, no such TLD
		{"/r/" + a.Hash.Hex(), 400, codes.Invalid},                          // no TLD
		{"/r/" + a.Hash.Hex() + ".MAP", 400, codes.Invalid},
		{"/r/b3:" + a.Hash.Hex() + ".map", 400, codes.Invalid},
	} {
		resp, body := e.do(t, "GET", tc.path, nil, nil)
		wantError(t, resp, body, tc.status, tc.code)
	}
}

// TestForgedEntryIsRefused: an index answer (which crosses the bus) that
// does not match the address is never served: whatever bytes it points
// at, /r/ answers 502 and serves none of them.
func TestForgedEntryIsRefused(t *testing.T) {
	e := newEnv(t, Config{})
	real := data(5_000, 21)
	p := e.publish(t, mapManifest, real)
	a, err := cid.ParseAddress(p.Address)
	if err != nil {
		t.Fatal(err)
	}
	path := "/r/" + a.Hash.Hex() + ".map"
	evil := []byte("the attacker's bytes, served under someone else's address")
	evilCID := e.put(t, evil)
	other := e.publish(t, mapManifest, evil)
	otherAddr, _ := cid.ParseAddress(other.Address)

	e.be.mu.Lock()
	genuine := e.be.entries[a.Hash]
	otherEntry := e.be.entries[otherAddr.Hash]
	e.be.mu.Unlock()
	tampers := map[string]func(x *Entry){
		"another payload":                      func(x *Entry) { x.Payload, x.Size = evilCID, int64(len(evil)) },
		"another manifest's entry":             func(x *Entry) { *x = otherEntry },
		"another manifest's entry, our hash":   func(x *Entry) { *x = otherEntry; x.Manifest = a.Hash },
		"a doc that is not the manifest":       func(x *Entry) { x.Doc = otherEntry.Doc; x.Payload = otherEntry.Payload },
		"no doc":                               func(x *Entry) { x.Doc = nil },
		"another price":                        func(x *Entry) { x.Price++ },
		"a media type that sniffs as HTML":     func(x *Entry) { x.MediaType = "text/html" },
		"the manifest re-encoded, not canonic": func(x *Entry) { x.Doc = append([]byte(" "), x.Doc...) },
	}
	set := func(x Entry) {
		e.be.mu.Lock()
		e.be.entries[a.Hash] = x
		e.be.mu.Unlock()
	}
	// First with nothing remembered of the address, then once the genuine
	// entry was checked (and its manifest's word remembered): a forged
	// entry is refused, or at most (when it serves exactly what the
	// manifest says) the genuine payload is served.
	for _, warm := range []bool{false, true} {
		for name, tamper := range tampers {
			forged := genuine
			tamper(&forged)
			set(forged)
			resp, body := e.do(t, "GET", path, nil, nil)
			if bytes.Contains(body, evil) {
				t.Fatalf("%s (warm %v): served the forged entry's bytes", name, warm)
			}
			if warm && servedOf(forged) == servedOf(genuine) && forged.Manifest == genuine.Manifest {
				if resp.StatusCode != 200 || !bytes.Equal(body, real) {
					t.Fatalf("%s (warm): %d", name, resp.StatusCode)
				}
				continue
			}
			wantError(t, resp, body, http.StatusBadGateway, codes.Internal)
		}
		set(genuine)
		if resp, body := e.do(t, "GET", path, nil, nil); resp.StatusCode != 200 || !bytes.Equal(body, real) {
			t.Fatalf("the genuine entry: %d", resp.StatusCode)
		}
	}
}

func TestMetering(t *testing.T) {
	e := newEnv(t, Config{})
	b := data(32<<20, 5)
	p := e.publish(t, "[meta]\ntld = \"map\"\nprice = 7\n", b)
	free := e.publish(t, mapManifest, data(1000, 6))
	a, _ := cid.ParseAddress(p.Address)
	fa, _ := cid.ParseAddress(free.Address)
	base := "/r/" + a.Hash.Hex() + ".map"
	next := func() Access { // metering follows the body: wait for it
		t.Helper()
		select {
		case m := <-e.be.metered:
			return m
		case <-time.After(poll.Deadline):
			t.Fatal("no access was metered")
		}
		return Access{}
	}

	e.do(t, "GET", base, nil, nil)
	if m := next(); m != (Access{Manifest: p.Manifest, TLD: "map", Price: 7, Bytes: int64(len(b))}) {
		t.Fatalf("full GET metered %+v", m)
	}
	e.do(t, "GET", base, map[string]string{"Range": "bytes=0-99,1000-1099"}, nil)
	if m := next(); m.Bytes != 200 {
		t.Fatalf("two ranges metered %d bytes", m.Bytes)
	}
	e.do(t, "GET", base+"/first/10", nil, nil)
	if m := next(); m.Bytes != 10 {
		t.Fatalf("a path metered %d bytes", m.Bytes)
	}
	e.do(t, "HEAD", base, nil, nil)
	e.do(t, "GET", base, map[string]string{"If-None-Match": `"` + p.Payload.String() + `"`}, nil)
	e.do(t, "GET", base, map[string]string{"Range": "bytes=999999999-"}, nil)
	e.do(t, "GET", "/r/"+fa.Hash.Hex()+".map", nil, nil)
	e.do(t, "GET", base+"/first/3", nil, nil) // a sentinel
	if m := next(); m.Bytes != 3 || e.be.meterCount() != 4 {
		t.Fatalf("HEAD, 304, 416 or a free GET were metered: next %+v, %d accesses", m, e.be.meterCount())
	}

	// A client that stops after 1 MiB: what was written is metered.
	resp, err := e.c.Get(e.srv.URL + base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // closes the connection: the body was not read to its end
	if m := next(); m.Bytes < 1<<20 || m.Bytes >= int64(len(b)) {
		t.Fatalf("a partial read metered %d bytes (read 1 MiB of %d)", m.Bytes, len(b))
	}
	if sent := e.metric(t, "ron_gateway_sent_bytes_total", nil); sent < float64(len(b)+200+10) {
		t.Fatalf("sent bytes %v", sent)
	}
}

// A client that stops reading is cut after WriteIdle: its request ends.
func TestStalledReaderIsCut(t *testing.T) {
	e := newEnv(t, Config{WriteIdle: 200 * time.Millisecond})
	e.stallOn(t, e.put(t, data(32<<20, 8)))
}

// stallOn GETs /o/c, reads the response's head and nothing more, and waits
// until the gateway cuts the request (counted aborted, none in flight).
func (e *env) stallOn(t *testing.T, c cid.CID) {
	t.Helper()
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /o/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", c)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	// Read nothing more: the server's writes block, then time out.
	poll.Until(t, "the stalled stream cut", func() bool {
		return e.metric(t, "ron_gateway_requests_total", map[string]string{"class": "aborted"}) == 1 &&
			e.metric(t, "ron_gateway_in_flight", nil) == 0
	})
}

func TestRangeParserSeeds(t *testing.T) {
	cases := []struct {
		h    string
		size int64
		want []byteRange
		err  error
	}{
		{"bytes=0-4", 10, []byteRange{{0, 5}}, nil},
		{"bytes=-4", 10, []byteRange{{6, 4}}, nil},
		{"bytes=8-", 10, []byteRange{{8, 2}}, nil},
		{"bytes=0-0,-1", 10, []byteRange{{0, 10}}, nil}, // within the coalescing gap
		{"bytes=0-0,-1", 100, []byteRange{{0, 1}, {99, 1}}, nil},
		{"bytes=500-599,0-99", 1000, []byteRange{{500, 100}, {0, 100}}, nil}, // far apart: order kept
		{"bytes=0-99,50-149,300-399", 1000, []byteRange{{0, 150}, {300, 100}}, nil},
		{"bytes=10-", 10, nil, errRangeUnsatisfiable},
		{"bytes=0-1", 0, nil, nil}, // empty content: ignored
		{"other=0-1", 10, nil, nil},
		{"bytes=1-0", 10, nil, errRangeSyntax},
		{"bytes=,", 10, nil, errRangeSyntax},
		{"bytes=+1-2", 10, nil, errRangeSyntax},
		{"0-1", 10, nil, errRangeSyntax},
		{"bytes=0-0,2-2,4-4,6-6", 10, nil, errRangeTooMany},
	}
	for _, c := range cases {
		got, err := parseRange(c.h, c.size, 3)
		if !errors.Is(err, c.err) || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("parseRange(%q, %d) = %v, %v; want %v, %v", c.h, c.size, got, err, c.want, c.err)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-4", "bytes=-4", "bytes=8-", "bytes=0-0,-1", "bytes=0-99,50-149,300-399",
		"bytes=1-0", "bytes= , 3-", "bytes=99999999999999999999-", "BYTES=0-", "bytes=-0", "x=1-2"} {
		f.Add(s, int64(1000))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -size
			if size < 0 {
				size = 0
			}
		}
		rs, err := parseRange(h, size, 16)
		if err != nil {
			if rs != nil {
				t.Fatal("ranges with an error")
			}
			return
		}
		var total int64
		for i, r := range rs {
			if r.start < 0 || r.length <= 0 || r.start >= size || r.length > size-r.start {
				t.Fatalf("range %+v outside %d bytes (header %q)", r, size, h)
			}
			for _, o := range rs[:i] {
				if r.start < o.end() && o.start < r.end() {
					t.Fatalf("overlapping ranges %v (header %q)", rs, h)
				}
			}
			total += r.length
		}
		if total > size || len(rs) > 16 {
			t.Fatalf("%d ranges of %d bytes for a %d-byte content", len(rs), total, size)
		}
	})
}
