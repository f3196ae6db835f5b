package node

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/ronhost/ronhost/bus"
	"github.com/ronhost/ronhost/core/cid"
	"github.com/ronhost/ronhost/core/gateway"
	"github.com/ronhost/ronhost/core/token"
)

// backend is the gateway's view of the node's roles: every call goes over
// the bus, so the gateway works the same whether the roles run in this
// process or in others.
type backend struct{ n *Node }

func (b backend) req(ctx context.Context, role, verb string, in, out any) error {
	return b.n.bus.Request(ctx, role, verb, in, out)
}

func (b backend) Lookup(ctx context.Context, hash cid.CID) (gateway.Entry, error) {
	var e gateway.Entry
	err := b.req(ctx, "index", "lookup", map[string]any{"hash": hash}, &e)
	if err == nil {
		if why := b.n.blockedTLD(e.TLD); why != "" {
			return e, bus.Errorf(bus.CodeUnavailable, "%s", why)
		}
	}
	return e, err
}

func (b backend) Publish(ctx context.Context, r gateway.PublishRequest) (gateway.Published, error) {
	var req publishReq
	req.Doc = r.Doc
	req.Payload.CID, req.Payload.Size = r.Payload.CID, r.Payload.Size
	req.Filename, req.MediaType = r.Filename, r.MediaType
	var p gateway.Published
	if err := b.req(ctx, "index", "publish", req, &p); err != nil {
		return p, err
	}
	return p, nil
}

func (b backend) Resolve(ctx context.Context, e gateway.Entry, path string) (gateway.Resolved, error) {
	var r gateway.Resolved
	err := b.req(ctx, "plugins", "resolve", map[string]any{"manifest": e.Manifest, "path": path}, &r)
	return r, err
}

func (b backend) Name(ctx context.Context, name string) (json.RawMessage, error) {
	var rec json.RawMessage
	err := b.req(ctx, "index", "name_get", map[string]string{"name": name}, &rec)
	return rec, err
}

func (b backend) SetName(ctx context.Context, record json.RawMessage) (json.RawMessage, error) {
	var out json.RawMessage
	err := b.req(ctx, "index", "name_set", map[string]any{"record": record}, &out)
	return out, err
}

func (b backend) Meter(ctx context.Context, a gateway.Access) error {
	if a.Bytes < 0 {
		a.Bytes = 0
	}
	return b.req(ctx, "ledger", "meter", meterReq{Manifest: a.Manifest, TLD: a.TLD, Price: a.Price,
		Node: b.n.id, Payout: b.n.payout, Bytes: uint64(a.Bytes)}, nil)
}

func (b backend) Payouts(ctx context.Context) (any, error) {
	var out struct {
		Balances json.RawMessage `json:"balances"`
		Epochs   json.RawMessage `json:"epochs"`
	}
	if err := b.req(ctx, "ledger", "balances", struct{}{}, &out); err != nil {
		return nil, err
	}
	if err := b.req(ctx, "ledger", "epochs", struct{}{}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func (b backend) Settle(ctx context.Context) (any, error) {
	// Settling runs a plugin per manifest: give it more than a request's time.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	var out json.RawMessage
	err := b.req(ctx, "ledger", "settle", struct{}{}, &out)
	return out, err
}

// authorizer checks capability tokens against the node's root key.
type authorizer struct {
	key     token.Key
	revoked *token.Revocations
	now     func() time.Time
}

func (a authorizer) Authorize(r *http.Request) (int64, error) {
	t, err := token.FromHTTP(r)
	if err != nil {
		return 0, bus.Errorf(bus.CodeUnauthorized, "a capability token is required (Authorization: Bearer <token>, from ronhost token mint): %v", err)
	}
	now := a.now()
	err = a.key.Verify(t, token.Request{Method: r.Method, Path: r.URL.Path, Bytes: r.ContentLength, Now: now})
	if err == nil && a.revoked != nil {
		err = a.revoked.Check(t, now)
	}
	if err != nil {
		code := bus.CodeForbidden
		if errors.Is(err, token.ErrMalformed) || errors.Is(err, token.ErrBadSignature) || errors.Is(err, token.ErrExpired) ||
			errors.Is(err, token.ErrRevoked) {
			code = bus.CodeUnauthorized
		}
		return 0, bus.Errorf(code, "%v", err)
	}
	if m, ok := t.MaxBytes(); ok {
		return m, nil
	}
	return -1, nil
}
