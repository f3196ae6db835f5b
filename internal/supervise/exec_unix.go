//go:build unix

package supervise

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// outputGrace bounds how long a process's output is still copied after it
// exited and its group was killed (a process that left the group with
// setsid may hold the pipe open).
const outputGrace = 2 * time.Second

// execProc is a child started with os/exec in a process group of its own.
type execProc struct {
	pid  int
	done chan struct{}
	err  error // set before done is closed

	mu     sync.Mutex
	exited bool // reaped: its pid may be reused, never signal it again
}

// startExec is the default Options.Start.
func startExec(spec Spec) (Proc, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("supervise: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("supervise: %w", err)
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = spec.Env
	cmd.Dir = spec.Dir
	cmd.Stdout, cmd.Stderr = outW, errW // files: handed to the child as they are, no copying goroutine in exec
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("supervise: %w", err)
	}
	p := &execProc{pid: cmd.Process.Pid, done: make(chan struct{})}
	var copies sync.WaitGroup
	for _, c := range []struct {
		r *os.File
		w io.WriteCloser
	}{{outR, spec.Stdout}, {errR, spec.Stderr}} {
		copies.Add(1)
		go func() {
			defer copies.Done()
			_, _ = io.Copy(c.w, c.r)
			c.w.Close()
		}()
	}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.exited = true
		p.mu.Unlock()
		// Whatever the child started in its group goes with it.
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		copied := make(chan struct{})
		go func() {
			copies.Wait()
			close(copied)
		}()
		select {
		case <-copied:
		case <-time.After(outputGrace):
			outR.Close() // unblocks the copies
			errR.Close()
			<-copied
		}
		outR.Close()
		errR.Close()
		p.err = err
		close(p.done)
	}()
	return p, nil
}

func (p *execProc) PID() int              { return p.pid }
func (p *execProc) Done() <-chan struct{} { return p.done }
func (p *execProc) Err() error            { return p.err }

// Signal signals the process group; after the child was reaped it returns
// os.ErrProcessDone.
func (p *execProc) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return os.ErrProcessDone
	}
	if err := syscall.Kill(-p.pid, sig); err != nil {
		return fmt.Errorf("supervise: signal %v to group %d: %w", sig, p.pid, err)
	}
	return nil
}
