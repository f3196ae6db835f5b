package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/ronhost/ronhost/internal/codes"
)

// Handler serves one verb of a role. req is the request's JSON body (may be
// empty); the reply is the JSON of the returned value (nil: {}), or the
// error as an *Error (AsError; a context deadline becomes codes.Timeout). ctx
// ends at the caller's deadline (at most MaxHandlerTimeout; the bus's
// RequestTimeout when the caller sent none), when the caller cancels the
// request (context.Cause: ErrCallerCanceled) or when the bus closes, and
// carries the caller's request id (RequestID).
type Handler func(ctx context.Context, req []byte) (any, error)

// endpoint is one verb of a service on this bus.
type endpoint struct {
	b       *Bus
	subject string
	h       Handler
	sem     chan struct{}

	mu    sync.Mutex
	stats endpointStats
}

// endpointStats are the bus's own figures for a verb, in the "data" of each
// endpoint in $SRV.STATS replies: micro's num_requests is right, but its
// processing_time and num_errors only see the hand-off to a handler
// goroutine (handlers run concurrently; micro's run one at a time).
type endpointStats struct {
	Requests       uint64        `json:"requests"`
	Errors         uint64        `json:"errors"`
	LastError      string        `json:"last_error,omitempty"`
	InFlight       int           `json:"in_flight"`
	ProcessingTime time.Duration `json:"processing_time"`
}

// AddService puts role's verbs on the bus as the micro service "ron-<role>":
// each verb on ron.<role>.<verb> in queue group ron.<role>, so the instances
// of a role on several nodes share its requests. version is SemVer. One
// service per role per Bus. The verbs are reachable from every connection
// to the server once AddService returns.
func (b *Bus) AddService(role, version, description string, endpoints map[string]Handler) error {
	if err := checkToken("role", role); err != nil {
		return err
	}
	if len(endpoints) == 0 {
		return fmt.Errorf("bus: service %s has no verbs", role)
	}
	eps := make(map[string]*endpoint, len(endpoints))
	for verb, h := range endpoints {
		subj, err := Subject(role, verb)
		if err != nil {
			return err
		}
		if h == nil {
			return fmt.Errorf("bus: %s has a nil handler", subj)
		}
		eps[verb] = &endpoint{b: b, subject: subj, h: h, sem: make(chan struct{}, b.o.Concurrency)}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return ErrClosed
	case !b.started:
		return ErrNotStarted
	case b.services[role] != nil:
		return fmt.Errorf("bus: the %s service is already on this bus", role)
	}
	for verb := range eps {
		if err := b.grants.mayServe(role, verb); err != nil {
			return err
		}
	}
	meta := map[string]string{}
	if b.o.Name != "" {
		meta["node"] = b.o.Name
	}
	svc, err := micro.AddService(b.conn.Load(), micro.Config{
		Name:        serviceName(role),
		Version:     version,
		Description: description,
		Metadata:    meta,
		QueueGroup:  queueGroup(role),
		StatsHandler: func(e *micro.Endpoint) any {
			if ep := eps[e.Name]; ep != nil {
				ep.mu.Lock()
				defer ep.mu.Unlock()
				return ep.stats
			}
			return nil
		},
		ErrorHandler: func(_ micro.Service, err *micro.NATSError) {
			b.log.Warn("service error", "role", role, "subject", err.Subject, "err", err.Description)
		},
	})
	if err != nil {
		return fmt.Errorf("bus: service %s: %w", role, err)
	}
	for verb, ep := range eps {
		if err := svc.AddEndpoint(verb, micro.HandlerFunc(ep.dispatch), micro.WithEndpointSubject(ep.subject)); err != nil {
			_ = svc.Stop()
			return fmt.Errorf("bus: service %s: %w", ep.subject, err)
		}
	}
	// Cancels for the role's verbs (cancel.go), heard by every instance. A
	// connection the server does not let subscribe to them (an external
	// NATS configured before they existed) is told so asynchronously, and
	// its requests just cannot be cancelled.
	if _, err := b.conn.Load().Subscribe(subjectPrefix+role+".*"+cancelSuffix, b.onCancel); err != nil {
		_ = svc.Stop()
		return fmt.Errorf("bus: service %s: subscribing to its cancels: %w", role, err)
	}
	b.services[role] = svc
	b.flush("service " + role)
	return nil
}

// dispatch runs on the endpoint's subscription goroutine: it hands the
// request to a handler goroutine, waiting while Concurrency of them run.
func (ep *endpoint) dispatch(req micro.Request) {
	b := ep.b
	reply := req.Reply()
	if reply == "" {
		b.log.Warn("dropped a request without a reply subject", "subject", ep.subject)
		return
	}
	b.hmu.Lock()
	if b.closing {
		b.hmu.Unlock()
		ep.respondError(reply, Errorf(codes.Unavailable, "bus: %s: the node is shutting down", ep.subject), true)
		return
	}
	h := req.Headers()
	ctx, release, ok := b.cancels.track(b.base, ep.subject, h.Get(cancelHeader))
	if !ok {
		b.hmu.Unlock()
		b.log.Debug("dropped a request its caller had cancelled", "subject", ep.subject, "request_id", h.Get(requestIDHeader))
		return
	}
	b.inflight++
	b.hmu.Unlock()

	ep.sem <- struct{}{}
	ep.mu.Lock()
	ep.stats.InFlight++
	ep.mu.Unlock()
	go func() {
		defer func() {
			release()
			<-ep.sem
			b.hmu.Lock()
			b.inflight--
			if b.inflight == 0 {
				b.idle.Broadcast()
			}
			b.hmu.Unlock()
		}()
		ep.serve(ctx, reply, req.Data(), h.Get(timeoutHeader), h.Get(requestIDHeader))
	}()
}

