package node

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/ronhost/ronhost/bus"
	"github.com/ronhost/ronhost/bus/contract"
	"github.com/ronhost/ronhost/core/cid"
	"github.com/ronhost/ronhost/core/index"
	"github.com/ronhost/ronhost/core/ledger"
	"github.com/ronhost/ronhost/core/manifest"
	"github.com/ronhost/ronhost/core/names"
	"github.com/ronhost/ronhost/core/store"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/plugins"
)

// The roles' services on the bus. Each handler decodes its request, calls
// the role's package and maps that package's errors to the bus's codes
// (roleError); docs/BUS.md is the contract.

func (n *Node) storeService() []bus.Endpoint {
	return append([]bus.Endpoint{
		bus.Handle(contract.StoreInfo, func(ctx context.Context, r contract.CID) (contract.ObjectInfo, error) {
			o, err := n.store.Info(ctx, r.CID)
			if err != nil {
				return contract.ObjectInfo{}, roleError(err)
			}
			return contract.ObjectInfo{CID: o.CID, Size: o.Size, Inline: o.Inline, Pinned: o.Pinned}, nil
		}),
		bus.Handle(contract.StoreStat, func(ctx context.Context, _ contract.Empty) (contract.StoreUsage, error) {
			u, err := n.store.Stat(ctx)
			return contract.StoreUsage(u), roleError(err)
		}),
		bus.Handle(contract.StorePin, func(ctx context.Context, r contract.CID) (contract.Empty, error) {
			if err := n.store.Pin(ctx, r.CID); err != nil {
				return contract.Empty{}, roleError(err)
			}
			n.provideRoots(ctx, r.CID)
			return contract.Empty{}, nil
		}),
		bus.Handle(contract.StoreUnpin, func(ctx context.Context, r contract.CID) (contract.Empty, error) {
			return contract.Empty{}, roleError(n.store.Unpin(ctx, r.CID))
		}),
		bus.Handle(contract.StoreGC, func(ctx context.Context, _ contract.Empty) (contract.GCResult, error) {
			res, err := n.store.GC(ctx)
			return contract.GCResult(res), roleError(err)
		}),
		bus.Handle(contract.StoreScrub, func(ctx context.Context, r contract.ScrubReq) (contract.ScrubReport, error) {
			rep, err := n.store.Scrub(ctx, store.ScrubOptions{Repair: r.Repair})
			if err != nil {
				return contract.ScrubReport{}, roleError(err)
			}
			out := contract.ScrubReport{Objects: rep.Objects, Bytes: rep.Bytes, Damage: []contract.Damage{}}
			for _, d := range rep.Damage {
				out.Damage = append(out.Damage, contract.Damage(d))
			}
			return out, nil
		}),
	}, n.macroStoreVerbs()...)
}

func (n *Node) indexService() []bus.Endpoint {
	return []bus.Endpoint{
		bus.Handle(contract.IndexPublish, func(ctx context.Context, r contract.PublishReq) (contract.Published, error) {
			e, err := n.index.Publish(ctx, index.Request{Manifest: []byte(r.Manifest), Doc: r.Doc, Payload: r.Payload.CID,
				Size: r.Payload.Size, Filename: r.Filename, MediaType: r.MediaType})
			if err != nil {
				return contract.Published{}, roleError(err)
			}
			p := contract.Published{Address: e.Address, Manifest: e.Manifest, TLD: e.TLD, Payload: e.Payload, Size: e.Size}
			n.emit(bus.KindManifestPublished, bus.ManifestPublished{Address: p.Address, Manifest: p.Manifest.String(),
				TLD: p.TLD, Payload: p.Payload.String(), Size: p.Size})
			return p, nil
		}),
		bus.Handle(contract.IndexLookup, func(ctx context.Context, r contract.LookupReq) (contract.Entry, error) {
			e, err := n.index.Lookup(ctx, r.Hash)
			return contract.Entry(e), roleError(err)
		}),
		bus.Handle(contract.IndexAdopt, func(ctx context.Context, r contract.LookupReq) (contract.Entry, error) {
			e, err := n.index.Adopt(ctx, r.Hash)
			return contract.Entry(e), roleError(err)
		}),
		bus.Handle(contract.IndexList, func(ctx context.Context, r contract.ListReq) (contract.Entries, error) {
			es, err := n.index.List(ctx, r.TLD, r.Limit)
			out := contract.Entries{Entries: make([]contract.Entry, 0, len(es))}
			for _, e := range es {
				out.Entries = append(out.Entries, contract.Entry(e))
			}
			return out, roleError(err)
		}),
		bus.Handle(contract.IndexNameSet, func(ctx context.Context, r contract.NameSetReq) (contract.NameSet, error) {
			rec, err := names.ParseRecord(r.Record)
			if err != nil {
				return contract.NameSet{}, roleError(err)
			}
			if err := n.index.Names().Put(ctx, rec, time.Now()); err != nil {
				return contract.NameSet{}, roleError(err)
			}
			n.emit(bus.KindNameUpdated, bus.NameUpdated{Name: rec.Name, Address: rec.Address, Seq: rec.Seq})
			return contract.NameSet{Name: rec.Name, Seq: rec.Seq}, nil
		}),
		bus.Handle(contract.IndexNameGet, func(ctx context.Context, r contract.NameGetReq) (contract.NameRecord, error) {
			rec, err := n.index.Names().Get(ctx, r.Name)
			return contract.NameRecord(rec), roleError(err)
		}),
	}
}

