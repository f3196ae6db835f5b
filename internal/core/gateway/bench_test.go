package gateway

import (
	"context"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// genReader yields n deterministic pseudo-random bytes quickly, the same
// stream whatever the sizes of the reads.
type genReader struct {
	r    *rand.Rand
	n    int64
	word [8]byte
	left int // unread bytes at the end of word
}

func newGen(n int64) *genReader { return &genReader{r: rand.New(rand.NewPCG(42, 43)), n: n} }

func (g *genReader) Read(p []byte) (int, error) {
	if g.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.n {
		p = p[:g.n]
	}
	i := copy(p, g.word[8-g.left:])
	g.left -= i
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], g.r.Uint64())
	}
	if i < len(p) {
		binary.LittleEndian.PutUint64(g.word[:], g.r.Uint64())
		k := copy(p[i:], g.word[:])
		g.left = 8 - k
	}
	g.n -= int64(len(p))
	return len(p), nil
}

// plainServer serves the file at path with Go's http.ServeContent: the
// speed limit of an HTTP file server on this machine (it uses sendfile).
func plainServer(tb testing.TB, path string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(path)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "", time.Time{}, f)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// A client reads a body: tuned reads 64 KiB at a time through a 64 KiB
// buffer (the fastest client for ServeContent on this machine, so its figure
// is the loopback limit); stock is Go's default transport and io.Copy.
type benchClient struct {
	name string
	c    *http.Client
	buf  []byte
}

func benchClients() []benchClient {
	return []benchClient{
		{"tuned", &http.Client{Transport: &http.Transport{DisableCompression: true, ReadBufferSize: 64 << 10}}, make([]byte, 64<<10)},
		{"stock", &http.Client{Transport: &http.Transport{DisableCompression: true}}, nil},
	}
}

// fetch GETs url and returns the time to read the whole body.
func fetch(b *testing.B, c benchClient, url string, want int64) time.Duration {
	t0 := time.Now()
	resp, err := c.c.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	if c.buf != nil {
		n, err = io.CopyBuffer(struct{ io.Writer }{io.Discard}, resp.Body, c.buf) // reads of len(buf)
	} else {
		n, err = io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	d := time.Since(t0)
	if err != nil || n != want || resp.StatusCode != 200 {
		b.Fatalf("GET %s: %d, %d of %d bytes, %v", url, resp.StatusCode, n, want, err)
	}
	return d
}

// BenchmarkGetLarge fetches a 1 GiB object (RON_BENCH_BYTES overrides) whole
// over loopback from the gateway, which verifies every byte against the CID,
// and the same bytes from a plain file through http.ServeContent (sendfile),
// in turns, with two clients (see benchClient). It reports the best of the
// iterations of each. Run with -benchtime=5x.
func BenchmarkGetLarge(b *testing.B) {
	if testing.Short() {
		b.Skip("moves gigabytes; not under -short")
	}
	n := int64(1 << 30)
	if v := os.Getenv("RON_BENCH_BYTES"); v != "" {
		var err error
		if n, err = strconv.ParseInt(v, 10, 64); err != nil || n <= 0 {
			b.Fatalf("RON_BENCH_BYTES=%q", v)
		}
	}
	e := newEnv(b, Config{})
	res, err := e.st.Put(context.Background(), newGen(n), store.PutOptions{Size: n, Pin: true})
	if err != nil {
		b.Fatal(err)
	}
	plain := filepath.Join(b.TempDir(), "plain")
	f, err := os.Create(plain)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyBuffer(f, newGen(n), make([]byte, 1<<20)); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	ps := plainServer(b, plain)
	gwURL, plainURL := e.srv.URL+"/o/"+res.CID.String(), ps.URL+"/"
	clients := benchClients()
	for _, c := range clients { // warm the page cache and the connections
		fetch(b, c, gwURL, n)
		fetch(b, c, plainURL, n)
	}

	const never = time.Duration(1 << 62)
	bestGW, bestPlain := []time.Duration{never, never}, []time.Duration{never, never}
	b.SetBytes(int64(len(clients)) * n) // the gateway's fetches are timed
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, c := range clients {
			d := fetch(b, c, gwURL, n)
			b.StopTimer()
			bestGW[j] = min(bestGW[j], d)
			bestPlain[j] = min(bestPlain[j], fetch(b, c, plainURL, n))
			b.StartTimer()
		}
	}
	mbps := func(d time.Duration) float64 { return float64(n) / d.Seconds() / 1e6 }
	for j, c := range clients {
		b.ReportMetric(mbps(bestGW[j]), c.name+"_gateway_MB/s")
		b.ReportMetric(mbps(bestPlain[j]), c.name+"_servecontent_MB/s")
		b.ReportMetric(mbps(bestGW[j])/mbps(bestPlain[j]), c.name+"_ratio")
	}
}

