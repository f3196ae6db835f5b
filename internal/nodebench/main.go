package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "bin/ronhost", "the ronhost binary to run")
	dir := flag.String("dir", "", "where the data directories go (default: a new directory under $TMPDIR, removed at the end)")
	deadline := flag.Duration("deadline", 20*time.Minute, "give up after this long")
	serveDir := flag.String("fileserver", "", "internal: serve this directory with http.FileServer on a loopback port, print the address, run until killed")
	only := flag.String("only", "", "run only this part: \"p2p\" (node to node, with its limits; A starts once, warm)")
	blobPkg := flag.String("blobpkg", "./internal/core/blob", "the package whose in-process fetch benchmark (BenchmarkFetch1GiB/tcp-tls) node to node is compared with, built with `go test -c`; empty: skip that comparison")
	flag.Parse()
	if *serveDir != "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "nodebench:", err)
			os.Exit(1)
		}
		fmt.Println(ln.Addr().String())
		_ = http.Serve(ln, http.FileServer(http.Dir(*serveDir)))
		os.Exit(1)
	}
	size := envInt("RON_BENCH_NODE_BYTES", 1<<30)
	rounds := int(envInt("RON_BENCH_NODE_ROUNDS", 3))
	if size < 2<<20 || rounds < 1 {
		fmt.Fprintln(os.Stderr, "nodebench: RON_BENCH_NODE_BYTES must be at least 2 MiB and RON_BENCH_NODE_ROUNDS at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *deadline)
	defer cancel()

	b := &bench{bin: *bin, size: size, rounds: rounds, out: os.Stdout, blobPkg: *blobPkg, only: *only}
	if b.only != "" && b.only != "p2p" {
		fmt.Fprintf(os.Stderr, "nodebench: -only %q: the parts are: p2p\n", b.only)
		os.Exit(2)
	}
	if abs, err := filepath.Abs(b.bin); err == nil {
		b.bin = abs
	}
	root := *dir
	if root == "" {
		var err error
		if root, err = os.MkdirTemp("", "nodebench-"); err != nil {
			fmt.Fprintln(os.Stderr, "nodebench:", err)
			os.Exit(1)
		}
		defer os.RemoveAll(root)
	}
	b.root = root
	err := b.run(ctx)
	b.stopAll()
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodebench:", err)
		os.Exit(1)
	}
}

func envInt(name string, def int64) int64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nodebench: %s=%q: %v\n", name, v, err)
		os.Exit(2)
	}
	return n
}

// bench is one run: its processes, its files, what it printed.
type bench struct {
	bin     string
	root    string
	size    int64
	rounds  int
	out     io.Writer
	blobPkg string
	only    string // "": every part; "p2p": node to node only

	mu    sync.Mutex
	procs []*proc
}

// proc is one `ronhost serve` process.
type proc struct {
	name string
	data string
	api  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error

	mu   sync.Mutex
	logs bytes.Buffer
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.logs.String()
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return s
}

// lockedWriter is the process's stderr.
type lockedWriter struct{ p *proc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.logs.Write(b)
}

