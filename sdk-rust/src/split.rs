//! Exact split helpers: the same results as the Go SDK's (ron.SplitBPS,
//! ron.SplitWeighted, ron.PartitionBPS, ron.Portion, ron.Merge), remainder
//! rule included; sdk-rust's Go test compares them on generated inputs.

use std::collections::BTreeMap;
use std::fmt;

use crate::abi::{Allocation, TOTAL_BPS};

/// Why a split helper refused its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SplitError {
    /// Shares or parts do not total exactly 10000 basis points, or one is
    /// over 10000.
    Shares(String),
    /// The weights total zero: decide yourself where the amount goes then.
    NoWeight,
    /// The weights total more than 2^64-1.
    WeightOverflow,
    /// An empty payee or role.
    EmptyPayee,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitError::Shares(why) => write!(f, "ron: shares must total exactly 10000 basis points: {}", why),
            SplitError::NoWeight => f.write_str("ron: total weight is zero"),
            SplitError::WeightOverflow => f.write_str("ron: total weight overflows uint64"),
            SplitError::EmptyPayee => f.write_str("ron: empty payee or role"),
        }
    }
}

impl std::error::Error for SplitError {}

impl From<SplitError> for crate::errors::Rejection {
    fn from(e: SplitError) -> Self {
        crate::errors::Rejection::invalid(e.to_string())
    }
}

/// A fixed part of an amount in basis points (10000 = 100%).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Share {
    pub payee: String,
    pub role: String,
    pub bps: u64,
}

/// A pro rata claim on an amount, e.g. the bytes a server served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Weight {
    pub payee: String,
    pub role: String,
    pub weight: u64,
}

/// floor(a*b/c) and a*b mod c, exactly (c > 0).
fn mul_div(a: u64, b: u64, c: u64) -> (u64, u64) {
    let p = a as u128 * b as u128;
    ((p / c as u128) as u64, (p % c as u128) as u64)
}

/// floor(amount * bps / 10000), exactly, for any amount; bps over 10000 is
/// treated as 10000. Give `amount - portion(amount, bps)` to the other part
/// so nothing is lost.
pub fn portion(amount: u64, bps: u64) -> u64 {
    if bps >= TOTAL_BPS {
        return amount;
    }
    mul_div(amount, bps, TOTAL_BPS).0
}

/// Divides amount into parts by basis points that total exactly 10000:
/// each part floor(amount * bps / 10000), the units left one each to the
/// largest remainders, ties to the earlier part.
pub fn partition_bps(amount: u64, bps: &[u64]) -> Result<Vec<u64>, SplitError> {
    let mut total = 0u64;
    for (i, &b) in bps.iter().enumerate() {
        if b > TOTAL_BPS {
            return Err(SplitError::Shares(format!("part {} has {}", i, b)));
        }
        total += b;
    }
    if total != TOTAL_BPS {
        return Err(SplitError::Shares(format!("they total {}", total)));
    }
    let mut parts = Vec::with_capacity(bps.len());
    let mut rems = Vec::with_capacity(bps.len());
    let mut paid = 0u64;
    for &b in bps {
        let (q, r) = mul_div(amount, b, TOTAL_BPS);
        parts.push(q);
        rems.push(r);
        paid += q;
    }
    let left = (amount - paid) as usize;
    if left > 0 {
        let mut order: Vec<usize> = (0..bps.len()).collect();
        // A stable sort: ties keep the index order.
        order.sort_by(|&a, &b| rems[b].cmp(&rems[a]));
        for &i in &order[..left] {
            parts[i] += 1;
        }
    }
    Ok(parts)
}

/// Divides amount among shares whose basis points total exactly 10000
/// (shares to the same payee and role are merged first); the remainder rule
/// of [split_weighted].
pub fn split_bps(amount: u64, shares: &[Share]) -> Result<Vec<Allocation>, SplitError> {
    let mut total = 0u64;
    let mut ws = Vec::with_capacity(shares.len());
    for s in shares {
        if s.bps > TOTAL_BPS {
            return Err(SplitError::Shares(format!("{}/{} has {}", s.payee, s.role, s.bps)));
        }
        total += s.bps;
        ws.push(Weight { payee: s.payee.clone(), role: s.role.clone(), weight: s.bps });
    }
    if total != TOTAL_BPS {
        return Err(SplitError::Shares(format!("they total {}", total)));
    }
    split_weighted(amount, &ws)
}

