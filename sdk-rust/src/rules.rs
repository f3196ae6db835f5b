//! Checks of what a manifest declares: payout addresses, CIDs, TLD names,
//! basis-point shares, split tables and licences. The same rules and codes
//! as the Go SDK's ron.ValidPayout, ValidCID, ValidTLD, CheckShares,
//! CheckSplitParts and NormalizeLicense.

use crate::abi::TOTAL_BPS;
use crate::errors::{codes, Errors, FieldError};

/// Whether s is a TLD name: lowercase [a-z0-9-]{1,32}.
pub fn valid_tld(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// Whether s is a payout address, the rule every built-in TLD uses:
/// [a-z0-9][a-z0-9:._-]{2,127}. It does not trim.
pub fn valid_payout(s: &str) -> bool {
    let b = s.as_bytes();
    (3..=128).contains(&b.len())
        && b.iter().enumerate().all(|(i, &c)| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || (i > 0 && matches!(c, b':' | b'.' | b'_' | b'-'))
        })
}

/// Whether s is a content identifier as ronhost writes them: "b3:" and 64
/// lowercase hex digits. It does not trim.
pub fn valid_cid(s: &str) -> bool {
    s.len() == 67 && s.starts_with("b3:") && s.bytes().skip(3).all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// Checks the basis-point shares a manifest declares for a list of payees
/// and returns them: `declared[i]` is payee i's share, None where none is
/// given. One payee without a share gets all 10000; with several, each needs
/// one. Problems go to errs: `path[i].share` "required" (several payees and
/// i has none) or "range" (0 or over 10000); `path` "sum" (all in range but
/// not totalling 10000). `who` is a plural noun for messages ("creators").
pub fn check_shares(path: &str, who: &str, declared: &[Option<u64>], errs: &mut Errors) -> Vec<u64> {
    let mut out = vec![0u64; declared.len()];
    if declared.is_empty() {
        return out;
    }
    let mut total = 0u64;
    let mut ok = true;
    for (i, s) in declared.iter().enumerate() {
        let share_path = format!("{}[{}].share", path, i);
        match s {
            Some(v) => {
                out[i] = *v;
                if *v == 0 || *v > TOTAL_BPS {
                    errs.add(share_path, codes::RANGE, format!("share {} is not 1..10000 basis points", v));
                    ok = false;
                }
            }
            None if declared.len() == 1 => out[i] = TOTAL_BPS,
            None => {
                errs.add(share_path, codes::REQUIRED, format!("with several {} each needs a share in basis points", who));
                ok = false;
            }
        }
        total = total.saturating_add(out[i]);
    }
    if ok && total != TOTAL_BPS {
        errs.add(path, codes::SUM, format!("the {}' shares total {} basis points, not 10000", who, total));
    }
    out
}

/// One part of a split a manifest may declare in basis points.
#[derive(Clone, Debug)]
pub struct SplitPart {
    /// What the part pays, for messages: "operators".
    pub name: String,
    /// Where it is declared: "map.split.operators_bps".
    pub path: String,
    /// None when the manifest leaves it out.
    pub declared: Option<u64>,
    /// Its basis points when left out.
    pub default: u64,
}

/// Checks the parts of a split table and returns their basis points, ready
/// for [crate::partition_bps]. The first part takes the rest: left out, it
/// gets 10000 minus the others. A declared part over 10000 is "range" at its
/// path; with every part in range, the others taking more than 10000 while
/// the first is left out, or the parts not totalling 10000, is "sum" at
/// `path`.
pub fn check_split_parts(path: &str, parts: &[SplitPart], errs: &mut Errors) -> Vec<u64> {
    let mut out: Vec<u64> = parts.iter().map(|p| p.declared.unwrap_or(p.default)).collect();
    let mut ok = true;
    for p in parts {
        if let Some(v) = p.declared {
            if v > TOTAL_BPS {
                errs.add(p.path.clone(), codes::RANGE, format!("{} basis points, at most 10000", v));
                ok = false;
            }
        }
    }
    if !ok || parts.is_empty() {
        return out;
    }
    let others: u64 = out[1..].iter().sum();
    if parts[0].declared.is_none() {
        if others > TOTAL_BPS {
            errs.add(path, codes::SUM, format!("{} take {} basis points, more than 10000", part_names(&parts[1..]), others));
            return out;
        }
        out[0] = TOTAL_BPS - others;
    } else if others + out[0] != TOTAL_BPS {
        errs.add(path, codes::SUM, format!("{} total {} basis points, not 10000", part_names(parts), others + out[0]));
    }
    out
}

fn part_names(parts: &[SplitPart]) -> String {
    let mut s = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            s.push_str(if i == parts.len() - 1 { " and " } else { ", " });
        }
        s.push_str(&p.name);
    }
    s
}

/// The longest licence expression [normalize_license] accepts.
pub const MAX_LICENSE_BYTES: usize = 256;

