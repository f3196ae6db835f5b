package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The children of these tests are this test binary itself, run as
// TestSuperviseHelperProcess with RON_SUPERVISE_HELPER set:
//
//	serve: listen on RON_HELPER_ADDR (GET /readyz: 200, GET /pid: its pid),
//	       after checking RON_HELPER_NEED (a URL) answers 200, else exit 3;
//	       append its pid to RON_HELPER_PIDS; on SIGTERM print "stopping", exit 0
//	crash: print "crashing" on stderr and exit 1
func TestSuperviseHelperProcess(t *testing.T) {
	mode := os.Getenv("RON_SUPERVISE_HELPER")
	if mode == "" {
		return
	}
	if f := os.Getenv("RON_HELPER_PIDS"); f != "" {
		pf, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintln(pf, os.Getpid())
			pf.Close()
		}
	}
	switch mode {
	case "crash":
		fmt.Fprintln(os.Stderr, "crashing")
		os.Exit(1)
	case "serve":
		if need := os.Getenv("RON_HELPER_NEED"); need != "" {
			resp, err := http.Get(need)
			if err != nil || resp.StatusCode != http.StatusOK {
				fmt.Fprintln(os.Stderr, "dependency not ready:", need, err)
				os.Exit(3)
			}
			resp.Body.Close()
		}
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		ln, err := net.Listen("tcp", os.Getenv("RON_HELPER_ADDR"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {})
		mux.HandleFunc("/pid", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, os.Getpid()) })
		go http.Serve(ln, mux)
		fmt.Printf("serving pid=%d\n", os.Getpid())
		<-term
		fmt.Println("stopping")
		os.Exit(0)
	}
	fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
	os.Exit(5)
}

// supRun is a `ronhost supervise` process started by a test.
type supRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    supBuffer
	errs   supBuffer
	exited chan error
}

// supStart runs `ronhost [global...] supervise CONFIG` with config as CONFIG.
func supStart(t *testing.T, config string, global ...string) *supRun {
	t.Helper()
	path := filepath.Join(t.TempDir(), "supervise.toml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &supRun{t: t, exited: make(chan error, 1)}
	r.cmd = exec.Command(ronhostBinary(t), append(global, "supervise", path)...)
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.errs
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.exited <- r.cmd.Wait() }()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill() // its children get SIGKILL too (Pdeathsig)
		<-r.exited
		r.exited <- nil
	})
	return r
}

// wait waits for the supervisor to exit and returns its exit code.
func (r *supRun) wait() int {
	r.t.Helper()
	select {
	case err := <-r.exited:
		r.exited <- err
		if err == nil {
			return 0
		}
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		r.t.Fatal(err)
	case <-time.After(60 * time.Second):
		r.t.Fatalf("supervise did not exit\nstdout:\n%s\nstderr:\n%s", r.out.String(), r.errs.String())
	}
	return -1
}

// waitFor polls ok until it holds, failing after a minute.
func (r *supRun) waitFor(what string, ok func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s\nstdout:\n%s\nstderr:\n%s", what, r.out.String(), r.errs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// supBuffer is a strings.Builder safe for concurrent use.
type supBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *supBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *supBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// supHelper is a [[process]] table running this test binary as a helper.
func supHelper(t *testing.T, name, mode string, env map[string]string, extra string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	env["RON_SUPERVISE_HELPER"] = mode
	env["RON_TEST_WAZERO_CACHE"] = testCache // no temporary directory per child
	var kv []string
	for k, v := range env {
		kv = append(kv, fmt.Sprintf("%s = %q", k, v))
	}
	return fmt.Sprintf("[[process]]\nname = %q\ncommand = %q\nargs = [\"-test.run=^TestSuperviseHelperProcess$\"]\nenv = { %s }\n%s\n",
		name, self, strings.Join(kv, ", "), extra)
}

// supAddr returns a free 127.0.0.1 address.
func supAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// supPID asks a serve helper for its pid (0 when it does not answer).
func supPID(addr string) int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/pid")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	pid, _ := strconv.Atoi(string(b))
	return pid
}

// supAlive reports whether pid runs (a zombie does not).
func supAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// supPIDs reads the pids the helpers appended to file.
func supPIDs(t *testing.T, file string) []int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		pids = append(pids, pid)
	}
	return pids
}

const supSettings = `[supervise]
ready_timeout = "30s"
stop_timeout = "20s"
backoff_min = "20ms"
backoff_max = "200ms"
restart_cap = 2
restart_window = "10m"
`