/// Divides amount pro rata by weight, exactly:
///
/// 1. weights to the same (payee, role) are added together;
/// 2. each claim gets floor(amount * weight / total), in 128 bits;
/// 3. the remainder (fewer units than claims) goes one unit each to the
///    claims with the largest fractional parts, ties to the smaller payee,
///    then the smaller role, in byte order.
///
/// The result sums to exactly amount, is sorted by (payee, role) and omits
/// zero amounts.
pub fn split_weighted(amount: u64, weights: &[Weight]) -> Result<Vec<Allocation>, SplitError> {
    let mut claims: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let mut total = 0u64;
    for w in weights {
        if w.payee.is_empty() || w.role.is_empty() {
            return Err(SplitError::EmptyPayee);
        }
        total = total.checked_add(w.weight).ok_or(SplitError::WeightOverflow)?;
        *claims.entry((w.payee.as_str(), w.role.as_str())).or_insert(0) += w.weight;
    }
    if total == 0 {
        return Err(SplitError::NoWeight);
    }
    // BTreeMap iterates in (payee, role) order.
    let mut rows: Vec<(&str, &str, u64, u64)> = Vec::with_capacity(claims.len());
    let mut paid = 0u64;
    for ((payee, role), weight) in claims {
        let (q, r) = mul_div(amount, weight, total);
        rows.push((payee, role, q, r));
        paid += q;
    }
    let left = (amount - paid) as usize;
    if left > 0 {
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by(|&a, &b| rows[b].3.cmp(&rows[a].3));
        for &i in &order[..left] {
            rows[i].2 += 1;
        }
    }
    Ok(rows
        .into_iter()
        .filter(|r| r.2 > 0)
        .map(|(payee, role, amount, _)| Allocation::new(payee, role, amount))
        .collect())
}

/// Adds together allocations to the same (payee, role), drops zero amounts
/// and sorts by (payee, role). Panics if a merged amount overflows u64,
/// which a split summing to a u64 amount cannot do.
pub fn merge(allocs: Vec<Allocation>) -> Vec<Allocation> {
    let mut by: BTreeMap<(String, String), u64> = BTreeMap::new();
    for a in allocs {
        if a.amount == 0 {
            continue;
        }
        let e = by.entry((a.payee, a.role)).or_insert(0);
        *e = e.checked_add(a.amount).expect("ron_plugin: merged allocation overflows u64");
    }
    by.into_iter().map(|((payee, role), amount)| Allocation { payee, role, amount }).collect()
}

/// The total of the allocations; None when it overflows u64.
pub fn sum(allocs: &[Allocation]) -> Option<u64> {
    allocs.iter().try_fold(0u64, |t, a| t.checked_add(a.amount))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(p: &str, r: &str, x: u64) -> Weight {
        Weight { payee: p.into(), role: r.into(), weight: x }
    }

    #[test]
    fn remainder_rule() {
        // 10 split 1:1:1: 3 each, the unit left to the smallest payee.
        let got = split_weighted(10, &[w("c", "r", 1), w("a", "r", 1), w("b", "r", 1)]).unwrap();
        assert_eq!(got, vec![Allocation::new("a", "r", 4), Allocation::new("b", "r", 3), Allocation::new("c", "r", 3)]);
        // Largest amounts never overflow.
        let max = crate::abi::MAX_AMOUNT;
        let got = split_weighted(max, &[w("a", "r", u64::MAX / 2), w("b", "r", u64::MAX / 2)]).unwrap();
        assert_eq!(sum(&got), Some(max));
        assert_eq!(split_weighted(1, &[w("a", "r", u64::MAX), w("b", "r", 1)]), Err(SplitError::WeightOverflow));
        assert_eq!(split_weighted(1, &[w("a", "r", 0)]), Err(SplitError::NoWeight));
        assert_eq!(split_weighted(1, &[w("", "r", 1)]), Err(SplitError::EmptyPayee));
        assert_eq!(partition_bps(7, &[3334, 3333, 3333]).unwrap(), vec![3, 2, 2]);
        assert_eq!(partition_bps(7, &[5000, 5001]), Err(SplitError::Shares("they total 10001".into())));
        assert_eq!(portion(1_000_003, 2000), 200_000);
        assert_eq!(portion(5, 20000), 5);
    }
}