/// Checks and normalizes a licence expression of SPDX's simple form,
/// `ID [(AND|OR) ID]...`: `known` gives an identifier's canonical spelling
/// (None for one the plugin does not know; it is called with any case),
/// `LicenseRef-[A-Za-z0-9.-]+` is kept with the prefix in SPDX's case,
/// operators become upper case, tokens are separated by single spaces. A
/// problem is a field error without a path: "required" (empty), "range"
/// (over 256 bytes), "format" (malformed), "license" (an unknown id).
pub fn normalize_license(s: &str, known: impl Fn(&str) -> Option<String>) -> Result<String, FieldError> {
    let mut toks: Vec<String> = s.split_whitespace().map(str::to_string).collect();
    if toks.is_empty() {
        return Err(FieldError::new("", codes::REQUIRED, "a license is required (an SPDX identifier, or LicenseRef-<name>)"));
    }
    if s.len() > MAX_LICENSE_BYTES {
        return Err(FieldError::new("", codes::RANGE, "the license expression is longer than 256 bytes"));
    }
    if toks.len() % 2 == 0 {
        return Err(FieldError::new("", codes::FORMAT, format!("an SPDX expression alternates identifiers and AND/OR: {}", s)));
    }
    for (i, tok) in toks.iter_mut().enumerate() {
        if i % 2 == 1 {
            let op = tok.to_uppercase();
            if op != "AND" && op != "OR" {
                return Err(FieldError::new(
                    "",
                    codes::FORMAT,
                    format!("expected AND or OR, got {} (parentheses and WITH are not supported)", tok),
                ));
            }
            *tok = op;
            continue;
        }
        if let Some(id) = known(tok) {
            *tok = id;
            continue;
        }
        if let Some(r) = license_ref(tok) {
            *tok = r;
            continue;
        }
        if tok.contains('(') || tok.contains(')') {
            return Err(FieldError::new("", codes::FORMAT, "parentheses are not supported in a license expression"));
        }
        return Err(FieldError::new(
            "",
            codes::LICENSE,
            format!("{} is not an SPDX license identifier this TLD knows; write LicenseRef-<name> for another license", tok),
        ));
    }
    Ok(toks.join(" "))
}

fn license_ref(tok: &str) -> Option<String> {
    const PREFIX: &str = "licenseref-";
    if tok.len() <= PREFIX.len() || !tok.is_char_boundary(PREFIX.len()) || tok[..PREFIX.len()].to_lowercase() != PREFIX {
        return None;
    }
    let rest = &tok[PREFIX.len()..];
    if rest.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-') {
        Some(format!("LicenseRef-{}", rest))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payouts_cids_tlds() {
        assert!(valid_payout("ron1ada") && valid_payout("a:b") && !valid_payout(":ab") && !valid_payout("AB1") && !valid_payout("ab"));
        assert!(valid_cid(&format!("b3:{}", "0a".repeat(32))) && !valid_cid(&format!("b3:{}", "0A".repeat(32))));
        assert!(valid_tld("map") && !valid_tld("Map") && !valid_tld(""));
    }

    #[test]
    fn shares() {
        let mut errs = Errors::new();
        assert_eq!(check_shares("t.c", "creators", &[None], &mut errs), vec![10000]);
        assert_eq!(check_shares("t.c", "creators", &[Some(6000), Some(3000)], &mut errs), vec![6000, 3000]);
        let r = errs.into_result().unwrap_err();
        assert_eq!((r.errors[0].path.as_str(), r.errors[0].code.as_str()), ("t.c", codes::SUM));
        let mut errs = Errors::new();
        check_shares("t.c", "creators", &[None, Some(0)], &mut errs);
        let got: Vec<_> = errs.into_result().unwrap_err().errors.into_iter().map(|e| (e.path, e.code)).collect();
        assert_eq!(got, vec![("t.c[0].share".into(), "required".into()), ("t.c[1].share".into(), "range".into())]);
    }

    #[test]
    fn parts() {
        let part = |name: &str, declared: Option<u64>, default: u64| SplitPart { name: name.into(), path: format!("t.{}", name), declared, default };
        let mut errs = Errors::new();
        assert_eq!(check_split_parts("t", &[part("a", None, 0), part("b", Some(2500), 1000)], &mut errs), vec![7500, 2500]);
        assert!(errs.is_empty());
        check_split_parts("t", &[part("a", None, 0), part("b", Some(6000), 0), part("c", None, 5000)], &mut errs);
        assert_eq!(errs.into_result().unwrap_err().errors[0].message, "b and c take 11000 basis points, more than 10000");
    }

    #[test]
    fn licenses() {
        let known = |id: &str| if id.eq_ignore_ascii_case("mit") { Some("MIT".to_string()) } else { None };
        assert_eq!(normalize_license(" mit or  licenseref-x.1 ", known).unwrap(), "MIT OR LicenseRef-x.1");
        assert_eq!(normalize_license("GPL-3.0", known).unwrap_err().code, codes::LICENSE);
        assert_eq!(normalize_license("MIT WITH x", known).unwrap_err().code, codes::FORMAT);
        assert_eq!(normalize_license("", known).unwrap_err().code, codes::REQUIRED);
    }
}