// A bus and a gateway after it, plus an optional process that keeps
// crashing: the gateway starts only once the bus is ready; kill -9 of the
// bus restarts it and it is ready again; the crasher is given up on after
// 2 restarts while the rest runs on; SIGTERM stops the gateway, then the
// bus, exits 0 and leaves no child running.
func TestSupervise(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	pids := filepath.Join(t.TempDir(), "pids")
	bus, gw := supAddr(t), supAddr(t)
	cfg := supSettings +
		supHelper(t, "bus", "serve", map[string]string{"RON_HELPER_ADDR": bus, "RON_HELPER_PIDS": pids}, fmt.Sprintf("ready = \"http://%s/readyz\"", bus)) +
		supHelper(t, "gateway", "serve", map[string]string{"RON_HELPER_ADDR": gw, "RON_HELPER_PIDS": pids, "RON_HELPER_NEED": "http://" + bus + "/readyz"},
			fmt.Sprintf("ready = \"http://%s/readyz\"\nafter = [\"bus\"]", gw)) +
		supHelper(t, "flaky", "crash", map[string]string{"RON_HELPER_PIDS": pids}, "optional = true")
	r := supStart(t, cfg)

	r.waitFor("the gateway", func() bool { return supPID(gw) != 0 })
	gwPID, busPID := supPID(gw), supPID(bus)
	r.waitFor("giving up on flaky", func() bool { return strings.Contains(r.errs.String(), "gave up on process") })
	errs := r.errs.String()
	if n := strings.Count(errs, "flaky   | crashing\n"); n != 3 {
		t.Fatalf("flaky ran %d times, want 3 (2 restarts)\n%s", n, errs)
	}
	if !regexp.MustCompile(`level=ERROR msg="gave up on process" component=supervise process=flaky why="exit status 1 \(restart_cap 2 reached within 10m0s\)" optional=true`).MatchString(errs) {
		t.Fatalf("no log of giving up on flaky:\n%s", errs)
	}
	if strings.Contains(errs, "dependency not ready") {
		t.Fatalf("the gateway started before the bus was ready:\n%s", errs)
	}

	if err := syscall.Kill(busPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r.waitFor("the bus restarted", func() bool { p := supPID(bus); return p != 0 && p != busPID })
	if !strings.Contains(r.errs.String(), `msg="process exited; restarting" component=supervise process=bus exit="signal: killed"`) {
		t.Fatalf("no log of the restart:\n%s", r.errs.String())
	}
	if p := supPID(gw); p != gwPID {
		t.Fatalf("the gateway's pid went from %d to %d", gwPID, p)
	}
	if supAlive(busPID) {
		t.Fatalf("killed bus %d still runs", busPID)
	}

	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(); code != 0 {
		t.Fatalf("supervise exited %d after SIGTERM\n%s", code, r.errs.String())
	}
	out := r.out.String()
	g, b := strings.Index(out, "gateway | stopping\n"), strings.LastIndex(out, "bus     | stopping\n")
	if g < 0 || b < 0 || g > b {
		t.Fatalf("want the gateway stopped, then the bus:\n%s", out)
	}
	started := supPIDs(t, pids)
	if len(started) != 3+3 { // bus twice, gateway once, flaky 3 times
		t.Fatalf("%d processes started, want 6: %v", len(started), started)
	}
	for _, pid := range started {
		if supAlive(pid) {
			t.Errorf("pid %d still runs after supervise exited", pid)
		}
	}
}

// Giving up on a required process stops the others and exits 1.
func TestSuperviseGivesUpOnRequired(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	pids := filepath.Join(t.TempDir(), "pids")
	keep := supAddr(t)
	cfg := strings.Replace(supSettings, "restart_cap = 2", "restart_cap = 1", 1) +
		supHelper(t, "keep", "serve", map[string]string{"RON_HELPER_ADDR": keep, "RON_HELPER_PIDS": pids}, fmt.Sprintf("ready = \"http://%s/readyz\"", keep)) +
		supHelper(t, "crash", "crash", map[string]string{"RON_HELPER_PIDS": pids}, "after = [\"keep\"]")
	r := supStart(t, cfg, "--json")
	if code := r.wait(); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, r.errs.String())
	}
	errs := r.errs.String()
	// With --json the error is one JSON object on stderr.
	if !strings.Contains(errs, `{"code":"error","message":"supervise: gave up: required process crash: exit status 1 (restart_cap 1 reached within 10m0s)","retryable":false}`) {
		t.Fatalf("stderr:\n%s", errs)
	}
	if !strings.Contains(errs, "keep  | stopping\n") { // with --json, children's stdout goes to stderr
		t.Fatalf("keep was not stopped with SIGTERM:\n%s", errs)
	}
	var status struct {
		Processes []struct {
			Name, State   string
			LastExit      string `json:"last_exit"`
			Restarts, PID int
		}
	}
	if err := json.Unmarshal([]byte(r.out.String()), &status); err != nil || len(status.Processes) != 2 {
		t.Fatalf("stdout %q: %v", r.out.String(), err)
	}
	if p := status.Processes[1]; p.Name != "crash" || p.State != "failed" || p.Restarts != 1 || p.PID != 0 {
		t.Fatalf("crash: %+v", p)
	}
	if p := status.Processes[0]; p.Name != "keep" || p.State != "stopped" {
		t.Fatalf("keep: %+v", p)
	}
	for _, pid := range supPIDs(t, pids) {
		if supAlive(pid) {
			t.Errorf("pid %d still runs", pid)
		}
	}
}

