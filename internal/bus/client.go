package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/ronhost/ronhost/internal/codes"
)

// Request calls the verb v: req is sent as JSON (nil: {}; a json.RawMessage
// is sent as it is) and the reply is decoded into resp (nil: discarded).
// Call is the typed form, with a verb of the contract (internal/bus/contract).
// Without a deadline on ctx the bus's RequestTimeout applies. The queue
// group ron.<role> hands each attempt to one live instance of the role.
//
// What is left of ctx's deadline and ctx's request id (WithRequestID; a
// fresh one when it has none) go with the request: the handler's ctx has
// the same deadline (at most MaxHandlerTimeout) and request id. When ctx
// is cancelled before the reply, the handler's ctx is cancelled too (a
// cancel message, docs/BUS.md).
//
// Request sends the request again, up to Options.Retries more times and
// only while ctx lasts, when another attempt may succeed where this one
// failed:
//   - no instance answered (no responders), or the connection could not
//     take the request: after a short backoff with jitter, for any verb;
//   - the handler answered codes.Unavailable or codes.Overloaded with
//     Retryable set (it did not do the work, e.g. its node is shutting
//     down): after a backoff, for an idempotent verb (v.Idempotent), or
//     for any verb when the bus refused it before the handler ran;
//   - no reply after Options.AttemptTimeout (the instance may have died
//     with the request): at once, only for an idempotent verb, and the
//     earlier attempts go on waiting: the first reply wins.
//
// Any other handler error is the answer, as are ctx's end and a reply lost
// with the connection for a verb that is not idempotent: a verb that is not
// idempotent (a publish) is never sent again once an instance may have run
// it.
//
// Every error is an *Error: the handler's own, exactly as it returned it
// (code, message, retryable, errors); codes.Unavailable when no instance of
// the role answers or the bus is down; codes.Timeout when ctx ends first;
// codes.TooLarge when the request is over the server's message cap (it is not
// sent); codes.Invalid for a bad role, verb or request value.
func (b *Bus) Request(ctx context.Context, v Spec, req, resp any) error {
	role, verb := v.Role, v.Verb
	subj, err := Subject(role, verb)
	if err != nil {
		return &Error{Code: codes.Invalid, Message: err.Error()}
	}
	nc := b.conn.Load()
	if nc == nil {
		return Errorf(codes.Unavailable, "bus: %s: the bus is not started", subj)
	}
	if err := b.grants.mayCall(role, verb); err != nil {
		return &Error{Code: codes.Forbidden, Message: err.Error()}
	}
	data, err := encodeRequest(req)
	if err != nil {
		return Errorf(codes.Invalid, "bus: %s: encoding the request: %v", subj, err)
	}
	if max := nc.MaxPayload(); int64(len(data)) > max {
		return Errorf(codes.TooLarge, "bus: %s: the request is %d bytes, over the bus's %d-byte message cap (bulk bytes do not travel on the bus)", subj, len(data), max)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.timeout)
		defer cancel()
	}
	if RequestID(ctx) == "" {
		ctx = WithRequestID(ctx, NewRequestID())
	}
	msg, e := b.exchange(ctx, nc, v, subj, data)
	if e != nil {
		return e
	}
	if resp == nil {
		return nil
	}
	if err := json.Unmarshal(msg.Data, resp); err != nil {
		return Errorf(codes.Internal, "bus: %s: decoding the reply: %v", subj, err)
	}
	return nil
}

// send is one attempt: the request with its headers (the time left of
// ctx's deadline, the request id, a fresh cancel token). When ctx is
// cancelled before the reply, it tells the handler to stop (sendCancel).
func send(ctx context.Context, nc *nats.Conn, subj string, data []byte) (*nats.Msg, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := &nats.Msg{Subject: subj, Data: data, Header: nats.Header{}}
	if dl, ok := ctx.Deadline(); ok {
		ms := time.Until(dl).Milliseconds()
		if ms <= 0 {
			return nil, context.DeadlineExceeded
		}
		m.Header.Set(timeoutHeader, strconv.FormatInt(ms, 10))
	}
	if id := RequestID(ctx); id != "" {
		m.Header.Set(requestIDHeader, id)
	}
	token := newCancelToken()
	m.Header.Set(cancelHeader, token)
	msg, err := nc.RequestMsgWithContext(ctx, m)
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		sendCancel(nc, subj, token)
	}
	return msg, err
}

func encodeRequest(req any) ([]byte, error) {
	switch r := req.(type) {
	case nil:
		return []byte("{}"), nil
	case json.RawMessage:
		if len(r) == 0 {
			return []byte("{}"), nil
		}
		if !json.Valid(r) {
			return nil, errors.New("the json.RawMessage is not valid JSON")
		}
		return r, nil
	}
	return json.Marshal(req)
}

