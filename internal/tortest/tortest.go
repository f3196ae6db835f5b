package tortest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ErrNoTor means tor or tor-gencert is missing; tests skip on it.
var ErrNoTor = errors.New("tortest: tor and tor-gencert are needed (install Debian's tor package)")

// Options sizes the network.
type Options struct {
	Authorities int // directory authorities; default 3
	Relays      int // non-authority relays; default 5
}

// Network is a running private Tor network.
type Network struct {
	tb     testing.TB
	dir    string
	opts   Options
	nodes  []*node
	dirAut []string

	closeOnce sync.Once
}

type node struct {
	name, dir string
	auth      bool
	orPort    int
	dirPort   int
	cmd       *exec.Cmd
	done      chan struct{}
	err       error
}

// Available reports whether tor and tor-gencert are on PATH.
func Available() error {
	for _, b := range []string{"tor", "tor-gencert"} {
		if _, err := exec.LookPath(b); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrNoTor, b, err)
		}
	}
	return nil
}

// Start generates the authorities' keys, writes every node's torrc under dir
// and starts every tor process. It registers Close with tb.Cleanup. Use
// WaitReady before expecting clients to bootstrap.
func Start(ctx context.Context, tb testing.TB, dir string, opts Options) (*Network, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if opts.Authorities <= 0 {
		opts.Authorities = 3
	}
	if opts.Relays < 0 {
		opts.Relays = 0
	} else if opts.Relays == 0 {
		opts.Relays = 5
	}
	n := &Network{tb: tb, dir: dir, opts: opts}
	tb.Cleanup(func() { n.Close() })
	total := opts.Authorities + opts.Relays
	ports, err := freePorts(total + opts.Authorities)
	if err != nil {
		return nil, err
	}
	for i := 0; i < total; i++ {
		nd := &node{orPort: ports[i], done: make(chan struct{})}
		if i < opts.Authorities {
			nd.auth = true
			nd.name = fmt.Sprintf("auth%d", i)
			nd.dirPort = ports[total+i]
		} else {
			nd.name = fmt.Sprintf("relay%d", i-opts.Authorities)
		}
		nd.dir = filepath.Join(dir, nd.name)
		if err := os.MkdirAll(filepath.Join(nd.dir, "keys"), 0o700); err != nil {
			return nil, fmt.Errorf("tortest: %w", err)
		}
		n.nodes = append(n.nodes, nd)
	}
	for _, nd := range n.nodes[:opts.Authorities] {
		line, err := authority(ctx, nd)
		if err != nil {
			return nil, err
		}
		n.dirAut = append(n.dirAut, line)
	}
	for _, nd := range n.nodes {
		torrc := filepath.Join(nd.dir, "torrc")
		if err := os.WriteFile(torrc, []byte(strings.Join(n.nodeTorrc(nd), "\n")+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("tortest: %w", err)
		}
		cmd := exec.Command("tor", "-f", torrc, "--defaults-torrc", os.DevNull)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("tortest: start %s: %w", nd.name, err)
		}
		nd.cmd = cmd
		go func() { nd.err = cmd.Wait(); close(nd.done) }()
	}
	tb.Logf("tortest: started %d authorities and %d relays under %s", opts.Authorities, opts.Relays, dir)
	return n, nil
}

// authority creates nd's authority keys and returns its DirAuthority line.
func authority(ctx context.Context, nd *node) (string, error) {
	keys := filepath.Join(nd.dir, "keys")
	gencert := exec.CommandContext(ctx, "tor-gencert", "--create-identity-key", "--passphrase-fd", "0",
		"-i", filepath.Join(keys, "authority_identity_key"),
		"-s", filepath.Join(keys, "authority_signing_key"),
		"-c", filepath.Join(keys, "authority_certificate"),
		"-m", "12", "-a", fmt.Sprintf("127.0.0.1:%d", nd.dirPort))
	gencert.Stdin = strings.NewReader("\n")
	if out, err := gencert.CombinedOutput(); err != nil {
		return "", fmt.Errorf("tortest: tor-gencert for %s: %v: %s", nd.name, err, out)
	}
	cert, err := os.ReadFile(filepath.Join(keys, "authority_certificate"))
	if err != nil {
		return "", fmt.Errorf("tortest: %w", err)
	}
	v3ident := ""
	for _, l := range strings.Split(string(cert), "\n") {
		if v, ok := strings.CutPrefix(l, "fingerprint "); ok {
			v3ident = strings.TrimSpace(v)
		}
	}
	if v3ident == "" {
		return "", fmt.Errorf("tortest: %s: no fingerprint in the authority certificate", nd.name)
	}
	list := exec.CommandContext(ctx, "tor", "--list-fingerprint", "--quiet", "--ignore-missing-torrc",
		"-f", os.DevNull, "--defaults-torrc", os.DevNull, "--orport", "1",
		"--dirserver", "x 127.0.0.1:1 ffffffffffffffffffffffffffffffffffffffff",
		"--datadirectory", nd.dir)
	if out, err := list.CombinedOutput(); err != nil {
		return "", fmt.Errorf("tortest: tor --list-fingerprint for %s: %v: %s", nd.name, err, out)
	}
	fp, err := os.ReadFile(filepath.Join(nd.dir, "fingerprint"))
	if err != nil {
		return "", fmt.Errorf("tortest: %w", err)
	}
	f := strings.Fields(string(fp))
	if len(f) != 2 || len(f[1]) != 40 {
		return "", fmt.Errorf("tortest: %s: bad fingerprint file %q", nd.name, fp)
	}
	return fmt.Sprintf("DirAuthority %s orport=%d no-v2 v3ident=%s 127.0.0.1:%d %s",
		nd.name, nd.orPort, v3ident, nd.dirPort, f[1]), nil
}

