package blob

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"lukechampine.com/blake3/bao"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// conn is the client's end of one stream.
type conn struct {
	s    *Service
	peer peer.ID
	st   network.Stream
	br   *bufio.Reader
	rd   *deadlineReader // under br
	stop func() bool     // ends the reset-on-cancel hook
}

// dial connects to ai and opens a stream of proto, which is reset when ctx
// ends or the service closes.
func (s *Service) dial(ctx context.Context, ai peer.AddrInfo, proto protocol.ID) (*conn, error) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	if err := s.h.Connect(cctx, ai); err != nil {
		return nil, fmt.Errorf("blob: connecting to %s: %w", ai.ID, err)
	}
	st, err := s.h.NewStream(cctx, ai.ID, proto)
	if err != nil {
		return nil, fmt.Errorf("blob: opening a stream to %s: %w", ai.ID, err)
	}
	if err := s.track(st, false); err != nil {
		st.Reset()
		return nil, err
	}
	c := &conn{s: s, peer: ai.ID, st: st, rd: &deadlineReader{st: st, timeout: s.cfg.RequestTimeout}}
	c.br = bufio.NewReaderSize(c.rd, 64<<10)
	c.stop = context.AfterFunc(ctx, func() { st.Reset() })
	return c, nil
}

// close ends the stream: gracefully after a complete exchange, else reset.
func (c *conn) close(graceful bool) {
	c.stop()
	if graceful {
		c.st.Close()
	} else {
		c.st.Reset()
	}
	c.s.untrack(c.st, false)
}

// send writes one request.
func (c *conn) send(req request) error {
	c.st.SetWriteDeadline(time.Now().Add(c.s.cfg.RequestTimeout))
	if err := writeFrame(c.st, req); err != nil {
		return c.streamErr("sending a request", err)
	}
	return nil
}

// recv reads one response header; an error answer comes back as a
// *RemoteError.
func (c *conn) recv() (response, error) {
	b, err := readFrame(c.br)
	if err != nil {
		if errors.Is(err, errHeaderTooLarge) || errors.Is(err, errMalformed) {
			return response{}, fmt.Errorf("%w: peer %s: response: %v", ErrProtocol, c.peer, err)
		}
		return response{}, c.streamErr("reading a response", err)
	}
	r, err := parseResponse(b)
	if err != nil {
		return response{}, fmt.Errorf("%w: peer %s: response: %v", ErrProtocol, c.peer, err)
	}
	if r.Error != nil {
		return r, &RemoteError{Peer: c.peer, Code: r.Error.Code, Message: r.Error.Message}
	}
	return r, nil
}

// streamErr names a stream failure; after Close it is ErrClosed.
func (c *conn) streamErr(what string, err error) error {
	c.s.mu.Lock()
	closed := c.s.closed
	c.s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return fmt.Errorf("blob: peer %s: %s: %w", c.peer, what, err)
}

// deadlineReader reads from a stream, each Read allowed timeout: a peer
// that sends nothing for that long is dead. With until set, no Read goes
// past it either: a peer that trickles a read's bytes, each in time, still
// loses the read (Fetch sets it from Config.MinRate).
type deadlineReader struct {
	st      network.Stream
	timeout time.Duration
	until   time.Time
}

func (r *deadlineReader) Read(p []byte) (int, error) {
	d := time.Now().Add(r.timeout)
	if !r.until.IsZero() && r.until.Before(d) {
		d = r.until
	}
	r.st.SetReadDeadline(d)
	return r.st.Read(p)
}

// order returns the providers to ask: not this node, not banned, each once,
// the best scores first (otherwise in the given order).
func (s *Service) order(providers []peer.AddrInfo) []peer.AddrInfo {
	seen := map[peer.ID]bool{s.h.ID(): true}
	var out []peer.AddrInfo
	for _, ai := range providers {
		if seen[ai.ID] || ai.ID == "" || s.Banned(ai.ID) {
			continue
		}
		seen[ai.ID] = true
		out = append(out, ai)
	}
	scores := make(map[peer.ID]int, len(out))
	for _, ai := range out {
		scores[ai.ID] = s.Score(ai.ID)
	}
	slices.SortStableFunc(out, func(a, b peer.AddrInfo) int { return scores[b.ID] - scores[a.ID] })
	return out
}

