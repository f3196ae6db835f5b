package ledgersvc

import (
	"context"
	"log/slog"
	"sync"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/ledger"
)

// Service is the ledger role on a bus.
type Service struct {
	l    *ledger.Ledger
	b    *bus.Bus
	emit func(kind string, v any)
	log  *slog.Logger
	mu   sync.Mutex // one settlement at a time
}

// New returns the ledger role's service over l, calling plugins.split on b
// and emitting events with emit (which logs its own failures).
func New(l *ledger.Ledger, b *bus.Bus, emit func(kind string, v any), log *slog.Logger) *Service {
	return &Service{l: l, b: b, emit: emit, log: log}
}

// Endpoints are the ledger role's verbs.
func (s *Service) Endpoints() []bus.Endpoint {
	return []bus.Endpoint{
		bus.Handle(contract.LedgerMeter, func(ctx context.Context, r contract.MeterReq) (contract.MeterReply, error) {
			epoch, err := s.l.Meter(ctx, ledger.Access{Manifest: r.Manifest, TLD: r.TLD, Price: r.Price,
				Node: r.Node, Payout: r.Payout, Bytes: r.Bytes})
			return contract.MeterReply{Epoch: epoch}, err
		}),
		bus.Handle(contract.LedgerSettle, func(ctx context.Context, _ contract.Empty) (contract.Settlements, error) {
			st, err := s.Settle(ctx)
			out := contract.Settlements{Settlements: make([]contract.Settlement, 0, len(st))}
			for _, e := range st {
				c := contract.Settlement{Epoch: e.Epoch, Manifests: e.Manifests, Settled: e.Settled,
					AlreadySettled: e.AlreadySettled, Amount: e.Amount, Failed: make([]contract.Failure, 0, len(e.Failed))}
				for _, f := range e.Failed {
					c.Failed = append(c.Failed, contract.Failure(f))
				}
				out.Settlements = append(out.Settlements, c)
			}
			return out, err
		}),
		bus.Handle(contract.LedgerBalances, func(ctx context.Context, _ contract.Empty) (contract.Balances, error) {
			b, err := s.l.Balances(ctx)
			out := contract.Balances{Balances: make([]contract.Balance, 0, len(b))}
			for _, x := range b {
				out.Balances = append(out.Balances, contract.Balance(x))
			}
			return out, err
		}),
		bus.Handle(contract.LedgerEpochs, func(ctx context.Context, _ contract.Empty) (contract.Epochs, error) {
			e, err := s.l.Epochs(ctx)
			out := contract.Epochs{Epochs: make([]contract.EpochInfo, 0, len(e))}
			for _, x := range e {
				out.Epochs = append(out.Epochs, contract.EpochInfo(x))
			}
			return out, err
		}),
	}
}

// Settle seals the open epoch and settles every sealed epoch not yet fully
// settled, each manifest through its TLD's plugin.
func (s *Service) Settle(ctx context.Context) ([]ledger.Settlement, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.l.Seal(ctx); err != nil {
		return nil, err
	}
	return s.settleSealed(ctx)
}

// SettleSealed settles the sealed epochs not yet fully settled (those a
// crash left), without sealing the open one.
func (s *Service) SettleSealed(ctx context.Context) ([]ledger.Settlement, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settleSealed(ctx)
}

func (s *Service) settleSealed(ctx context.Context) ([]ledger.Settlement, error) {
	epochs, err := s.l.Epochs(ctx)
	if err != nil {
		return nil, err
	}
	out := []ledger.Settlement{}
	for _, e := range epochs {
		if !e.Sealed || e.Settled == e.Manifests {
			continue
		}
		st, err := s.l.Settle(ctx, e.Epoch, splitter{s.b})
		if err != nil {
			return out, err
		}
		out = append(out, st)
		failed := make([]string, 0, len(st.Failed))
		for _, f := range st.Failed {
			failed = append(failed, f.Manifest.String())
		}
		s.emit(bus.KindEpochSettled, bus.EpochSettled{Epoch: st.Epoch, Manifests: st.Manifests, Amount: st.Amount, Failed: failed})
		if len(st.Failed) > 0 {
			s.log.Warn("some manifests could not be settled; they will be retried", "epoch", st.Epoch, "failed", len(st.Failed))
		}
	}
	return out, nil
}

// splitter is the ledger's Splitter: the plugins role's split verb.
type splitter struct{ b *bus.Bus }

func (s splitter) Split(ctx context.Context, m cid.CID, tld, epoch string, amount uint64, u ledger.Usage) ([]ledger.Allocation, error) {
	cu := contract.Usage{Requests: u.Requests, Bytes: u.Bytes, Servers: make([]contract.Server, 0, len(u.Servers))}
	for _, sv := range u.Servers {
		cu.Servers = append(cu.Servers, contract.Server(sv))
	}
	resp, err := bus.Call(ctx, s.b, contract.PluginsSplit, contract.SplitReq{Manifest: m, Epoch: epoch, Amount: amount, Usage: cu})
	out := make([]ledger.Allocation, 0, len(resp.Allocations))
	for _, a := range resp.Allocations {
		out = append(out, ledger.Allocation(a))
	}
	return out, err
}