func (b *bench) run(ctx context.Context) error {
	fmt.Fprintf(b.out, "nodebench: %s, object %d MiB, %d rounds, %s\n", b.bin, b.size>>20, b.rounds, time.Now().UTC().Format(time.RFC3339))
	file := filepath.Join(b.root, "files", "blob.bin")
	if err := writeRandom(file, b.size, 1); err != nil {
		return err
	}
	small := filepath.Join(b.root, "files", "small.bin")
	if err := writeRandom(small, 4096, 2); err != nil {
		return err
	}
	plain, closePlain, err := fileServer(filepath.Dir(file))
	if err != nil {
		return err
	}
	defer closePlain()

	// Start-up. A's data directory holds the object (stored offline, as
	// `ronhost put` does) and its own compilation cache: the first start is
	// cold, the restarts warm.
	aData := filepath.Join(b.root, "a")
	aCache := filepath.Join(b.root, "a-cache")
	if err := writeConfig(aData, aCache, ""); err != nil {
		return err
	}
	var put struct{ CID string }
	if err := b.cli(ctx, aData, &put, "put", file); err != nil {
		return err
	}
	execFloor, err := b.execFloor(ctx)
	if err != nil {
		return err
	}
	a, cold, err := b.start(ctx, "a", aData)
	if err != nil {
		return err
	}
	if b.only == "p2p" {
		return b.nodeToNode(ctx, a, aData, file, put.CID, plain)
	}
	a.stop()
	var warm []time.Duration
	for i := range 5 {
		a, d, err := b.start(ctx, "a", aData)
		if err != nil {
			return err
		}
		warm = append(warm, d)
		if i < 4 {
			a.stop()
		}
	}
	a = b.procs[len(b.procs)-1]
	b.report("start-up to ready, cold (empty wazero cache)", secs(cold), "exec `ronhost version`", secs(execFloor), ratio(cold, execFloor), "goal <= 3 s: "+fmt.Sprintf("%.2fx of it", cold.Seconds()/3))
	w := median(warm)
	b.report("start-up to ready, warm (median of 5)", secs(w), "exec `ronhost version`", secs(execFloor), ratio(w, execFloor), "goal <= 0.25 s: "+fmt.Sprintf("%.2fx of it", w.Seconds()/0.25))

	// Idle memory: A, a few seconds after ready with nothing asked of it.
	if err := sleep(ctx, 3*time.Second); err != nil {
		return err
	}
	rss, err := rssMiB(a.cmd.Process.Pid)
	if err != nil {
		return err
	}
	b.report("idle RSS, 3 s after ready", fmt.Sprintf("%.0f MiB", rss), "kubo (issue 18)", "80 MiB", fmt.Sprintf("%.2f", rss/80), "goal <= 1")

	// Range and full GETs of the object on A, and of the same file from a
	// plain file server, interleaved.
	if err := b.gets(ctx, a.api+"/o/"+put.CID, plain+"/blob.bin"); err != nil {
		return fmt.Errorf("%w\nA's log:\n%s", err, a.log())
	}

	return b.nodeToNode(ctx, a, aData, file, put.CID, plain)
}

