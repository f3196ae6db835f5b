package node

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/gateway"
	"github.com/ronhost/ronhost/internal/core/token"
)

// backend is the gateway's view of the node's roles: every call goes over
// the bus, so the gateway works the same whether the roles run in this
// process or in others.
type backend struct{ n *Node }

func (b backend) Lookup(ctx context.Context, hash cid.CID) (gateway.Entry, error) {
	e, err := bus.Call(ctx, b.n.bus, contract.IndexLookup, contract.LookupReq{Hash: hash})
	if codes.Of(err) == codes.NotFound {
		// Not indexed: a manifest stored offline or on a peer is
		// adopted, explicitly (a lookup only reads).
		e, err = bus.Call(ctx, b.n.bus, contract.IndexAdopt, contract.LookupReq{Hash: hash})
	}
	ge := gateway.Entry{Address: e.Address, Manifest: e.Manifest, TLD: e.TLD, Payload: e.Payload, Size: e.Size,
		MediaType: e.MediaType, Price: e.Price, Doc: e.Doc}
	if err == nil {
		if why := b.n.blockedTLD(e.TLD); why != "" {
			return ge, bus.Errorf(codes.Unavailable, "%s", why)
		}
	}
	return ge, err
}

func (b backend) Publish(ctx context.Context, r gateway.PublishRequest) (gateway.Published, error) {
	p, err := bus.Call(ctx, b.n.bus, contract.IndexPublish, contract.PublishReq{Doc: r.Doc,
		Payload: contract.Payload{CID: r.Payload.CID, Size: r.Payload.Size}, Filename: r.Filename, MediaType: r.MediaType})
	return p, err
}

func (b backend) Resolve(ctx context.Context, e gateway.Entry, path string) (gateway.Resolved, error) {
	r, err := bus.Call(ctx, b.n.bus, contract.PluginsResolve, contract.ResolveReq{Manifest: e.Manifest, Path: path})
	return r, err
}

func (b backend) Name(ctx context.Context, name string) (json.RawMessage, error) {
	rec, err := bus.Call(ctx, b.n.bus, contract.IndexNameGet, contract.NameGetReq{Name: name})
	if err != nil {
		return nil, err
	}
	return json.Marshal(rec)
}

func (b backend) SetName(ctx context.Context, record json.RawMessage) (json.RawMessage, error) {
	out, err := bus.Call(ctx, b.n.bus, contract.IndexNameSet, contract.NameSetReq{Record: record})
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

func (b backend) Meter(ctx context.Context, a gateway.Access) error {
	if a.Bytes < 0 {
		a.Bytes = 0
	}
	_, err := bus.Call(ctx, b.n.bus, contract.LedgerMeter, contract.MeterReq{Manifest: a.Manifest, TLD: a.TLD, Price: a.Price,
		Node: b.n.id, Payout: b.n.payout, Bytes: uint64(a.Bytes)})
	return err
}

func (b backend) Payouts(ctx context.Context) (any, error) {
	bal, err := bus.Call(ctx, b.n.bus, contract.LedgerBalances, contract.Empty{})
	if err != nil {
		return nil, err
	}
	ep, err := bus.Call(ctx, b.n.bus, contract.LedgerEpochs, contract.Empty{})
	if err != nil {
		return nil, err
	}
	return struct {
		contract.Balances
		contract.Epochs
	}{bal, ep}, nil
}

func (b backend) Settle(ctx context.Context) (any, error) {
	// Settling runs a plugin per manifest: give it more than a request's
	// time. The deadline crosses the bus to the ledger's handler.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	return bus.Call(ctx, b.n.bus, contract.LedgerSettle, contract.Empty{})
}

// settleTimeout is the deadline of a settle asked for over HTTP.
const settleTimeout = 5 * time.Minute

// authorizer checks capability tokens against the node's root key.
type authorizer struct {
	key     token.Key
	revoked *token.Revocations
	now     func() time.Time
}

func (a authorizer) Authorize(r *http.Request) (int64, error) {
	t, err := token.FromHTTP(r)
	if err != nil {
		return 0, bus.Errorf(codes.Unauthorized, "a capability token is required (Authorization: Bearer <token>, from ronhost token mint): %v", err)
	}
	now := a.now()
	err = a.key.Verify(t, token.Request{Method: r.Method, Path: r.URL.Path, Bytes: r.ContentLength, Now: now})
	if err == nil && a.revoked != nil {
		err = a.revoked.Check(t, now)
	}
	if err != nil {
		code := codes.Forbidden                  // a token that does not allow this
		if codes.Of(err) == codes.Unauthorized { // one that is no token of this node's
			code = codes.Unauthorized
		}
		return 0, bus.Errorf(code, "%v", err)
	}
	if m, ok := t.MaxBytes(); ok {
		return m, nil
	}
	return -1, nil
}
