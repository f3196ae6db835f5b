package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/gateway"
	"github.com/ronhost/ronhost/internal/core/mailbox"
	"github.com/ronhost/ronhost/internal/core/mailbox/mailboxsvc"
	"github.com/ronhost/ronhost/internal/core/tor"
)

// The private plane: the system tor (client only) and the onion mailbox.
// With tor, the mailbox is an onion service (virtual port MailboxPort)
// forwarding to a loopback listener, and it dials other mailboxes through
// tor's SOCKS port. With tor off, the mailbox is reached directly at its
// loopback listener: for tests and single-machine setups only.

// MailboxPort is the onion service's virtual port for the mailbox.
const MailboxPort = 80

func (n *Node) startPrivatePlane(ctx context.Context) error {
	cfg, dir := n.opts.Config, n.opts.DataDir
	mode := cfg.Tor.Mode
	if mode == "auto" {
		mode = "off"
		if _, err := exec.LookPath(cfg.Tor.Binary); err == nil {
			mode = "managed"
		} else {
			n.log.Warn("tor is not installed: the mailbox is reachable only on loopback (install Debian's tor package for the private plane)")
		}
	}
	ln, err := net.Listen("tcp", cfg.Mailbox.Listen)
	if err != nil {
		return fmt.Errorf("node: mailbox listener: %w", err)
	}
	n.closers = append(n.closers, func() error {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	})
	var dialer mailbox.Dialer = &net.Dialer{Timeout: 30 * time.Second}
	host := ln.Addr().String()
	if mode != "off" {
		n.tor = tor.New(tor.Options{Binary: cfg.Tor.Binary, DataDir: filepath.Join(dir, "tor"), ControlAddr: cfg.Tor.Control,
			CookieFile: cfg.Tor.Cookie, ExtraTorrc: cfg.Tor.ExtraTorrc, Logger: n.log})
		if err := n.tor.Start(ctx); err != nil {
			return fmt.Errorf("node: %w", err)
		}
		n.closers = append(n.closers, n.tor.Close)
		key, err := tor.LoadOrCreateOnionKey(filepath.Join(dir, "keys", "onion.key"))
		if err != nil {
			return fmt.Errorf("node: %w", err)
		}
		onion, err := n.tor.Publish(ctx, key, MailboxPort, ln.Addr().String())
		if err != nil {
			return fmt.Errorf("node: publishing the mailbox's onion service: %w", err)
		}
		host = fmt.Sprintf("%s.onion:%d", onion, MailboxPort)
		dialer = n.tor.Dialer()
	}
	id, err := mailbox.LoadOrCreateIdentity(filepath.Join(dir, "keys", "mailbox.key"))
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	mc := cfg.Mailbox
	n.mailbox, err = mailbox.Open(ctx, filepath.Join(dir, "mailbox"), mailbox.Options{
		Identity: id, Host: host, Dialer: dialer, Retention: mc.Retention.D(), TTL: mc.TTL.D(),
		MaxInbox: mc.MaxInbox, MaxBody: int(mc.MaxBody), RetryMin: mc.RetryMin.D(), RetryMax: mc.RetryMax.D(), Logger: n.log.With("component", "mailbox"),
		MinFree: int64(n.opts.Config.Node.MinFree),
		OnEvent: func(kind string, v any) { n.emit(kind, v) },
	})
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.closers = append(n.closers, n.mailbox.Close)
	if err := n.mailbox.Start(ctx); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	srv := n.mailbox.Server() // bounded: timeouts on every read, write and idle wait; at most 128 connections
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			n.log.Error("mailbox server stopped", "err", err)
		}
	}()
	n.closers = append(n.closers, func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		<-served
		return err
	})
	n.log.Info("mailbox ready", "address", n.mailbox.Address().String(), "tor", mode)
	return nil
}

// mailboxService is the mailbox role over this process's mailbox
// (internal/core/mailbox/mailboxsvc), read when it is called: the ops
// endpoints may be mounted before the private plane starts.
func (n *Node) mailboxService() mailboxsvc.Service {
	return mailboxsvc.Service{Mailbox: n.mailbox, Tor: n.tor}
}

// mailboxOp is one of the mailbox's operations for the local operator.
type mailboxOp func(ctx context.Context, r *http.Request) (any, error)

// mailboxOps serve /v1/mailbox/... from this process's mailbox. Messages
// never cross the bus: the operator's CLI reads and sends them through the
// ops endpoints of the process that runs the mailbox, so their plaintext
// stays in that process.
func (n *Node) mailboxOps() map[string]mailboxOp {
	out := map[string]mailboxOp{}
	for pattern, op := range mailboxsvc.Ops() {
		out[pattern] = func(ctx context.Context, r *http.Request) (any, error) { return op(ctx, n.mailboxService(), r) }
	}
	return out
}

// mailboxCall serves one mailbox operation: a token is required, and the
// mailbox must run in this process.
func (n *Node) mailboxCall(op mailboxOp) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := n.auth().Authorize(r); err != nil {
			gateway.WriteError(w, err)
			return
		}
		if !n.has("mailbox") || n.mailbox == nil {
			gateway.WriteError(w, bus.Errorf(codes.NotFound, "the mailbox role does not run in this process, and messages never cross the bus: "+
				"run the CLI with --data of the process that runs it"))
			return
		}
		out, err := op(r.Context(), r)
		if err != nil {
			gateway.WriteError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}