// serve runs the handler under parent and replies.
func (ep *endpoint) serve(parent context.Context, reply string, data []byte, timeout, rid string) {
	start := time.Now()
	v, err := ep.call(parent, data, timeout, rid)
	var body []byte
	if err == nil {
		body, err = ep.encode(v)
	}
	// The figures are counted before the reply goes out, so a caller that
	// has its answer sees them in $SRV.STATS.
	ep.mu.Lock()
	ep.stats.InFlight--
	ep.stats.Requests++
	ep.stats.ProcessingTime += time.Since(start)
	if err != nil {
		ep.stats.Errors++
		ep.stats.LastError = err.Error()
	}
	ep.mu.Unlock()
	if err != nil {
		e := ep.mapError(err)
		ep.b.log.Debug("request failed", "subject", ep.subject, "request_id", rid, "code", e.Code, "err", e.Message)
		ep.respondError(reply, e, false)
		return
	}
	ep.b.log.Debug("request served", "subject", ep.subject, "request_id", rid)
	if perr := ep.b.conn.Load().Publish(reply, body); perr != nil {
		ep.b.log.Warn("reply failed", "subject", ep.subject, "request_id", rid, "err", perr)
	}
}

// call runs the handler under parent (which the bus's closing or the
// caller's cancel ends) with its caller's deadline (timeout, the header's
// value; the bus's RequestTimeout without one) and request id, turning a
// panic into an error.
func (ep *endpoint) call(parent context.Context, data []byte, timeout, rid string) (v any, err error) {
	d, ok := callerTimeout(timeout)
	if !ok {
		d = ep.b.timeout
	}
	ctx, cancel := context.WithTimeout(parent, d)
	defer cancel()
	if rid != "" && SaneRequestID(rid) {
		ctx = WithRequestID(ctx, rid)
	}
	defer func() {
		if p := recover(); p != nil {
			ep.b.log.Error("handler panicked", "subject", ep.subject, "request_id", rid, "panic", p, "stack", string(debug.Stack()))
			v, err = nil, Errorf(codes.Internal, "bus: %s: the handler panicked: %v", ep.subject, p)
		}
	}()
	v, err = ep.h(ctx, data)
	if err != nil && ctx.Err() != nil && !errors.As(err, new(*Error)) {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			err = Errorf(codes.Timeout, "bus: %s ran past its %s deadline", ep.subject, d)
		case errors.Is(err, context.Canceled) && errors.Is(context.Cause(ctx), ErrCallerCanceled):
			err = Errorf(codes.Timeout, "bus: %s: the caller canceled the request", ep.subject)
		case errors.Is(err, context.Canceled):
			err = Errorf(codes.Unavailable, "bus: %s: the node is shutting down", ep.subject)
		}
	}
	return v, err
}

func (ep *endpoint) encode(v any) ([]byte, error) {
	if v == nil {
		return []byte("{}"), nil
	}
	body, err := json.Marshal(v)
	if err != nil {
		return nil, Errorf(codes.Internal, "bus: %s: encoding the reply: %v", ep.subject, err)
	}
	if max := ep.b.MaxPayload(); int64(len(body)) > max {
		return nil, Errorf(codes.TooLarge, "bus: %s: the reply is %d bytes, over the bus's %d-byte message cap", ep.subject, len(body), max)
	}
	return body, nil
}

func (ep *endpoint) mapError(err error) *Error {
	e := AsError(err)
	if e.Code == "" {
		e = &Error{Code: codes.Internal, Message: e.Message, Errors: e.Errors}
	}
	return e
}

// notRunHeader marks an error reply sent without running the handler (the
// bus refused the request), so that the caller may send it again whatever
// the verb.
const notRunHeader = "Ron-Not-Run"

// respondError sends e as a micro error: the code and message in the
// Nats-Service-Error-Code and Nats-Service-Error headers, the JSON of e as
// the body; notRun says the handler did not run.
func (ep *endpoint) respondError(reply string, e *Error, notRun bool) {
	max := ep.b.MaxPayload()
	body, err := json.Marshal(e)
	if err != nil || int64(len(body)) > max/2 {
		// Errors is not valid JSON, or all is too big: keep what fits.
		e = &Error{Code: e.Code, Message: truncate(e.Message, maxMessage), Retryable: e.Retryable}
		body, _ = json.Marshal(e)
	}
	desc := strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, truncate(e.Message, maxMessage))
	if desc == "" {
		desc = string(e.Code)
	}
	msg := &nats.Msg{Subject: reply, Data: body, Header: nats.Header{
		micro.ErrorHeader:     []string{desc},
		micro.ErrorCodeHeader: []string{string(e.Code)},
	}}
	if notRun {
		msg.Header.Set(notRunHeader, "true")
	}
	if err := ep.b.conn.Load().PublishMsg(msg); err != nil {
		ep.b.log.Warn("error reply failed", "subject", ep.subject, "err", err)
	}
}

// maxMessage caps an error message that had to be shortened, and the copy
// of every message in the error header.
const maxMessage = 4096

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
