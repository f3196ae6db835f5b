package maptld

import (
	"errors"

	ron "github.com/ronhost/ronhost/sdk-wasm"
)

// Split implements ron.Plugin. The amount is first divided into four parts
// by the basis points of [map.split] with ron.PartitionBPS: creators_bps,
// operators_bps, moderation_bps and royalty_bps (when no server with a
// valid payout address served bytes, the operators' basis points go to the
// creators). Then the creators' part is divided by their shares
// (ron.SplitBPS), the operators' part pro rata by bytes served
// (ron.SplitWeighted), the moderation part goes to ModerationPool and the
// royalty part to royalty_payout. Every step uses the SDK's remainder rule
// (largest remainder, ties to the smaller payee then role), so the result
// is exact and independent of the order of the servers.
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

// split divides amount for a normalized table.
func split(n Normalized, amount uint64, servers []ron.Server) ([]ron.Allocation, error) {
	var ops []ron.Weight
	for _, s := range servers {
		if s.Bytes > 0 && ron.ValidPayout(s.Payout) {
			ops = append(ops, ron.Weight{Payee: s.Payout, Role: RoleOperator, Weight: s.Bytes})
		}
	}
	sp := n.Split
	creatorsBPS, operatorsBPS := sp.CreatorsBPS, sp.OperatorsBPS
	if len(ops) == 0 {
		creatorsBPS, operatorsBPS = creatorsBPS+operatorsBPS, 0
	}
	const (
		partCreators   = 0
		partOperators  = 1
		partModeration = 2
		partRoyalty    = 3
	)
	parts, err := ron.PartitionBPS(amount, []uint64{creatorsBPS, operatorsBPS, sp.ModerationBPS, sp.RoyaltyBPS})
	if err != nil {
		return nil, ron.Reject("map.split", CodeSum, err.Error())
	}
	var out []ron.Allocation
	if a := parts[partCreators]; a > 0 {
		shares := make([]ron.Share, len(n.Creators))
		for i, c := range n.Creators {
			shares[i] = ron.Share{Payee: c.Payout, Role: RoleCreator, BPS: c.Share}
		}
		cs, err := ron.SplitBPS(a, shares)
		if err != nil {
			return nil, ron.Reject("map.creators", CodeSum, err.Error())
		}
		out = append(out, cs...)
	}
	if a := parts[partOperators]; a > 0 {
		os, err := ron.SplitWeighted(a, ops)
		if errors.Is(err, ron.ErrWeightOverflow) {
			return nil, ron.Reject("usage.servers", ron.CodeRange, "the servers' bytes total more than 2^64-1")
		}
		if err != nil {
			return nil, ron.Reject("usage.servers", ron.CodeInvalid, err.Error())
		}
		out = append(out, os...)
	}
	if a := parts[partModeration]; a > 0 {
		out = append(out, ron.Allocation{Payee: ModerationPool, Role: RoleModeration, Amount: a})
	}
	if a := parts[partRoyalty]; a > 0 {
		out = append(out, ron.Allocation{Payee: sp.RoyaltyPayout, Role: RoleRoyalty, Amount: a})
	}
	return out, nil
}
