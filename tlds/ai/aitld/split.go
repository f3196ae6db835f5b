package aitld

import (
	"errors"

	ron "github.com/ronhost/ronhost/sdk-wasm"
)

// Split implements ron.Plugin. The amount is first divided into four parts
// by the basis points of [ai.split] with ron.PartitionBPS: creators_bps,
// contributors_bps, compute_bps and moderation_bps (when no eligible compute
// operator has usage in the epoch, the compute basis points go to the
// creators). Then the creators' part is divided by their shares
// (ron.SplitBPS), the contributors' part by their declared weights and the
// compute part by usage (both ron.SplitWeighted), and the moderation part
// goes to ModerationPool.
//
// Compute usage is requests for an inference service and bytes served for a
// model or dataset. When [[ai.providers]] are declared only servers whose
// node is a declared provider count, and they are paid at the provider's
// payout address; otherwise every server with a valid payout address counts
// and is paid at it.
func (Plugin) Split(in ron.SplitInput) ([]ron.Allocation, error) {
	t, err := decodeTable(in.Manifest)
	if err != nil {
		return nil, err
	}
	var errs ron.Errors
	n := normalize(t, &errs)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return split(n, in.Amount, in.Usage.Servers)
}

// computeWeights are the compute operators' claims for the epoch.
func computeWeights(n Normalized, servers []ron.Server) []ron.Weight {
	providers := make(map[string]string, len(n.Providers))
	for _, p := range n.Providers {
		providers[p.Node] = p.Payout
	}
	var ws []ron.Weight
	for _, s := range servers {
		w := s.Bytes
		if n.Kind == KindInference {
			w = s.Requests
		}
		payee := s.Payout
		if len(providers) > 0 {
			payee = providers[s.Node] // "" for a node that is not a provider
		}
		if w > 0 && ron.ValidPayout(payee) {
			ws = append(ws, ron.Weight{Payee: payee, Role: RoleCompute, Weight: w})
		}
	}
	return ws
}

// split divides amount for a normalized table.
func split(n Normalized, amount uint64, servers []ron.Server) ([]ron.Allocation, error) {
	compute := computeWeights(n, servers)
	sp := n.Split
	creatorsBPS, computeBPS := sp.CreatorsBPS, sp.ComputeBPS
	if len(compute) == 0 {
		creatorsBPS, computeBPS = creatorsBPS+computeBPS, 0
	}
	const (
		partCreators     = 0
		partContributors = 1
		partCompute      = 2
		partModeration   = 3
	)
	parts, err := ron.PartitionBPS(amount, []uint64{creatorsBPS, sp.ContributorsBPS, computeBPS, sp.ModerationBPS})
	if err != nil {
		return nil, ron.Reject("ai.split", CodeSum, err.Error())
	}
	var out []ron.Allocation
	if a := parts[partCreators]; a > 0 {
		shares := make([]ron.Share, len(n.Creators))
		for i, c := range n.Creators {
			shares[i] = ron.Share{Payee: c.Payout, Role: RoleCreator, BPS: c.Share}
		}
		cs, err := ron.SplitBPS(a, shares)
		if err != nil {
			return nil, ron.Reject("ai.creators", CodeSum, err.Error())
		}
		out = append(out, cs...)
	}
	if a := parts[partContributors]; a > 0 {
		ws := make([]ron.Weight, len(n.Contributors))
		for i, c := range n.Contributors {
			ws[i] = ron.Weight{Payee: c.Payout, Role: RoleContributor, Weight: c.Weight}
		}
		cs, err := ron.SplitWeighted(a, ws)
		if err != nil {
			return nil, ron.Reject("ai.contributors", ron.CodeInvalid, err.Error())
		}
		out = append(out, cs...)
	}
	if a := parts[partCompute]; a > 0 {
		cs, err := ron.SplitWeighted(a, compute)
		if errors.Is(err, ron.ErrWeightOverflow) {
			return nil, ron.Reject("usage.servers", ron.CodeRange, "the servers' usage totals more than 2^64-1")
		}
		if err != nil {
			return nil, ron.Reject("usage.servers", ron.CodeInvalid, err.Error())
		}
		out = append(out, cs...)
	}
	if a := parts[partModeration]; a > 0 {
		out = append(out, ron.Allocation{Payee: ModerationPool, Role: RoleModeration, Amount: a})
	}
	return out, nil
}