// kill -9 of the supervisor takes its children along (Pdeathsig).
func TestSuperviseDeathKillsChildren(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Pdeathsig is Linux's")
	}
	a := supAddr(t)
	r := supStart(t, supSettings+supHelper(t, "a", "serve", map[string]string{"RON_HELPER_ADDR": a}, ""))
	r.waitFor("a", func() bool { return supPID(a) != 0 })
	pid := supPID(a)
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	r.wait()
	r.waitFor("the child of the killed supervisor gone", func() bool { return !supAlive(pid) })
}

func TestSuperviseCheck(t *testing.T) {
	c := newCLI(t)
	example := "../../internal/supervise/testdata/macronode.toml"
	out := c.ok("supervise", "--check", example)
	if !strings.Contains(out, "4 processes, started in this order:\n  store\n  roles\n  gateway\n  log-shipper\n") {
		t.Fatalf("%q", out)
	}
	var v struct{ Order []string }
	c.json(&v, "supervise", "--check", example)
	if strings.Join(v.Order, ",") != "store,roles,gateway,log-shipper" {
		t.Fatalf("%+v", v)
	}

	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("[[process]]\nname = \"a\"\nargs = [\"serve\"]\nafter = [\"b\"]\n[[process]]\nname = \"b\"\nargs = [\"serve\"]\nafter = [\"a\"]\n"), 0o644)
	_, errs, code := c.run("", "supervise", "--check", bad)
	if code != 1 || !strings.Contains(errs, "bad.toml: supervise: bad config: dependency cycle: a after b after a") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, errs, code := c.run("", "supervise", bad, "--check"); code != 1 || !strings.Contains(errs, "dependency cycle") {
		t.Fatalf("flag after CONFIG: exit %d: %s", code, errs)
	}
	if _, _, code := c.run("", "supervise"); code != 2 {
		t.Fatalf("no CONFIG: exit %d", code)
	}
	if _, errs, code := c.run("", "supervise", filepath.Join(t.TempDir(), "none.toml")); code != 1 || !strings.Contains(errs, "none.toml") {
		t.Fatalf("missing file: exit %d: %s", code, errs)
	}
}

// A real `ronhost serve` under supervision: ready through its /readyz,
// restarted and ready again after kill -9, stopped cleanly (exit status 0).
func TestSuperviseServe(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	data := t.TempDir()
	useTestCache(t, data, "")
	addr := supAddr(t)
	cfg := supSettings + fmt.Sprintf("[[process]]\nname = \"node\"\nargs = [\"--data\", %q, \"serve\", \"--listen\", %q]\nready = \"http://%s/readyz\"\n",
		data, addr, addr)
	r := supStart(t, cfg, "--json")
	readyz := func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	pidRE := regexp.MustCompile(`msg="process started" component=supervise process=node pid=(\d+)`)
	pids := func() []int {
		var out []int
		for _, m := range pidRE.FindAllStringSubmatch(r.errs.String(), -1) {
			pid, _ := strconv.Atoi(m[1])
			out = append(out, pid)
		}
		return out
	}
	r.waitFor("node ready", func() bool { return strings.Contains(r.errs.String(), "process ready") && readyz() })
	first := pids()[0]
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r.waitFor("node restarted and ready", func() bool {
		return len(pids()) == 2 && strings.Count(r.errs.String(), "msg=\"process ready\"") == 2 && readyz()
	})
	second := pids()[1]
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(); code != 0 {
		t.Fatalf("exit %d\n%s", code, r.errs.String())
	}
	if !strings.Contains(r.errs.String(), "node | ") || supAlive(first) || supAlive(second) || readyz() {
		t.Fatalf("after the stop: first %d alive %v, second %d alive %v\n%s", first, supAlive(first), second, supAlive(second), r.errs.String())
	}
	var status struct {
		Processes []map[string]any
	}
	if err := json.Unmarshal([]byte(r.out.String()), &status); err != nil || len(status.Processes) != 1 {
		t.Fatalf("stdout %q: %v", r.out.String(), err)
	}
	if p := status.Processes[0]; p["state"] != "stopped" || p["restarts"] != 1.0 || p["last_exit"] != "exit status 0" {
		t.Fatalf("status after the stop: %v", p)
	}
}
