//! The .notes TLD plugin in Rust: short texts whose authors share the
//! revenue by fixed shares, operators paid by bytes served, an excerpt
//! resolver. It keeps the rules of the Go SDK's notes example
//! (sdk-wasm/examples/notes) one for one, so both answer the same.
//!
//! Build: `cargo build --release --target wasm32-wasi`, then
//! `ronhost plugin test target/wasm32-wasi/release/ron_notes.wasm`.

use std::collections::BTreeSet;

use ron_plugin::*;
use serde::{Deserialize, Serialize};

/// The namespace this plugin owns.
pub const TLD: &str = "notes";
/// Roles the split pays.
pub const ROLE_AUTHOR: &str = "author";
/// See [ROLE_AUTHOR].
pub const ROLE_OPERATOR: &str = "operator";

const MAX_TITLE: usize = 200;
const MAX_AUTHORS: usize = 32;
const MAX_TAGS: usize = 16;
const DEFAULT_LICENSE: &str = "all-rights-reserved";
const DEFAULT_LANGUAGE: &str = "en";
const DEFAULT_OPERATOR_BPS: u64 = 2000;
const MAX_OPERATOR_BPS: u64 = 5000;
const EXCERPT_BYTES: u64 = 4096;

/// The [notes] table.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub authors: Vec<Author>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub license: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default)]
    pub price: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub language: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_bps: Option<u64>,
}

/// One entry of [[notes.authors]].
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Author {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub payout: String,
    /// Basis points.
    #[serde(default)]
    pub share: u64,
}

/// The manifest describe offers the conformance suite.
pub const EXAMPLE: &str = r#"{
  "meta": {"tld": "notes", "created": "2026-01-02T03:04:05Z"},
  "payload": {"cid": "b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", "size": 1234, "media_type": "text/markdown"},
  "notes": {
    "title": "  Field notes on WebAssembly ",
    "authors": [
      {"name": "Ada", "payout": "ron1ada", "share": 6000},
      {"name": "Grace", "payout": "ron1grace", "share": 4000}
    ],
    "license": "cc-by-4.0",
    "tags": ["WASM", "go", " wasm"],
    "price": 1200
  }
}"#;

/// The .notes plugin.
pub struct Notes;

ron_plugin::register!(Notes);

fn known_license(id: &str) -> Option<&'static str> {
    Some(match id {
        "cc0-1.0" => "CC0-1.0",
        "cc-by-4.0" => "CC-BY-4.0",
        "cc-by-sa-4.0" => "CC-BY-SA-4.0",
        "cc-by-nc-4.0" => "CC-BY-NC-4.0",
        "cc-by-nd-4.0" => "CC-BY-ND-4.0",
        "mit" => "MIT",
        "apache-2.0" => "Apache-2.0",
        "all-rights-reserved" => "all-rights-reserved",
        _ => return None,
    })
}