// nodeToNode measures a fresh B fetching the object (c, stored on A) through
// its gateway, then (unless -only p2p) the first fetches.
func (b *bench) nodeToNode(ctx context.Context, a *proc, aData, file, c, plain string) error {
	// Node to node: a fresh B joins through A and fetches the object
	// through its gateway, against a loopback TCP copy of the same file.
	aCache := filepath.Join(b.root, "a-cache")
	ri, err := readRunInfo(aData)
	if err != nil {
		return err
	}
	boot, _ := json.Marshal(ri.P2P)
	bootA := fmt.Sprintf("[overlay]\nbootstrap = %s\n", boot)
	var p2p, tcpDiscard, tcpFsync, inProc, p2pCPU, inProcCPU, inProcBusy, aCPU, bCPU, clientCPU, busy, allBusy []float64
	var bNode *proc
	blobTest, err := b.buildBlobTest(ctx)
	if err != nil {
		return err
	}
	for r := range b.rounds {
		bData := filepath.Join(b.root, fmt.Sprintf("b%d", r))
		if err := writeConfig(bData, aCache, bootA); err != nil {
			return err
		}
		bn, _, err := b.start(ctx, "b", bData)
		if err != nil {
			return err
		}
		if err := waitFor(ctx, 60*time.Second, func() bool { return copies(bn.api, c) > 0 }); err != nil {
			return fmt.Errorf("node B never saw a provider of %s: %w\nB's log:\n%s", c, err, bn.log())
		}
		// The CPU time of A, B and this process (the GET's client).
		cpus := func() (cpu [3]time.Duration, err error) {
			if cpu[0], err = procsCPU(a); err != nil {
				return cpu, err
			}
			if cpu[1], err = procsCPU(bn); err != nil {
				return cpu, err
			}
			cpu[2], err = pidCPU(os.Getpid())
			return cpu, err
		}
		before, err := cpus()
		if err != nil {
			return err
		}
		d, n, err := getAll(ctx, bn.api+"/o/"+c, "")
		if err != nil || n != b.size {
			return fmt.Errorf("node B's GET: %d bytes: %v\nB's log:\n%s", n, err, bn.log())
		}
		after, err := cpus()
		if err != nil {
			return err
		}
		ad, bd, cd := after[0]-before[0], after[1]-before[1], after[2]-before[2]
		p2p = append(p2p, mbps(b.size, d))
		perMB := func(d time.Duration) float64 { return d.Seconds() * 1e3 / (float64(b.size) / 1e6) }
		p2pCPU = append(p2pCPU, perMB(ad+bd))
		aCPU, bCPU, clientCPU = append(aCPU, perMB(ad)), append(bCPU, perMB(bd)), append(clientCPU, perMB(cd))
		busy = append(busy, (ad+bd).Seconds()/d.Seconds())
		allBusy = append(allBusy, (ad+bd+cd).Seconds()/d.Seconds())
		dd, err := tcpCopy(ctx, file, "")
		if err != nil {
			return err
		}
		tcpDiscard = append(tcpDiscard, mbps(b.size, dd))
		df, err := tcpCopy(ctx, file, filepath.Join(b.root, "tcp-copy"))
		if err != nil {
			return err
		}
		tcpFsync = append(tcpFsync, mbps(b.size, df))
		if blobTest != "" {
			v, cpu, err := b.blobFetch(ctx, blobTest)
			if err != nil {
				return err
			}
			inProc = append(inProc, v)
			inProcCPU = append(inProcCPU, cpu*1e3/(float64(b.size)/1e6))
			inProcBusy = append(inProcBusy, cpu/(float64(b.size)/1e6/v))
		}
		if r < b.rounds-1 {
			bn.stop()
			_ = os.RemoveAll(bData)
		} else {
			bNode = bn
		}
	}
	pm := medianF(p2p)
	b.report(fmt.Sprintf("node-to-node GET of %d MiB (median of %d)", b.size>>20, b.rounds), fmt.Sprintf("%.0f MB/s", pm),
		"loopback TCP copy", fmt.Sprintf("%.0f MB/s", medianF(tcpDiscard)), fmt.Sprintf("%.2f", pm/medianF(tcpDiscard)), "")
	b.report("", "", "TCP copy + write + fsync", fmt.Sprintf("%.0f MB/s", medianF(tcpFsync)), fmt.Sprintf("%.2f", pm/medianF(tcpFsync)), "goal >= 0.5")
	if len(inProc) > 0 {
		b.report("", "", "blob.Fetch in-process", fmt.Sprintf("%.0f MB/s", medianF(inProc)), fmt.Sprintf("%.2f", pm/medianF(inProc)), "goal >= 0.8")
		// CPU time per MB is steadier than time on a loaded machine: the
		// in-process fetch's (both ends) over A's and B's during the GET.
		cm, im := medianF(p2pCPU), medianF(inProcCPU)
		b.report("node-to-node CPU of A and B per MB (median)", fmt.Sprintf("%.2f ms", cm), "in-process Fetch CPU per MB", fmt.Sprintf("%.2f ms", im), fmt.Sprintf("%.2f", im/cm), "")
		// Where it went, and whether the GET was short of CPU: cores busy
		// in A and B together during it (of the machine's, with others'
		// load on them too).
		b.report(fmt.Sprintf("  of which A (provider) %.2f ms, B (fetch, gateway) %.2f ms", medianF(aCPU), medianF(bCPU)), fmt.Sprintf("%.2f cores", medianF(busy)), "cores", strconv.Itoa(runtime.NumCPU()), fmt.Sprintf("%.2f", medianF(busy)/float64(runtime.NumCPU())), "")
		// The GET's client reads every byte over loopback too, on the same
		// cores: with it, whether the whole GET was short of CPU, and the
		// in-process fetch's cores for comparison. When both fill the
		// machine, the throughput ratio can be no better than the ratio of
		// CPU per MB, client included (the CPU ceiling).
		cl := medianF(clientCPU)
		b.report(fmt.Sprintf("  and the client (HTTP reader) %.2f ms; A+B+client busy", cl), fmt.Sprintf("%.2f cores", medianF(allBusy)), "in-process fetch busy", fmt.Sprintf("%.2f cores", medianF(inProcBusy)), "", "")
		b.report("  CPU ceiling of the ratio to in-process", "", "in-process CPU / (A+B+client)", "", fmt.Sprintf("%.2f", im/(cm+cl)), "")
	}

	// First fetch of fresh 4 KiB objects: each is stored on A and asked of
	// B's gateway at once; every tenth try a third node C joins (through A
	// and B) and is killed just before, so B has a peer that just left.
	if b.only == "p2p" {
		return nil
	}
	return b.firstFetch(ctx, a, bNode, aCache, bootA, plain+"/small.bin")
}

