//go:build linux

package supervise

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/poll"
)

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// Real children: output prefixed, environment passed, the HTTP probe, a
// kill -9 restarts the child and takes its group along, and the stop leaves
// nothing running.
func TestExecChildren(t *testing.T) {
	var probes atomic.Int32
	readyz := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if probes.Add(1) < 3 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
		}
	}))
	defer readyz.Close()
	cfg := Config{
		Supervise: Settings{ReadyTimeout: Duration(30 * time.Second), StopTimeout: Duration(10 * time.Second),
			BackoffMin: Duration(10 * time.Millisecond), BackoffMax: Duration(20 * time.Millisecond), RestartCap: -1},
		Process: []Process{
			{Name: "lead", Command: "/bin/sh", Env: map[string]string{"RON_X": "y"},
				Args: []string{"-c", `echo "env=$RON_X"; sleep 1000 & echo "child=$!"; exec sleep 1000`}},
			{Name: "late", Command: "/bin/sh", Args: []string{"-c", "echo up >&2; exec sleep 1000"},
				Ready: readyz.URL + "/readyz", After: []string{"lead"}},
		},
	}
	var out, errs syncBuffer
	s := New(cfg, Options{Stdout: &out, Stderr: &errs})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	childRE := regexp.MustCompile(`(?m)^lead \| child=(\d+)$`)
	children := func() []int {
		var pids []int
		for _, m := range childRE.FindAllStringSubmatch(out.String(), -1) {
			pid, _ := strconv.Atoi(m[1])
			pids = append(pids, pid)
		}
		return pids
	}
	status := func(name string) ProcStatus {
		for _, st := range s.Status() {
			if st.Name == name {
				return st
			}
		}
		return ProcStatus{}
	}
	poll.Until(t, "late ready", func() bool { return status("late").State == StateReady })
	if n := probes.Load(); n < 3 {
		t.Fatalf("ready after %d probes; the first two said 503", n)
	}
	poll.Until(t, "the first child's pid", func() bool { return len(children()) == 1 })
	if !strings.Contains(out.String(), "lead | env=y\n") || !strings.Contains(errs.String(), "late | up\n") {
		t.Fatalf("stdout %q, stderr %q", out.String(), errs.String())
	}
	lead, late, child := status("lead").PID, status("late").PID, children()[0]
	if !alive(lead) || !alive(late) || !alive(child) {
		t.Fatalf("not running: lead %d, late %d, child %d", lead, late, child)
	}

	if err := syscall.Kill(lead, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "lead restarted", func() bool {
		st := status("lead")
		return st.Restarts == 1 && st.State == StateReady && len(children()) == 2
	})
	if st := status("lead"); st.LastExit != "signal: killed" || st.PID == lead {
		t.Fatalf("lead after kill -9: %+v", st)
	}
	poll.Until(t, "the killed child's group gone", func() bool { return !alive(child) })
	if st := status("late"); st.PID != late || st.Restarts != 0 {
		t.Fatalf("late: %+v", st)
	}

	pids := []int{status("lead").PID, late, children()[1]}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(poll.Deadline):
		t.Fatalf("Run did not return: %+v", s.Status())
	}
	// The children were reaped before Run returned; the grandchild got its
	// signal and closed its output, but may take a moment to be gone.
	for _, pid := range pids[:2] {
		if alive(pid) {
			t.Errorf("pid %d still running after Run returned", pid)
		}
	}
	poll.Until(t, "the grandchild gone", func() bool { return !alive(pids[2]) })
	for _, st := range s.Status() {
		if st.State != StateStopped || st.PID != 0 || st.LastExit != "signal: terminated" {
			t.Errorf("%+v", st)
		}
	}
}

func TestExecMissingProgram(t *testing.T) {
	_, err := startExec(Spec{Name: "x", Path: "/nonexistent/program", Stdout: nopCloser{}, Stderr: nopCloser{}})
	if err == nil || !strings.HasPrefix(err.Error(), "supervise: ") {
		t.Fatalf("start: %v", err)
	}
}

type nopCloser struct{}

func (nopCloser) Write(p []byte) (int, error) { return len(p), nil }
func (nopCloser) Close() error                { return nil }