// manifestOf reads a stored canonical manifest, checked against its CID.
func (n *Node) manifestOf(ctx context.Context, c cid.CID) (*manifest.Manifest, error) {
	info, err := n.objs.Info(ctx, c)
	if err != nil {
		return nil, err
	}
	if info.Size > manifest.MaxSize {
		return nil, bus.Errorf(codes.Invalid, "%s is not a manifest", c)
	}
	rc, err := n.objs.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, manifest.MaxSize+1))
	if err != nil {
		return nil, err
	}
	// Over the bus (store.read), the bytes are the store role's word:
	// they must be the object c names.
	if cid.Sum(b) != c {
		return nil, bus.Errorf(codes.Internal, "the store answered for the manifest %s bytes that do not hash to it", c)
	}
	return manifest.ParseJSON(b)
}

func (n *Node) pluginsService() []bus.Endpoint {
	return []bus.Endpoint{
		bus.Handle(contract.PluginsList, func(ctx context.Context, _ contract.Empty) (contract.PluginList, error) {
			ps, err := json.Marshal(n.Plugins())
			return contract.PluginList{Plugins: ps}, err
		}),
		bus.Handle(contract.PluginsValidate, func(ctx context.Context, r contract.ValidateReq) (contract.Validated, error) {
			if r.PayloadSize < 0 {
				return contract.Validated{}, bus.Errorf(codes.Invalid, "payload_size is negative")
			}
			v, err := n.router.Validate(ctx, r.TLD, r.Manifest, uint64(r.PayloadSize))
			if err != nil {
				return contract.Validated{}, n.pluginError(r.TLD, err)
			}
			return contract.Validated(*v), nil
		}),
		bus.Handle(contract.PluginsResolve, func(ctx context.Context, r contract.ResolveReq) (contract.Resolved, error) {
			m, err := n.manifestOf(ctx, r.Manifest)
			if err != nil {
				return contract.Resolved{}, roleError(err)
			}
			obj := &objectReader{ctx: ctx, s: n.objs, c: m.Payload.CID, size: m.Payload.Size}
			res, err := n.router.Resolve(ctx, m.Meta.TLD, plugins.ResolveInput{Manifest: m.Canonical(),
				Path: r.Path, PayloadSize: uint64(m.Payload.Size)}, obj)
			if err != nil {
				return contract.Resolved{}, n.pluginError(m.Meta.TLD, err)
			}
			return contract.Resolved{Status: res.Status, ContentType: res.ContentType, Offset: int64(res.Offset), Length: int64(res.Length)}, nil
		}),
		bus.Handle(contract.PluginsSplit, func(ctx context.Context, r contract.SplitReq) (contract.Allocations, error) {
			m, err := n.manifestOf(ctx, r.Manifest)
			if err != nil {
				return contract.Allocations{}, roleError(err)
			}
			u := plugins.Usage{Requests: r.Usage.Requests, Bytes: r.Usage.Bytes, Servers: make([]plugins.Server, 0, len(r.Usage.Servers))}
			for _, s := range r.Usage.Servers {
				u.Servers = append(u.Servers, plugins.Server(s))
			}
			allocs, err := n.router.Split(ctx, m.Meta.TLD, plugins.SplitInput{Manifest: m.Canonical(),
				Epoch: r.Epoch, Amount: r.Amount, Usage: u})
			if err != nil {
				return contract.Allocations{}, n.pluginError(m.Meta.TLD, err)
			}
			out := contract.Allocations{Allocations: make([]contract.Allocation, 0, len(allocs))}
			for _, a := range allocs {
				out.Allocations = append(out.Allocations, contract.Allocation(a))
			}
			return out, nil
		}),
	}
}