// firstFetch measures fresh 4 KiB objects fetched by bn from a.
func (b *bench) firstFetch(ctx context.Context, a, bn *proc, cache, bootA, plainSmall string) error {
	tries := int(envInt("RON_BENCH_NODE_TRIES", 50))
	token, err := os.ReadFile(filepath.Join(a.data, "operator.token"))
	if err != nil {
		return err
	}
	bri, err := readRunInfo(bn.data)
	if err != nil {
		return err
	}
	var lat, base []time.Duration
	failed := 0
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 4))
	for i := range tries {
		if i%10 == 5 {
			boot, _ := json.Marshal(append(slices.Clone(bri.P2P), mustRunInfo(a.data).P2P...))
			cData := filepath.Join(b.root, fmt.Sprintf("c%d", i))
			if err := writeConfig(cData, cache, fmt.Sprintf("[overlay]\nbootstrap = %s\n", boot)); err != nil {
				return err
			}
			c, _, err := b.start(ctx, "c", cData)
			if err != nil {
				return err
			}
			_ = c.cmd.Process.Kill()
			<-c.done
		}
		obj := make([]byte, 4096)
		for j := range obj {
			obj[j] = byte(rng.Uint32())
		}
		req, _ := http.NewRequestWithContext(ctx, "POST", a.api+"/v1/objects", bytes.NewReader(obj))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var res struct{ CID string }
		err = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("storing a 4 KiB object on A: %s: %v", resp.Status, err)
		}
		d, n, err := getAll(ctx, bn.api+"/o/"+res.CID, "")
		if err != nil || n != 4096 {
			failed++
			d = 10 * time.Second // counted as a miss in the tail
		}
		lat = append(lat, d)
		bd, _, err := getAll(ctx, plainSmall, "")
		if err != nil {
			return err
		}
		base = append(base, bd)
	}
	p50, p99 := pct(lat, 50), pct(lat, 99)
	b50, b99 := pct(base, 50), pct(base, 99)
	b.report(fmt.Sprintf("first fetch of a fresh 4 KiB object, p50 (%d tries, %d failed)", tries, failed), ms(p50), "file server 4 KiB GET p50", ms(b50), ratio(p50, b50), "")
	b.report("first fetch of a fresh 4 KiB object, p99", ms(p99), "file server 4 KiB GET p99", ms(b99), ratio(p99, b99), "goal p99 <= 20 ms: "+fmt.Sprintf("%.2fx of it", p99.Seconds()/0.020))
	return nil
}

// gets measures range and full GETs of node against plain.
func (b *bench) gets(ctx context.Context, node, plain string) error {
	// 1,000 of each: a p99 is then the tenth slowest, not the second, so
	// one stall of a shared machine does not make the figure.
	const rangeN = 1000
	rng := rand.New(rand.NewPCG(3, 3))
	var nodeLat, plainLat []time.Duration
	for i := range rangeN {
		off := rng.Int64N(b.size - 1<<20)
		rg := fmt.Sprintf("bytes=%d-%d", off, off+1<<20-1)
		urls := []string{node, plain}
		if i%2 == 1 {
			urls = []string{plain, node}
		}
		for _, u := range urls {
			d, n, err := getAll(ctx, u, rg)
			if err != nil || n != 1<<20 {
				return fmt.Errorf("range GET %s %s: %d bytes: %v", u, rg, n, err)
			}
			if u == node {
				nodeLat = append(nodeLat, d)
			} else {
				plainLat = append(plainLat, d)
			}
		}
	}
	for _, p := range []int{50, 99} {
		nv, pv := pct(nodeLat, p), pct(plainLat, p)
		goal := ""
		if p == 99 {
			goal = "goal <= 2"
		}
		b.report(fmt.Sprintf("1 MiB range GET p%d (%d each)", p, rangeN), ms(nv), fmt.Sprintf("http.FileServer p%d", p), ms(pv), ratio(nv, pv), goal)
	}
	var nodeT, plainT []float64
	for r := range b.rounds {
		urls := []string{node, plain}
		if r%2 == 1 {
			urls = []string{plain, node}
		}
		for _, u := range urls {
			d, n, err := getAll(ctx, u, "")
			if err != nil || n != b.size {
				return fmt.Errorf("GET %s: %d bytes: %v", u, n, err)
			}
			if u == node {
				nodeT = append(nodeT, mbps(b.size, d))
			} else {
				plainT = append(plainT, mbps(b.size, d))
			}
		}
	}
	nm, pm := medianF(nodeT), medianF(plainT)
	b.report(fmt.Sprintf("full GET of %d MiB (median of %d)", b.size>>20, b.rounds), fmt.Sprintf("%.0f MB/s", nm), "http.FileServer", fmt.Sprintf("%.0f MB/s", pm), fmt.Sprintf("%.2f", nm/pm), "goal >= 0.85")
	return nil
}