// BenchmarkGetSmall measures the latency of a 1 KiB object GET over a
// loopback keep-alive connection, and of the same bytes served from a file
// by http.ServeContent, in turns.
func BenchmarkGetSmall(b *testing.B) {
	e := newEnv(b, Config{})
	body := data(1024, 99)
	c := e.put(b, body)
	plain := filepath.Join(b.TempDir(), "plain")
	if err := os.WriteFile(plain, body, 0o644); err != nil {
		b.Fatal(err)
	}
	ps := plainServer(b, plain)
	cl := benchClients()[1]
	gwURL, plainURL := e.srv.URL+"/o/"+c.String(), ps.URL+"/"
	fetch(b, cl, gwURL, 1024)
	fetch(b, cl, plainURL, 1024)

	gw := make([]time.Duration, 0, b.N)
	pl := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		gw = append(gw, fetch(b, cl, gwURL, 1024))
		b.StopTimer()
		pl = append(pl, fetch(b, cl, plainURL, 1024))
		b.StartTimer()
	}
	b.StopTimer()
	q := func(d []time.Duration, p float64) float64 {
		slices.Sort(d)
		return float64(d[int(float64(len(d)-1)*p)].Nanoseconds()) / 1e3
	}
	b.ReportMetric(q(gw, .5), "p50_us")
	b.ReportMetric(q(gw, .99), "p99_us")
	b.ReportMetric(q(pl, .5), "servecontent_p50_us")
	b.ReportMetric(q(pl, .99), "servecontent_p99_us")
	b.ReportMetric(q(pl, .5)/q(gw, .5), "p50_ratio")
}

func TestGenReaderIsReadSizeIndependent(t *testing.T) {
	a, _ := io.ReadAll(io.LimitReader(newGen(1000), 1000))
	var b []byte
	g := newGen(1000)
	for sz := 1; ; sz = sz%13 + 1 {
		p := make([]byte, sz)
		n, err := g.Read(p)
		b = append(b, p[:n]...)
		if err == io.EOF {
			break
		}
	}
	if string(a) != string(b) || len(a) != 1000 {
		t.Fatalf("the stream depends on read sizes (%d, %d bytes)", len(a), len(b))
	}
}

// BenchmarkVerifyEntry measures the check of an index entry against its
// address on GET /r/, for a small manifest and one near manifest.MaxSize,
// against raw BLAKE3 of the same bytes in the same run: verify_ratio is the
// first check's time (hash and decode) over the hash's; remembered_ns is a
// later check of the same address (a comparison of fields).
func BenchmarkVerifyEntry(b *testing.B) {
	e := newEnv(b, Config{})
	for _, size := range []struct {
		name  string
		extra int
	}{{"small", 0}, {"200KiB", 200 << 10}} {
		b.Run(size.name, func(b *testing.B) {
			text := mapManifest
			if size.extra > 0 {
				text += "\n[big]\nblob = \"" + strings.Repeat("x", size.extra) + "\"\n"
			}
			p := e.publish(b, text, data(1000, 7))
			a, err := cid.ParseAddress(p.Address)
			if err != nil {
				b.Fatal(err)
			}
			e.be.mu.Lock()
			ent := e.be.entries[a.Hash]
			e.be.mu.Unlock()
			var verify, hash, warm time.Duration
			var v verifiedEntries
			if err := v.check(a.Hash, ent); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(ent.Doc)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if err := verifyEntry(a.Hash, ent); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if cid.Sum(ent.Doc) != a.Hash {
					b.Fatal("hash")
				}
				t2 := time.Now()
				if err := v.check(a.Hash, ent); err != nil {
					b.Fatal(err)
				}
				verify, hash, warm = verify+t1.Sub(t0), hash+t2.Sub(t1), warm+time.Since(t2)
			}
			b.ReportMetric(float64(len(ent.Doc)), "manifest_bytes")
			b.ReportMetric(float64(verify.Nanoseconds())/float64(b.N), "verify_ns")
			b.ReportMetric(float64(hash.Nanoseconds())/float64(b.N), "blake3_ns")
			b.ReportMetric(float64(verify)/float64(hash), "verify_ratio")
			b.ReportMetric(float64(warm.Nanoseconds())/float64(b.N), "remembered_ns")
		})
	}
}