// objectReader gives a plugin's ron_resolve random access to a payload,
// verified by the store.
type objectReader struct {
	ctx  context.Context
	s    objectStore
	c    cid.CID
	size int64
}

func (o *objectReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= o.size {
		return 0, io.EOF
	}
	n := int64(len(p))
	if off+n > o.size {
		n = o.size - off
	}
	rc, err := o.s.ReadRange(o.ctx, o.c, off, n)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	got, err := io.ReadFull(rc, p[:n])
	if err == nil && got < len(p) {
		err = io.EOF
	}
	return got, err
}

func (n *Node) ledgerService() []bus.Endpoint {
	return []bus.Endpoint{
		bus.Handle(contract.LedgerMeter, func(ctx context.Context, r contract.MeterReq) (contract.MeterReply, error) {
			epoch, err := n.ledger.Meter(ctx, ledger.Access{Manifest: r.Manifest, TLD: r.TLD, Price: r.Price,
				Node: r.Node, Payout: r.Payout, Bytes: r.Bytes})
			if err != nil {
				return contract.MeterReply{}, roleError(err)
			}
			return contract.MeterReply{Epoch: epoch}, nil
		}),
		bus.Handle(contract.LedgerSettle, func(ctx context.Context, _ contract.Empty) (contract.Settlements, error) {
			s, err := n.settle(ctx)
			out := contract.Settlements{Settlements: make([]contract.Settlement, 0, len(s))}
			for _, e := range s {
				c := contract.Settlement{Epoch: e.Epoch, Manifests: e.Manifests, Settled: e.Settled,
					AlreadySettled: e.AlreadySettled, Amount: e.Amount, Failed: make([]contract.Failure, 0, len(e.Failed))}
				for _, f := range e.Failed {
					c.Failed = append(c.Failed, contract.Failure(f))
				}
				out.Settlements = append(out.Settlements, c)
			}
			return out, roleError(err)
		}),
		bus.Handle(contract.LedgerBalances, func(ctx context.Context, _ contract.Empty) (contract.Balances, error) {
			b, err := n.ledger.Balances(ctx)
			out := contract.Balances{Balances: make([]contract.Balance, 0, len(b))}
			for _, x := range b {
				out.Balances = append(out.Balances, contract.Balance(x))
			}
			return out, roleError(err)
		}),
		bus.Handle(contract.LedgerEpochs, func(ctx context.Context, _ contract.Empty) (contract.Epochs, error) {
			e, err := n.ledger.Epochs(ctx)
			out := contract.Epochs{Epochs: make([]contract.EpochInfo, 0, len(e))}
			for _, x := range e {
				out.Epochs = append(out.Epochs, contract.EpochInfo(x))
			}
			return out, roleError(err)
		}),
	}
}

// settle seals the open epoch and settles every sealed epoch not yet fully
// settled, each manifest through its TLD's plugin.
func (n *Node) settle(ctx context.Context) ([]ledger.Settlement, error) {
	n.settleMu.Lock()
	defer n.settleMu.Unlock()
	if _, err := n.ledger.Seal(ctx); err != nil {
		return nil, err
	}
	return n.settleSealed(ctx)
}

func (n *Node) settleSealed(ctx context.Context) ([]ledger.Settlement, error) {
	epochs, err := n.ledger.Epochs(ctx)
	if err != nil {
		return nil, err
	}
	out := []ledger.Settlement{}
	for _, e := range epochs {
		if !e.Sealed || e.Settled == e.Manifests {
			continue
		}
		s, err := n.ledger.Settle(ctx, e.Epoch, busSplitter{n.bus})
		if err != nil {
			return out, err
		}
		out = append(out, s)
		failed := make([]string, 0, len(s.Failed))
		for _, f := range s.Failed {
			failed = append(failed, f.Manifest.String())
		}
		n.emit(bus.KindEpochSettled, bus.EpochSettled{Epoch: s.Epoch, Manifests: s.Manifests, Amount: s.Amount, Failed: failed})
		if len(s.Failed) > 0 {
			n.log.Warn("some manifests could not be settled; they will be retried", "epoch", s.Epoch, "failed", len(s.Failed))
		}
	}
	return out, nil
}

// busSplitter is the ledger's Splitter: the plugins role's split verb.
type busSplitter struct{ b *bus.Bus }