// buildBlobTest compiles the blob package's tests (its in-process fetch
// benchmark) into the bench's directory, or returns "" when -blobpkg is
// empty.
func (b *bench) buildBlobTest(ctx context.Context) (string, error) {
	if b.blobPkg == "" {
		return "", nil
	}
	out := filepath.Join(b.root, "blob.test")
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", out, b.blobPkg)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("nodebench: go test -c %s (or run with -blobpkg ''): %w\n%s", b.blobPkg, err, msg)
	}
	return out, nil
}

// blobFetch runs the blob package's in-process fetch benchmark once
// (two libp2p hosts over TCP and TLS in one process, store to ingest, the
// same size as the node's object) and returns its fetch_MB/s and
// fetch_cpu_s.
func (b *bench) blobFetch(ctx context.Context, test string) (mbps, cpu float64, err error) {
	cmd := exec.CommandContext(ctx, test, "-test.run", "^$", "-test.bench", "Fetch1GiB/tcp-tls", "-test.benchtime", "1x")
	cmd.Env = append(os.Environ(), fmt.Sprintf("RON_BLOB_BENCH_MIB=%d", b.size>>20))
	cmd.Dir = b.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("nodebench: the blob benchmark: %w\n%s", err, out)
	}
	fields := strings.Fields(string(out))
	metric := func(name string) (float64, error) {
		for i, f := range fields {
			if f == name && i > 0 {
				return strconv.ParseFloat(fields[i-1], 64)
			}
		}
		return 0, fmt.Errorf("nodebench: the blob benchmark reported no %s:\n%s", name, out)
	}
	if mbps, err = metric("fetch_MB/s"); err != nil {
		return 0, 0, err
	}
	cpu, err = metric("fetch_cpu_s")
	return mbps, cpu, err
}

// report prints one figure.
func (b *bench) report(what, value, limit, limitValue, ratio, goal string) {
	fmt.Fprintf(b.out, "%-62s %12s | %-26s %12s | ratio %6s  %s\n", what, value, limit, limitValue, ratio, goal)
}

// start runs `ronhost serve` on data at a free port and returns once
// /readyz answers 200, with the time from exec to that answer.
func (b *bench) start(ctx context.Context, name, data string) (*proc, time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	p := &proc{name: name, data: data, api: "http://" + port, done: make(chan struct{})}
	p.cmd = exec.Command(b.bin, "--data", data, "serve", "--listen", port)
	p.cmd.Stdout = io.Discard
	p.cmd.Stderr = lockedWriter{p}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	t0 := time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, 0, err
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	b.mu.Lock()
	b.procs = append(b.procs, p)
	b.mu.Unlock()
	for {
		resp, err := client.Get(p.api + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, time.Since(t0), nil
			}
		}
		select {
		case <-p.done:
			return nil, 0, fmt.Errorf("%s exited before ready: %v\n%s", name, p.err, p.log())
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("%s not ready: %w\n%s", name, ctx.Err(), p.log())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// stop ends p with SIGTERM (SIGKILL after 10 s) and waits.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (b *bench) stopAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.procs {
		select {
		case <-p.done:
		default:
			p.stop()
		}
	}
}

// execFloor is the median time to exec the binary for `ronhost version`.
func (b *bench) execFloor(ctx context.Context) (time.Duration, error) {
	var ds []time.Duration
	for range 5 {
		t0 := time.Now()
		if err := exec.CommandContext(ctx, b.bin, "version").Run(); err != nil {
			return 0, fmt.Errorf("ronhost version: %w", err)
		}
		ds = append(ds, time.Since(t0))
	}
	return median(ds), nil
}