func requestError(subj string, err error) *Error {
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return Errorf(codes.Unavailable, "bus: %s: no instance of the role is answering", subj)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return Errorf(codes.Timeout, "bus: %s: no reply before the deadline", subj)
	case errors.Is(err, context.Canceled):
		return Errorf(codes.Timeout, "bus: %s: the request was canceled", subj)
	case errors.Is(err, nats.ErrMaxPayload):
		return Errorf(codes.TooLarge, "bus: %s: %v", subj, err)
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrDisconnected):
		return Errorf(codes.Unavailable, "bus: %s: %v", subj, err)
	}
	return Errorf(codes.Internal, "bus: %s: %v", subj, err)
}

// decodeError turns a micro error reply back into the *Error its handler
// returned. A reply from a service that is not a ronhost bus service (no
// *Error body) keeps its description, with its code mapped when it is one
// of ours or a familiar HTTP-like number.
func decodeError(msg *nats.Msg) *Error {
	var e Error
	if err := json.Unmarshal(msg.Data, &e); err == nil && e.Code != "" {
		return &e
	}
	code := codes.Code(msg.Header.Get(micro.ErrorCodeHeader))
	if !code.Known() {
		status, _ := strconv.Atoi(string(code)) // micro's own errors are numbers, as HTTP's
		code = codes.FromStatus(status)
	}
	return &Error{Code: code, Message: msg.Header.Get(micro.ErrorHeader), Retryable: code.Retryable()}
}

// Emit publishes v as JSON on ron.evt.<kind>. The event types of this
// package get their Time (now, UTC) and Node (Options.Name) filled in when
// they are zero.
func (b *Bus) Emit(kind string, v any) error {
	subj, err := EventSubject(kind)
	if err != nil {
		return err
	}
	nc := b.conn.Load()
	if nc == nil {
		return ErrNotStarted
	}
	if err := b.grants.mayEmit(kind); err != nil {
		return err
	}
	if s, ok := v.(stamper); ok {
		v = s.stamped(b.o.Name, time.Now())
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("bus: event %s: %w", kind, err)
	}
	if max := nc.MaxPayload(); int64(len(data)) > max {
		return fmt.Errorf("bus: event %s is %d bytes, over the bus's %d-byte message cap", kind, len(data), max)
	}
	if err := nc.Publish(subj, data); err != nil {
		if errors.Is(err, nats.ErrConnectionClosed) {
			err = ErrClosed
		}
		return fmt.Errorf("bus: event %s: %w", kind, err)
	}
	return nil
}

// flush waits for the server to have seen this connection's subscriptions,
// so that a service or subscription is reachable from other connections
// once AddService or Subscribe returns. While disconnected, the
// subscriptions are sent on reconnecting.
func (b *Bus) flush(what string) {
	nc := b.conn.Load()
	if !nc.IsConnected() {
		return
	}
	if err := nc.FlushTimeout(b.timeout); err != nil {
		b.log.Warn("the server has not confirmed a subscription yet", "what", what, "err", err)
	}
}

// Subscribe calls fn with the subject and JSON body of each event of kind
// ("object.stored"; wildcards allowed: "plugin.*", ">" for all). fn runs on
// one goroutine per subscription, in order; a panic in it is logged. Events
// published anywhere on the bus after Subscribe returns are delivered. The
// returned func ends the subscription. A connection with its roles'
// permissions (a role key, or the own connection of a listening server
// with a Contract) may not watch events: ErrForbidden.
func (b *Bus) Subscribe(kind string, fn func(subject string, data []byte)) (unsubscribe func(), err error) {
	subj, err := eventFilter(kind)
	if err != nil {
		return nil, err
	}
	nc := b.conn.Load()
	if nc == nil {
		return nil, ErrNotStarted
	}
	if b.watchDenied {
		return nil, fmt.Errorf("%w: a connection with its roles' permissions cannot watch events (the operator's can)", ErrForbidden)
	}
	sub, err := nc.Subscribe(subj, func(m *nats.Msg) {
		defer func() {
			if p := recover(); p != nil {
				b.log.Error("event subscriber panicked", "subject", m.Subject, "panic", p)
			}
		}()
		fn(m.Subject, m.Data)
	})
	if err != nil {
		if errors.Is(err, nats.ErrConnectionClosed) {
			err = ErrClosed
		}
		return nil, fmt.Errorf("bus: subscribing to %s: %w", subj, err)
	}
	b.flush("subscription " + subj)
	return func() { _ = sub.Unsubscribe() }, nil
}
