package indexsvc

import (
	"context"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/core/index"
	"github.com/ronhost/ronhost/internal/core/names"
)

// Endpoints are the index role's verbs over x, emitting events with emit
// (which logs its own failures).
func Endpoints(x *index.Index, emit func(kind string, v any)) []bus.Endpoint {
	return []bus.Endpoint{
		bus.Handle(contract.IndexPublish, func(ctx context.Context, r contract.PublishReq) (contract.Published, error) {
			e, err := x.Publish(ctx, index.Request{Manifest: []byte(r.Manifest), Doc: r.Doc, Payload: r.Payload.CID,
				Size: r.Payload.Size, Filename: r.Filename, MediaType: r.MediaType})
			if err != nil {
				return contract.Published{}, err
			}
			p := contract.Published{Address: e.Address, Manifest: e.Manifest, TLD: e.TLD, Payload: e.Payload, Size: e.Size}
			emit(bus.KindManifestPublished, bus.ManifestPublished{Address: p.Address, Manifest: p.Manifest.String(),
				TLD: p.TLD, Payload: p.Payload.String(), Size: p.Size})
			return p, nil
		}),
		bus.Handle(contract.IndexLookup, func(ctx context.Context, r contract.LookupReq) (contract.Entry, error) {
			return x.Lookup(ctx, r.Hash)
		}),
		bus.Handle(contract.IndexAdopt, func(ctx context.Context, r contract.LookupReq) (contract.Entry, error) {
			return x.Adopt(ctx, r.Hash)
		}),
		bus.Handle(contract.IndexList, func(ctx context.Context, r contract.ListReq) (contract.Entries, error) {
			es, err := x.List(ctx, r.TLD, r.Limit)
			return contract.Entries{Entries: es}, err
		}),
		bus.Handle(contract.IndexNameSet, func(ctx context.Context, r contract.NameSetReq) (contract.NameSet, error) {
			rec, err := names.ParseRecord(r.Record)
			if err != nil {
				return contract.NameSet{}, err
			}
			if err := x.Names().Put(ctx, rec, time.Now()); err != nil {
				return contract.NameSet{}, err
			}
			emit(bus.KindNameUpdated, bus.NameUpdated{Name: rec.Name, Address: rec.Address, Seq: rec.Seq})
			return contract.NameSet{Name: rec.Name, Seq: rec.Seq}, nil
		}),
		bus.Handle(contract.IndexNameGet, func(ctx context.Context, r contract.NameGetReq) (contract.NameRecord, error) {
			rec, err := x.Names().Get(ctx, r.Name)
			return contract.NameRecord(rec), err
		}),
	}
}