// cli runs the binary on data with --json and decodes its output into v.
func (b *bench) cli(ctx context.Context, data string, v any, args ...string) error {
	cmd := exec.CommandContext(ctx, b.bin, append([]string{"--data", data, "--json"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("ronhost %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return json.Unmarshal(out, v)
}

// writeConfig writes data's config.toml: no tor, the given compilation
// cache, and extra TOML.
func writeConfig(data, cache, extra string) error {
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	body := fmt.Sprintf("[tor]\nmode = \"off\"\n[plugins]\ncache_dir = %q\n%s", cache, extra)
	return os.WriteFile(filepath.Join(data, "config.toml"), []byte(body), 0o644)
}

type runInfo struct {
	API string   `json:"api"`
	P2P []string `json:"p2p"`
}

func readRunInfo(data string) (runInfo, error) {
	var ri runInfo
	b, err := os.ReadFile(filepath.Join(data, "node.json"))
	if err != nil {
		return ri, err
	}
	if err := json.Unmarshal(b, &ri); err != nil {
		return ri, err
	}
	if len(ri.P2P) == 0 {
		return ri, errors.New("nodebench: node.json lists no overlay address")
	}
	return ri, nil
}

func mustRunInfo(data string) runInfo {
	ri, _ := readRunInfo(data)
	return ri
}

// copies is how many copies of c the node at api knows of (0 on error).
func copies(api, c string) int {
	resp, err := http.Get(api + "/v1/stat/" + c)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var st struct{ Copies []json.RawMessage }
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return 0
	}
	return len(st.Copies)
}

// getClient keeps connections alive, as a browser or a proxy does.
var getClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}

// getAll GETs url (with a Range header when rg is set) and reads the body
// to the end, returning the time from request to last byte.
func getAll(ctx context.Context, url, rg string) (time.Duration, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, 0, err
	}
	if rg != "" {
		req.Header.Set("Range", rg)
	}
	t0 := time.Now()
	resp, err := getClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	d := time.Since(t0)
	if err == nil && resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		err = fmt.Errorf("status %s", resp.Status)
	}
	return d, n, err
}

// tcpCopy sends file over a loopback TCP connection (sendfile) to a reader
// that discards it (to == "") or writes it to the file to and fsyncs.
func tcpCopy(ctx context.Context, file, to string) (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	sent := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		f, err := os.Open(file)
		if err != nil {
			sent <- err
			return
		}
		defer f.Close()
		_, err = io.Copy(c, f)
		sent <- err
	}()
	var d net.Dialer
	t0 := time.Now()
	c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var dst io.Writer = io.Discard
	var out *os.File
	if to != "" {
		if out, err = os.Create(to); err != nil {
			return 0, err
		}
		defer os.Remove(to)
		defer out.Close()
		dst = out
	}
	if _, err := io.Copy(dst, c); err != nil {
		return 0, err
	}
	if out != nil {
		if err := out.Sync(); err != nil {
			return 0, err
		}
	}
	d0 := time.Since(t0)
	return d0, <-sent
}

// fileServer serves dir with http.FileServer on a loopback port, in a
// process of its own (this program, re-run with -fileserver) as the node's
// server is: the bench's client does not share its process with it.
func fileServer(dir string) (string, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(self, "-fileserver", dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("nodebench: the file server said nothing: %w", err)
	}
	return "http://" + strings.TrimSpace(line), stop, nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// writeRandom writes size pseudo-random bytes to path.
func writeRandom(path string, size int64, seed uint64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	r := rand.NewChaCha8([32]byte{byte(seed)})
	if _, err := io.CopyN(f, r, size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// procsCPU is the user+system CPU time the processes have used so far.
func procsCPU(ps ...*proc) (time.Duration, error) {
	var total time.Duration
	for _, p := range ps {
		d, err := pidCPU(p.cmd.Process.Pid)
		if err != nil {
			return 0, fmt.Errorf("nodebench: the CPU time of %s: %w", p.name, err)
		}
		total += d
	}
	return total, nil
}

// pidCPU is the CPU time process pid has used (all its threads).
func pidCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command's closing parenthesis: utime and stime
	// are the 12th and 13th, in clock ticks (100 a second).
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("nodebench: /proc/%d/stat: unexpected %q", pid, b)
	}
	var total time.Duration
	for _, v := range f[11:13] {
		ticks, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("nodebench: /proc/%d/stat: %w", pid, err)
		}
		total += time.Duration(ticks) * 10 * time.Millisecond
	}
	return total, nil
}

// rssMiB reads VmRSS of pid.
func rssMiB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024, err
		}
	}
	return 0, errors.New("nodebench: no VmRSS")
}

func waitFor(ctx context.Context, d time.Duration, ok func() bool) error {
	end := time.Now().Add(d)
	for !ok() {
		if time.Now().After(end) {
			return errors.New("timed out")
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func median(ds []time.Duration) time.Duration { return pct(ds, 50) }

// pct is the p-th percentile (nearest rank) of ds.
func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}

func medianF(fs []float64) float64 {
	s := slices.Clone(fs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / d.Seconds() / 1e6 }
func secs(d time.Duration) string           { return fmt.Sprintf("%.3f s", d.Seconds()) }
func ms(d time.Duration) string             { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
func ratio(a, b time.Duration) string       { return fmt.Sprintf("%.2f", a.Seconds()/b.Seconds()) }