// common are the lines every node and client of the network shares.
func (n *Network) common() []string {
	return append([]string{
		"TestingTorNetwork 1",
		"PathsNeededToBuildCircuits 0.25",
	}, n.dirAut...)
}

func (n *Network) nodeTorrc(nd *node) []string {
	lines := append(n.common(),
		"DataDirectory "+nd.dir,
		"RunAsDaemon 0",
		"Nickname "+nd.name,
		"ContactInfo "+nd.name+"@test.invalid",
		"ShutdownWaitLength 0",
		"AssumeReachable 1",
		"SocksPort 0",
		"Address 127.0.0.1",
		fmt.Sprintf("ORPort 127.0.0.1:%d", nd.orPort),
		"ExitRelay 0",
		"ExitPolicy reject *:*",
		"ConnLimit 60",
		"SafeLogging 0",
		"Log notice file "+filepath.Join(nd.dir, "notice.log"),
		"__OwningControllerProcess "+strconv.Itoa(os.Getpid()),
	)
	if nd.auth {
		lines = append(lines,
			fmt.Sprintf("DirPort 127.0.0.1:%d", nd.dirPort),
			"AuthoritativeDirectory 1",
			"V3AuthoritativeDirectory 1",
			"TestingDirAuthVoteExit *",
			"TestingDirAuthVoteHSDir *",
			"TestingDirAuthVoteGuard *",
			"TestingMinExitFlagThreshold 0",
			"V3AuthNIntervalsValid 2",
			// Vote+Dist < Interval/2 (tor halves the interval while there is no consensus).
			"TestingV3AuthInitialVotingInterval 10",
			"TestingV3AuthInitialVoteDelay 2",
			"TestingV3AuthInitialDistDelay 2",
			"V3AuthVotingInterval 10",
			"V3AuthVoteDelay 2",
			"V3AuthDistDelay 2",
		)
	}
	return lines
}

// ClientTorrc returns the lines a client needs to use this network (for
// internal/core/tor's Options.ExtraTorrc): TestingTorNetwork and the DirAuthority
// lines. None of them makes a relay.
func (n *Network) ClientTorrc() []string { return n.common() }

// WaitReady waits until an authority has published a consensus that lists
// every node of the network.
func (n *Network) WaitReady(ctx context.Context) error {
	want := len(n.nodes)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, nd := range n.nodes {
			select {
			case <-nd.done:
				return fmt.Errorf("tortest: %s exited: %v (log: %s)", nd.name, nd.err, n.tail(nd))
			default:
			}
		}
		got := 0
		for _, nd := range n.nodes[:n.opts.Authorities] {
			b, err := os.ReadFile(filepath.Join(nd.dir, "cached-microdesc-consensus"))
			if err == nil {
				got = max(got, bytes.Count(b, []byte("\nr ")))
			}
		}
		if got >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("tortest: no consensus listing all %d nodes (best %d): %w (auth0 log: %s)",
				want, got, ctx.Err(), n.tail(n.nodes[0]))
		case <-tick.C:
		}
	}
}

// tail returns the last lines of nd's log.
func (n *Network) tail(nd *node) string {
	b, _ := os.ReadFile(filepath.Join(nd.dir, "notice.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, " | ")
}

// Close kills every tor process of the network and waits for them.
func (n *Network) Close() error {
	n.closeOnce.Do(func() {
		for _, nd := range n.nodes {
			if nd.cmd != nil {
				syscall.Kill(-nd.cmd.Process.Pid, syscall.SIGKILL)
			}
		}
		for _, nd := range n.nodes {
			if nd.cmd != nil {
				<-nd.done
			}
		}
	})
	return nil
}

// freePorts reserves k distinct free TCP ports on 127.0.0.1 (released before
// return: another process could take one in between, which would make that
// tor fail to start and WaitReady report it).
func freePorts(k int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range k {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("tortest: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