func (s busSplitter) Split(ctx context.Context, m cid.CID, tld, epoch string, amount uint64, u ledger.Usage) ([]ledger.Allocation, error) {
	cu := contract.Usage{Requests: u.Requests, Bytes: u.Bytes, Servers: make([]contract.Server, 0, len(u.Servers))}
	for _, s := range u.Servers {
		cu.Servers = append(cu.Servers, contract.Server(s))
	}
	resp, err := bus.Call(ctx, s.b, contract.PluginsSplit, contract.SplitReq{Manifest: m, Epoch: epoch, Amount: amount, Usage: cu})
	out := make([]ledger.Allocation, 0, len(resp.Allocations))
	for _, a := range resp.Allocations {
		out = append(out, ledger.Allocation(a))
	}
	return out, err
}

// pluginError maps the plugin host's errors, and reports faults on the bus.
func (n *Node) pluginError(tld string, err error) error {
	var rej *plugins.RejectedError
	var fault *plugins.FaultError
	switch {
	case errors.As(err, &rej):
		b, _ := json.Marshal(rej.Errors)
		e := bus.Errorf(codes.Rejected, "the .%s plugin rejected the manifest", tld)
		e.Errors = b
		return e
	case errors.As(err, &fault):
		if fault.Since.IsZero() { // a call that ran and faulted, not one refused for marked content
			n.emit(bus.KindPluginFaulted, bus.PluginFaulted{TLD: tld, Plugin: fault.Plugin, Entry: string(fault.Entry),
				Kind: string(fault.Kind), Message: fault.Error()})
		}
		if fault.Content {
			return bus.Errorf(codes.ContentFault, "%v", err)
		}
		return bus.Errorf(codes.PluginFault, "%v", err)
	case errors.Is(err, plugins.ErrUnknownTLD):
		if why := n.blockedTLD(tld); why != "" {
			return bus.Errorf(codes.Unavailable, "%s", why)
		}
		return bus.Errorf(codes.NotFound, "no plugin owns .%s on this node", tld)
	case errors.Is(err, plugins.ErrNotSupported):
		return bus.Errorf(codes.NotFound, "the .%s plugin serves no sub-paths", tld)
	case errors.Is(err, plugins.ErrQuarantined), errors.Is(err, plugins.ErrClosed):
		return bus.Errorf(codes.Unavailable, "%v", err)
	case errors.Is(err, plugins.ErrInputTooLarge):
		return bus.Errorf(codes.TooLarge, "%v", err)
	}
	return roleError(err)
}

// roleError is the bus's error of a role's: a *bus.Error as it is, else
// with the code of the sentinel it wraps (bus.AsError, codes.Of), and a
// manifest's field errors.
func roleError(err error) error {
	if err == nil {
		return nil
	}
	return bus.AsError(err)
}

// objects is the store as the gateway and the index use it: every commit
// of a new object is reported on the bus.
type objects struct {
	*store.Store
	n *Node
}

// Put stores an object; a pinned one (a published manifest) is provided.
func (o objects) Put(ctx context.Context, r io.Reader, opts store.PutOptions) (store.PutResult, error) {
	res, err := o.Store.Put(ctx, r, opts)
	if err == nil && !res.Deduplicated {
		o.n.emit(bus.KindObjectStored, bus.ObjectStored{CID: res.CID.String(), Size: res.Size, Inline: res.Inline})
	}
	if err == nil && opts.Pin {
		o.n.provideRoots(ctx, res.CID)
	}
	return res, err
}

// Info, ReadRange and Get fetch an object the store lacks from the overlay
// (fetch.go) when the node is configured to.
func (o objects) Info(ctx context.Context, c cid.CID) (store.Object, error) {
	info, err := o.Store.Info(ctx, c)
	if errors.Is(err, store.ErrNotFound) && o.n.fetchOn() {
		return o.n.remoteInfo(ctx, c)
	}
	return info, err
}

func (o objects) ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error) {
	rc, err := o.Store.ReadRange(ctx, c, off, length)
	if errors.Is(err, store.ErrNotFound) && o.n.fetchOn() {
		return o.n.remoteRange(ctx, c, off, length)
	}
	return rc, err
}

// Outboard returns c's outboard, from the fetch that brings it when the
// store lacks it.
func (o objects) Outboard(ctx context.Context, c cid.CID) (int64, []byte, error) {
	size, ob, err := o.Store.Outboard(ctx, c)
	if errors.Is(err, store.ErrNotFound) && o.n.fetchOn() {
		return o.n.remoteOutboard(ctx, c)
	}
	return size, ob, err
}

func (o objects) Get(ctx context.Context, c cid.CID) (io.ReadCloser, error) {
	return o.ReadRange(ctx, c, 0, -1)
}

// BusAPIVersion is the version of the roles' contract on the bus
// (docs/BUS.md), announced by every service through $SRV.
const BusAPIVersion = "1.0.0"
