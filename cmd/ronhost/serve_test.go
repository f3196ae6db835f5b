package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/poll"
)

// served is a `ronhost serve` process started by a test.
type served struct {
	t      *testing.T
	cmd    *exec.Cmd
	api    string
	exited chan error
	logMu  sync.Mutex
	logs   strings.Builder
}

// startServe runs `ronhost serve` on 127.0.0.1 with c's data directory and
// waits until it is ready. The process is killed when the test ends.
func startServe(t *testing.T, c *cli, args ...string) *served {
	t.Helper()
	s := &served{t: t, exited: make(chan error, 1)}
	argv := append([]string{"--data", c.data, "--json", "serve", "--listen", "127.0.0.1:0"}, args...)
	s.cmd = exec.Command(ronhostBinary(t), argv...)
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, _ := s.cmd.StderrPipe()
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		b := make([]byte, 32<<10)
		for {
			n, err := stderr.Read(b)
			s.logMu.Lock()
			s.logs.Write(b[:n])
			s.logMu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-logsDone
	})
	var started struct{ API string }
	if err := json.NewDecoder(bufio.NewReader(stdout)).Decode(&started); err != nil || !strings.HasPrefix(started.API, "http://127.0.0.1:") {
		_ = s.cmd.Process.Kill()
		<-logsDone
		t.Fatalf("serve printed %+v: %v\n%s", started, err, s.log())
	}
	s.api = started.API
	go func() { s.exited <- s.cmd.Wait() }()
	s.waitFor("readyz", func() bool { return s.get("/readyz", nil) == 200 })
	return s
}

func (s *served) log() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.logs.String()
}

// get GETs path and decodes a JSON answer into v; it returns the status (0
// when the node does not answer).
func (s *served) get(path string, v any) int {
	resp, err := http.Get(s.api + path)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if v != nil {
		_ = json.NewDecoder(resp.Body).Decode(v)
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode
}

// waitFor polls ok until it holds, failing the test after a minute.
func (s *served) waitFor(what string, ok func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s; node log:\n%s", what, s.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and checks the node exits cleanly.
func (s *served) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	select {
	case err := <-s.exited:
		if err != nil {
			s.t.Fatalf("serve exited with %v\n%s", err, s.log())
		}
	case <-time.After(poll.Deadline):
		s.t.Fatalf("serve did not stop on SIGTERM\n%s", s.log())
	}
}