// punish records that p lied: its score drops, it is banned for BanFor and
// its connections are closed.
func (s *Service) punish(p peer.ID, c cid.CID, why error) {
	s.adjust(p, scoreLied, true)
	s.cfg.Logger.Warn("blob: peer sent bad data; banned", "peer", p, "cid", c, "for", s.cfg.BanFor, "err", why)
	s.h.Network().ClosePeer(p)
}

func (s *Service) checkOpen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case !s.started:
		return ErrNotStarted
	}
	return nil
}

// Outboard asks providers in order until one returns c's outboard, and
// returns the size and outboard. An outboard is accepted once its tree
// hashes up to c and the object's last chunk group (fetched from the same
// peer) verifies against it, which proves the size. A peer whose outboard
// or last group fails verification is punished as a liar.
func (s *Service) Outboard(ctx context.Context, c cid.CID, providers []peer.AddrInfo) (size int64, ob []byte, err error) {
	if err := s.checkOpen(); err != nil {
		return 0, nil, err
	}
	var errs []error
	for _, ai := range s.order(providers) {
		size, ob, _, err := s.outboardFrom(ctx, c, ai)
		if err == nil {
			return size, ob, nil
		}
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		if errors.Is(err, ErrClosed) {
			return 0, nil, err
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return 0, nil, fmt.Errorf("%w: outboard of %s: no provider to ask", ErrNoProviders, c)
	}
	return 0, nil, fmt.Errorf("%w: outboard of %s: %w", ErrNoProviders, c, errors.Join(errs...))
}

// outboardFrom asks ai for c's outboard and last chunk group (which proves
// the size) and returns the size, the outboard and the last group, all
// verified.
func (s *Service) outboardFrom(ctx context.Context, c cid.CID, ai peer.AddrInfo) (int64, []byte, []byte, error) {
	cn, err := s.dial(ctx, ai, ProtocolBlob)
	if err != nil {
		return 0, nil, nil, err
	}
	graceful := false
	defer func() { cn.close(graceful) }()
	fail := func(err error) (int64, []byte, []byte, error) {
		var re *RemoteError
		if !errors.As(err, &re) && !errors.Is(err, ErrClosed) && ctx.Err() == nil {
			s.adjust(ai.ID, scoreFailed, false)
		}
		return 0, nil, nil, err
	}
	if err := cn.send(request{Op: opOutboard, CID: c.String()}); err != nil {
		return fail(err)
	}
	r, err := cn.recv()
	if err != nil {
		return fail(err)
	}
	if r.Len > MaxOutboard || r.Len != outboardLen(r.Size) {
		return fail(fmt.Errorf("%w: peer %s: an outboard of %d bytes for size %d", ErrProtocol, ai.ID, r.Len, r.Size))
	}
	// Grown as bytes arrive, not to the peer's claim, and checked node by
	// node as it grows: a peer claiming a huge object the CID is not makes
	// us hold no more than a read's worth of its bytes.
	ob, err := readOutboard(cn.br, c, r.Size, r.Len)
	if err != nil && !errors.Is(err, store.ErrCorrupt) {
		return fail(cn.streamErr("reading an outboard", err))
	}
	if err == nil {
		err = store.VerifyOutboard(c, r.Size, ob)
	}
	if err != nil {
		s.punish(ai.ID, c, err)
		return 0, nil, nil, fmt.Errorf("%w: peer %s: %w", ErrLied, ai.ID, err)
	}
	if r.Size == 0 { // VerifyOutboard checked c is the hash of nothing
		graceful = true
		return 0, ob, nil, nil
	}
	// The last group proves the size: its chaining value depends on its
	// length and its position in the tree on the object's.
	off := lastOffset(r.Size)
	if err := cn.send(request{Op: opRead, CID: c.String(), Off: off, Len: r.Size - off}); err != nil {
		return fail(err)
	}
	lr, err := cn.recv()
	if err != nil {
		return fail(err)
	}
	if lr.Size != r.Size || lr.Len != r.Size-off {
		return fail(fmt.Errorf("%w: peer %s: %d bytes of %d for a read of %d of %d", ErrProtocol, ai.ID, lr.Len, lr.Size, r.Size-off, r.Size))
	}
	last := make([]byte, lr.Len)
	if _, err := io.ReadFull(cn.br, last); err != nil {
		return fail(cn.streamErr("reading the last group", err))
	}
	if !bao.VerifyChunk(last, ob, store.Group, uint64(off), c) {
		err := fmt.Errorf("%w: the last group does not verify (size %d)", store.ErrCorrupt, r.Size)
		s.punish(ai.ID, c, err)
		return 0, nil, nil, fmt.Errorf("%w: peer %s: %w", ErrLied, ai.ID, err)
	}
	s.adjust(ai.ID, scoreServed, false)
	graceful = true
	return r.Size, ob, last, nil
}

// readOutboard reads an outboard of n bytes for an object of size bytes,
// 64 KiB at a time, checking each parent node as it arrives: an error
// wrapping store.ErrCorrupt at the first that does not hash up to c (or a
// length header that is not size), the stream's error if it fails. The
// caller checked n against size.
func readOutboard(r io.Reader, c cid.CID, size, n int64) ([]byte, error) {
	var ob []byte
	k := newNodeCheck(c, size)
	next := 8 // the offset of the next node to check
	for int64(len(ob)) < n {
		at := len(ob)
		step := int(min(n-int64(at), 64<<10))
		ob = slices.Grow(ob, step)[:at+step]
		if _, err := io.ReadFull(r, ob[at:]); err != nil {
			return nil, err
		}
		if at == 0 && binary.LittleEndian.Uint64(ob) != uint64(size) {
			return nil, fmt.Errorf("%w: the outboard's header says %d bytes, not %d", store.ErrCorrupt, binary.LittleEndian.Uint64(ob), size)
		}
		// Nodes start at 8, 64 bytes each; check those now complete.
		for ; next+64 <= len(ob); next += 64 {
			if !k.next(ob[next : next+64]) {
				return nil, fmt.Errorf("%w: the outboard's parent node at byte %d does not hash up to %s", store.ErrCorrupt, next, c)
			}
		}
	}
	return ob, nil
}

// AskReplicate asks p to hold a copy of c (p fetches it from this node and
// others, pins it and provides it) and waits for p's answer: nil once p has
// the copy, a *RemoteError (errors.Is ErrRefused, ErrBusy) otherwise.
func (s *Service) AskReplicate(ctx context.Context, p peer.ID, c cid.CID) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	cn, err := s.dial(ctx, peer.AddrInfo{ID: p}, ProtocolReplicate)
	if err != nil {
		return err
	}
	graceful := false
	defer func() { cn.close(graceful) }()
	if err := cn.send(request{Op: opReplicate, CID: c.String()}); err != nil {
		return err
	}
	cn.st.CloseWrite()
	// The peer answers after its fetch: no per-read deadline, only ctx.
	b, err := readFrame(bufio.NewReader(cn.st))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errHeaderTooLarge) || errors.Is(err, errMalformed) {
			return fmt.Errorf("%w: peer %s: response: %v", ErrProtocol, p, err)
		}
		return cn.streamErr("waiting for the replicate answer", err)
	}
	r, err := parseResponse(b)
	if err != nil {
		return fmt.Errorf("%w: peer %s: response: %v", ErrProtocol, p, err)
	}
	graceful = true
	if r.Error != nil {
		return &RemoteError{Peer: p, Code: r.Error.Code, Message: r.Error.Message}
	}
	if !r.OK {
		return fmt.Errorf("%w: peer %s: a replicate answer without ok", ErrProtocol, p)
	}
	return nil
}