/// Trims s and collapses runs of white space to one space.
fn clean_text(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn normalize(mut t: Table, errs: &mut Errors) -> Table {
    t.title = clean_text(&t.title);
    match t.title.chars().count() {
        0 => errs.add("notes.title", codes::REQUIRED, "a note needs a title"),
        n if n > MAX_TITLE => errs.add("notes.title", codes::RANGE, format!("the title has {} characters, at most {}", n, MAX_TITLE)),
        _ => {}
    }
    if t.authors.is_empty() {
        errs.add("notes.authors", codes::REQUIRED, "a note needs at least one author");
    } else if t.authors.len() > MAX_AUTHORS {
        errs.add("notes.authors", codes::RANGE, format!("{} authors, at most {}", t.authors.len(), MAX_AUTHORS));
    }
    let mut total = 0u64;
    let mut payouts: Vec<(String, usize)> = Vec::new();
    for (i, a) in t.authors.iter_mut().enumerate() {
        let path = format!("notes.authors[{}]", i);
        a.name = clean_text(&a.name);
        if a.name.is_empty() {
            errs.add(format!("{}.name", path), codes::REQUIRED, "an author needs a name");
        }
        a.payout = a.payout.trim().to_string();
        if !valid_payout(&a.payout) {
            errs.add(format!("{}.payout", path), codes::FORMAT, format!("{:?} is not a payout address ([a-z0-9][a-z0-9:._-]{{2,127}})", a.payout));
        } else if let Some((_, j)) = payouts.iter().rev().find(|(p, _)| *p == a.payout) {
            errs.add(format!("{}.payout", path), codes::DUPLICATE, format!("author {} already has payout {:?}", j, a.payout));
        }
        payouts.push((a.payout.clone(), i));
        if a.share == 0 || a.share > TOTAL_BPS {
            errs.add(format!("{}.share", path), codes::RANGE, format!("share {} is not 1..10000 basis points", a.share));
        }
        total += a.share.min(TOTAL_BPS);
    }
    if !t.authors.is_empty() && total != TOTAL_BPS {
        errs.add("notes.authors", codes::INVALID, format!("shares total {} basis points, want 10000", total));
    }

    if t.license.is_empty() {
        t.license = DEFAULT_LICENSE.to_string();
    }
    match known_license(&t.license.trim().to_lowercase()) {
        Some(id) => t.license = id.to_string(),
        None => errs.add("notes.license", codes::INVALID, format!("unknown license {:?}", t.license)),
    }

    let mut tags = BTreeSet::new();
    for (i, tag) in t.tags.iter().enumerate() {
        let tag = tag.trim().to_lowercase();
        if !valid_tld(&tag) {
            errs.add(format!("notes.tags[{}]", i), codes::FORMAT, format!("tag {:?} is not [a-z0-9-]{{1,32}}", tag));
            continue;
        }
        tags.insert(tag);
    }
    if tags.len() > MAX_TAGS {
        errs.add("notes.tags", codes::RANGE, format!("{} distinct tags, at most {}", tags.len(), MAX_TAGS));
    }
    t.tags = tags.into_iter().collect();

    if t.price > MAX_AMOUNT {
        errs.add("notes.price", codes::RANGE, format!("price {} is more than 2^53-1", t.price));
    }
    t.language = t.language.trim().to_lowercase();
    if t.language.is_empty() {
        t.language = DEFAULT_LANGUAGE.to_string();
    }
    let n = t.language.len();
    if !(2..=8).contains(&n) || !t.language.bytes().all(|c| c.is_ascii_lowercase() || c == b'-') {
        errs.add("notes.language", codes::FORMAT, format!("{:?} is not a language tag", t.language));
    }
    let bps = t.operator_bps.unwrap_or(DEFAULT_OPERATOR_BPS);
    if bps > MAX_OPERATOR_BPS {
        errs.add("notes.operator_bps", codes::RANGE, format!("{} basis points, at most {}", bps, MAX_OPERATOR_BPS));
    }
    t.operator_bps = Some(bps);
    t
}

impl Plugin for Notes {
    fn describe(&self, _: &HostInfo) -> Description {
        Description {
            tld: TLD.into(),
            name: "Notes".into(),
            version: "1.0.0".into(),
            summary: "Short texts whose authors share the revenue by fixed shares.".into(),
            roles: vec![ROLE_AUTHOR.into(), ROLE_OPERATOR.into()],
            features: vec![FEATURE_RESOLVE.into()],
            examples: vec![Manifest::must(EXAMPLE)],
        }
    }

    fn validate(&self, input: ValidateInput) -> Result<ValidateOutput> {
        let mut errs = Errors::new();
        let meta = input.manifest.meta()?;
        if meta.tld != TLD || input.context.tld != TLD {
            errs.add(
                "meta.tld",
                codes::INVALID,
                format!("the manifest is for {:?} and the address for {:?}, want {:?}", meta.tld, input.context.tld, TLD),
            );
        }
        if input.manifest.has(TABLE_PAYLOAD) {
            match input.manifest.payload() {
                Err(r) => errs.extend(r),
                Ok(p) if !p.media_type.is_empty() && !p.media_type.starts_with("text/") => {
                    errs.add("payload.media_type", codes::INVALID, format!("a note is text, not {:?}", p.media_type))
                }
                Ok(_) => {}
            }
        }
        let t: Table = match input.manifest.table(TLD) {
            Ok(t) => t,
            Err(r) => {
                errs.extend(r);
                errs.into_result()?;
                unreachable!("a rejection was recorded")
            }
        };
        let norm = normalize(t, &mut errs);
        errs.into_result()?;
        let mut out = input.manifest;
        out.set(TLD, &norm)?;
        Ok(ValidateOutput { manifest: Some(out), index: Index { title: norm.title, tags: norm.tags } })
    }

    fn split(&self, input: SplitInput) -> Result<Vec<Allocation>> {
        let t: Table = input.manifest.table(TLD)?;
        let bps = t.operator_bps.map(|b| b.min(MAX_OPERATOR_BPS)).unwrap_or(DEFAULT_OPERATOR_BPS);
        let servers: Vec<Weight> = input
            .usage
            .servers
            .iter()
            .filter(|s| !s.payout.is_empty() && s.bytes > 0)
            .map(|s| Weight { payee: s.payout.clone(), role: ROLE_OPERATOR.into(), weight: s.bytes })
            .collect();
        let op_part = if servers.is_empty() { 0 } else { portion(input.amount, bps) };
        let shares: Vec<Share> =
            t.authors.iter().map(|a| Share { payee: a.payout.clone(), role: ROLE_AUTHOR.into(), bps: a.share }).collect();
        let mut out = split_bps(input.amount - op_part, &shares)
            .map_err(|e| Rejection::new("notes.authors", codes::INVALID, e.to_string()))?;
        if op_part > 0 {
            out.extend(
                split_weighted(op_part, &servers).map_err(|e| Rejection::new("usage.servers", codes::INVALID, e.to_string()))?,
            );
        }
        Ok(out)
    }

    fn resolve(&self, input: ResolveInput, obj: &mut dyn Object) -> Result<ResolveOutput> {
        let ct = match input.manifest.payload() {
            Ok(p) if !p.media_type.is_empty() => p.media_type,
            _ => "text/markdown; charset=utf-8".to_string(),
        };
        match input.path.as_str() {
            "" | "/" => Ok(ResolveOutput::serve(ct, 0, input.payload_size)),
            "/excerpt" => {
                let mut buf = vec![0u8; input.payload_size.min(EXCERPT_BYTES) as usize];
                let n = obj.read_full_at(&mut buf, 0).map_err(|e| Rejection::invalid(e.to_string()))?;
                buf.truncate(n);
                if let Some(i) = buf.windows(2).position(|w| w == b"\n\n") {
                    buf.truncate(i);
                }
                while !buf.is_empty() && std::str::from_utf8(&buf).is_err() {
                    buf.pop();
                }
                Ok(ResolveOutput::serve(ct, 0, buf.len() as u64))
            }
            _ => Ok(ResolveOutput::not_found()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ron_plugin::testing::*;

    #[test]
    fn conformance() {
        check_plugin(&Host::new(Notes));
    }

    #[test]
    fn validate_normalizes() {
        let h = Host::new(Notes);
        let (m, index) = check_validate(&h, &Manifest::must(EXAMPLE), &Context { tld: TLD.into(), payload_size: 1234 });
        let t: Table = m.table(TLD).unwrap();
        assert_eq!(t.title, "Field notes on WebAssembly");
        assert_eq!(t.tags, vec!["go", "wasm"]);
        assert_eq!((t.license.as_str(), t.language.as_str(), t.operator_bps), ("CC-BY-4.0", "en", Some(2000)));
        assert_eq!(index.title, "Field notes on WebAssembly");
    }

    #[test]
    fn validate_reports_every_problem() {
        let h = Host::new(Notes);
        let bad = Manifest::must(
            r#"{"meta":{"tld":"notes"},"notes":{"title":" ","authors":[{"name":"A","payout":"X","share":0}],"license":"wtfpl","tags":["a b"],"operator_bps":9000}}"#,
        );
        match h.validate(&bad, &Context { tld: TLD.into(), payload_size: 1 }) {
            Err(CallError::Rejected(r)) => {
                let got: Vec<(&str, &str)> = r.errors.iter().map(|e| (e.path.as_str(), e.code.as_str())).collect();
                assert_eq!(
                    got,
                    vec![
                        ("notes.authors", "invalid"),
                        ("notes.authors[0].payout", "format"),
                        ("notes.authors[0].share", "range"),
                        ("notes.license", "invalid"),
                        ("notes.operator_bps", "range"),
                        ("notes.tags[0]", "format"),
                        ("notes.title", "required"),
                    ]
                );
            }
            other => panic!("{:?}", other),
        }
        match h.validate(&Manifest::must(r#"{"meta":{"tld":"notes"},"notes":{"title":"x","bogus":1}}"#), &Context { tld: TLD.into(), payload_size: 1 }) {
            Err(CallError::Rejected(r)) => assert_eq!((r.errors[0].path.as_str(), r.errors[0].code.as_str()), ("notes.bogus", "unknown")),
            other => panic!("{:?}", other),
        }
    }

    #[test]
    fn split_pays_operators_by_bytes() {
        let h = Host::new(Notes);
        let (m, _) = check_validate(&h, &Manifest::must(EXAMPLE), &Context { tld: TLD.into(), payload_size: 1234 });
        let got = check_split(&h, &SplitInput { manifest: m, epoch: "e".into(), amount: 1_000_003, usage: sample_usage() });
        let ops: u64 = got.iter().filter(|a| a.role == ROLE_OPERATOR).map(|a| a.amount).sum();
        assert_eq!(ops, portion(1_000_003, 2000));
        assert_eq!(got.iter().find(|a| a.payee == "ron1ada").unwrap().amount, 480_002);
    }

    #[test]
    fn resolve_excerpt() {
        let h = Host::new(Notes);
        let (m, _) = check_validate(&h, &Manifest::must(EXAMPLE), &Context { tld: TLD.into(), payload_size: 1234 });
        let body = "Héllo\n\nrest".as_bytes();
        let r = h.resolve(&ResolveInput { manifest: m.clone(), path: "/excerpt".into(), payload_size: body.len() as u64 }, body).unwrap();
        assert_eq!((r.status, r.offset, r.length), (200, 0, 6));
        let r = h.resolve(&ResolveInput { manifest: m, path: "/nope".into(), payload_size: 1 }, b"x").unwrap();
        assert_eq!(r.status, 404);
    }
}
