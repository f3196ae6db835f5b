package blob

import (
	"bufio"
	"errors"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// copyBuf is the size of the server's copy buffer: one verified batch of
// the store's reader.
const copyBuf = 1 << 20

// enterInbound tracks an inbound stream and takes an inbound slot, of
// MaxInbound in all and MaxInboundPerPeer for its peer (so that one peer
// holding its streams open cannot take every slot). It returns false (and
// has answered busy, or reset the stream) when the stream is not to be
// served.
func (s *Service) enterInbound(st network.Stream) bool {
	if err := s.track(st, true); err != nil {
		st.Reset()
		return false
	}
	p := st.Conn().RemotePeer()
	s.mu.Lock()
	msg := ""
	switch {
	case s.inbound >= s.cfg.MaxInbound:
		msg = "too many streams"
	case s.perPeer[p] >= s.cfg.MaxInboundPerPeer:
		msg = "too many streams from this peer"
	default:
		s.inbound++
		s.perPeer[p]++
	}
	s.mu.Unlock()
	if msg != "" {
		st.SetWriteDeadline(time.Now().Add(s.cfg.RequestTimeout))
		s.answer(st, &wireError{CodeBusy, msg})
		st.Close()
		s.untrack(st, true)
		return false
	}
	return true
}

func (s *Service) leaveInbound(st network.Stream) {
	p := st.Conn().RemotePeer()
	s.mu.Lock()
	s.inbound--
	if s.perPeer[p]--; s.perPeer[p] <= 0 {
		delete(s.perPeer, p)
	}
	s.mu.Unlock()
	s.untrack(st, true)
}

// answer writes an error response.
func (s *Service) answer(st network.Stream, we *wireError) error {
	if len(we.Message) > 512 {
		we.Message = we.Message[:512]
	}
	return writeFrame(st, response{Error: we})
}

// nextRequest waits up to wait for the next request on st. ok is false when
// the stream is to be closed (after an answer, if one is due); a non-nil
// answer with ok is an error to send before the next request.
func (s *Service) nextRequest(st network.Stream, br *bufio.Reader, wait time.Duration) (parsedRequest, bool) {
	st.SetReadDeadline(time.Now().Add(wait))
	b, err := readFrame(br)
	if err != nil {
		switch {
		case errors.Is(err, io.EOF):
			st.Close()
		case errors.Is(err, errHeaderTooLarge):
			s.answer(st, &wireError{CodeTooLarge, "header over 4096 bytes"})
			st.Close()
		case errors.Is(err, errMalformed):
			s.answer(st, &wireError{CodeInvalid, "malformed frame"})
			st.Close()
		default: // a deadline, a reset
			st.Reset()
		}
		return parsedRequest{}, false
	}
	st.SetReadDeadline(time.Time{})
	req, we := parseRequest(b, st.Protocol())
	if we != nil {
		st.SetWriteDeadline(time.Now().Add(s.cfg.RequestTimeout))
		s.answer(st, we)
		st.Close()
		return parsedRequest{}, false
	}
	return req, true
}

// handleBlob serves requests on one stream, one after another.
func (s *Service) handleBlob(st network.Stream) {
	if !s.enterInbound(st) {
		return
	}
	defer s.leaveInbound(st)
	br := bufio.NewReaderSize(st, MaxHeader+16)
	w := &deadlineWriter{st: st, timeout: s.cfg.RequestTimeout}
	var buf []byte     // the copy buffer, once the stream reads
	var known struct { // the last object asked for on this stream
		c    cid.CID
		size int64
		ok   bool
	}
	for {
		req, ok := s.nextRequest(st, br, s.cfg.IdleTimeout)
		if !ok {
			return
		}
		if s.src == nil {
			if s.answer(st, &wireError{CodeNotFound, "this node serves nothing"}) != nil {
				st.Reset()
				return
			}
			continue
		}
		var err error
		switch req.op {
		case opOutboard:
			err = s.serveOutboard(st, w, req)
		case opRead:
			if !known.ok || known.c != req.c {
				size, oerr := s.size(req.c)
				if oerr != nil {
					err = s.answerSourceError(w, oerr)
					break
				}
				known.c, known.size, known.ok = req.c, size, true
			}
			if buf == nil {
				buf = make([]byte, copyBuf)
			}
			err = s.serveRead(w, req, known.size, buf)
		}
		if err != nil {
			st.Reset()
			return
		}
	}
}

// size returns c's size for a read (Source.Info).
func (s *Service) size(c cid.CID) (int64, error) {
	o, err := s.src.Info(s.ctx, c)
	return o.Size, err
}

// answerSourceError answers what the Source said; the stream stays usable.
func (s *Service) answerSourceError(w *deadlineWriter, err error) error {
	code := CodeFailed
	switch {
	case errors.Is(err, store.ErrNotFound):
		code = CodeNotFound
	case errors.Is(err, store.ErrRange):
		code = CodeRange
	case s.ctx.Err() != nil:
		return err
	}
	if code == CodeFailed {
		s.cfg.Logger.Warn("blob: cannot serve", "err", err)
	}
	w.arm()
	return s.answer(w.st, &wireError{code, err.Error()})
}

func (s *Service) serveOutboard(st network.Stream, w *deadlineWriter, req parsedRequest) error {
	size, ob, err := s.src.Outboard(s.ctx, req.c)
	if err != nil {
		return s.answerSourceError(w, err)
	}
	if len(ob) > MaxOutboard {
		w.arm()
		return s.answer(st, &wireError{CodeTooLarge, "the outboard is over 64 MiB"})
	}
	w.arm()
	if err := writeFrame(st, response{Size: size, Len: int64(len(ob))}); err != nil {
		return err
	}
	_, err = w.Write(ob)
	return err
}

func (s *Service) serveRead(w *deadlineWriter, req parsedRequest, size int64, buf []byte) error {
	if we := checkRead(req, size); we != nil {
		w.arm()
		return s.answer(w.st, we)
	}
	rc, err := s.src.ReadRange(s.ctx, req.c, req.off, req.len)
	if err != nil {
		return s.answerSourceError(w, err)
	}
	defer rc.Close()
	w.arm()
	if err := writeFrame(w.st, response{Size: size, Len: req.len}); err != nil {
		return err
	}
	// The header is out: a failure from here on (the source's bytes fail
	// its verification, the client stops reading) can only reset the stream.
	// The source writes straight from its verified buffers when it can
	// (io.WriterTo, as the store's readers do); exactWriter keeps a source
	// that has more than asked from breaking the framing.
	n, err := io.CopyBuffer(&exactWriter{w: w, left: req.len}, rc, buf)
	if err == nil && n < req.len {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && s.ctx.Err() == nil && !errors.Is(err, errWrite) {
		s.cfg.Logger.Warn("blob: reading the source", "cid", req.c, "off", req.off, "len", req.len, "err", err)
	}
	return err
}

// exactWriter passes at most left bytes to w; more is an error.
type exactWriter struct {
	w    io.Writer
	left int64
}

var errSourceTooLong = errors.New("blob: the source has more bytes than the range")

func (e *exactWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > e.left {
		n, err := e.w.Write(p[:e.left])
		e.left -= int64(n)
		if err == nil {
			err = errSourceTooLong
		}
		return n, err
	}
	n, err := e.w.Write(p)
	e.left -= int64(n)
	return n, err
}

// errWrite marks failures writing to the stream (the client's side).
var errWrite = errors.New("blob: writing to the stream")

// deadlineWriter writes to a stream, each Write allowed timeout.
type deadlineWriter struct {
	st      network.Stream
	timeout time.Duration
}

func (w *deadlineWriter) arm() { w.st.SetWriteDeadline(time.Now().Add(w.timeout)) }

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.arm()
	n, err := w.st.Write(p)
	if err != nil {
		err = errors.Join(errWrite, err)
	}
	return n, err
}

// handleReplicate answers one replicate request: a peer that Config.Trusted
// does not accept is refused at once (nothing is fetched); otherwise it asks
// the Replicator and answers {"ok":true} once it has the copy, or the error.
func (s *Service) handleReplicate(st network.Stream) {
	if !s.enterInbound(st) {
		return
	}
	defer s.leaveInbound(st)
	br := bufio.NewReaderSize(st, MaxHeader+16)
	req, ok := s.nextRequest(st, br, s.cfg.RequestTimeout)
	if !ok {
		return
	}
	var we *wireError
	from := st.Conn().RemotePeer()
	if s.rep == nil {
		we = &wireError{CodeRefused, "this node does not take copies"}
	} else if s.cfg.Trusted == nil || !s.cfg.Trusted(from) {
		s.cfg.Logger.Debug("blob: replicate refused: peer not trusted", "peer", from, "cid", req.c)
		we = &wireError{CodeRefused, "this node takes copies only from peers its operator trusts"}
	} else if err := s.rep.Replicate(s.ctx, req.c, from); err != nil {
		if s.ctx.Err() != nil {
			st.Reset()
			return
		}
		we = &wireError{CodeFailed, err.Error()}
		if errors.Is(err, ErrRefused) {
			we.Code = CodeRefused
		}
	}
	st.SetWriteDeadline(time.Now().Add(s.cfg.RequestTimeout))
	var err error
	if we != nil {
		err = s.answer(st, we)
	} else {
		err = writeFrame(st, response{OK: true})
	}
	if err != nil {
		st.Reset()
		return
	}
	st.Close()
}
