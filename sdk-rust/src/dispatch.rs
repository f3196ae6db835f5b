//! One ABI call: check and decode the input, run the handler, check the
//! result against the ABI and encode it. The wasm exports and the native
//! harness both call [dispatch], so native tests run the code the module
//! runs.

use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

use serde_json::value::RawValue;

use crate::abi::*;
use crate::errors::{codes, FieldError, Rejection};
use crate::json::{check_input, write_string};
use crate::manifest::{decode_error, Manifest};
use crate::object::Object;
use crate::rules::valid_tld;
use crate::split::{merge, sum};
use crate::Plugin;

/// Runs one call of `entry` with `input` on plugin `p`; `obj` is the
/// payload for ron_resolve. Returns the status and the output document.
pub fn dispatch<P: Plugin + ?Sized>(p: &P, entry: Entry, input: &[u8], obj: &mut dyn Object) -> (i32, Vec<u8>) {
    let res = match entry {
        Entry::Describe => describe(p, input),
        Entry::Validate => validate(p, input),
        Entry::Split => split(p, input),
        Entry::Resolve => resolve(p, input, obj),
    };
    match res {
        Ok(out) if out.len() > MAX_OUTPUT_BYTES => {
            fault(&format!("the result is {} bytes, the limit is {}", out.len(), MAX_OUTPUT_BYTES))
        }
        Ok(out) => (STATUS_OK, out),
        Err(Outcome::Rejected(r)) => (STATUS_REJECTED, rejection_json(r)),
        Err(Outcome::Fault(msg)) => fault(&msg),
    }
}

enum Outcome {
    Rejected(Rejection),
    Fault(String),
}

impl From<Rejection> for Outcome {
    fn from(r: Rejection) -> Self {
        Outcome::Rejected(r)
    }
}

impl From<FieldError> for Outcome {
    fn from(e: FieldError) -> Self {
        Outcome::Rejected(e.into())
    }
}

type Res = std::result::Result<Vec<u8>, Outcome>;

fn rejection_json(r: Rejection) -> Vec<u8> {
    let mut errors = r.errors;
    if errors.is_empty() {
        errors.push(FieldError::new("", codes::INVALID, "rejected"));
    }
    let mut out = b"{\"errors\":[".to_vec();
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"path\":");
        write_string(&mut out, &e.path);
        out.extend_from_slice(b",\"code\":");
        write_string(&mut out, &e.code);
        out.extend_from_slice(b",\"message\":");
        write_string(&mut out, &e.message);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    if out.len() > MAX_OUTPUT_BYTES {
        return rejection_json(Rejection::invalid("rejected (the error list was too large to encode)"));
    }
    out
}

fn fault(msg: &str) -> (i32, Vec<u8>) {
    crate::log::error(msg);
    (STATUS_FAULT, rejection_json(Rejection::new("", codes::CONTRACT, msg)))
}

/// Checks the input and decodes it into T; the members T lacks are ignored
/// (hosts may add some), and a wrongly typed member is a rejection at its
/// name.
fn decode<T: DeserializeOwned>(input: &[u8]) -> std::result::Result<T, Outcome> {
    check_input(input)?;
    serde_json::from_slice::<T>(input).map_err(|e| Outcome::Rejected(decode_error("", &e).into()))
}

/// The members of an input object, split without decoding their values
/// (checked already), so each is decoded on its own and an error names it.
type Members<'a> = BTreeMap<String, &'a RawValue>;

/// Checks the input and splits it into members.
fn members(input: &[u8]) -> std::result::Result<Members<'_>, Outcome> {
    check_input(input)?;
    serde_json::from_slice(input).map_err(|e| Outcome::Rejected(decode_error("", &e).into()))
}

/// Decodes member k (absent or null: T's default) into T.
fn member<T: DeserializeOwned + Default>(m: &Members, k: &str) -> std::result::Result<T, Outcome> {
    match m.get(k) {
        None => Ok(T::default()),
        Some(v) if v.get() == "null" => Ok(T::default()),
        Some(v) => serde_json::from_str(v.get()).map_err(|e| Outcome::Rejected(decode_error(k, &e).into())),
    }
}

fn manifest_of(m: &Members) -> std::result::Result<Manifest, Outcome> {
    let raw = match m.get("manifest") {
        Some(v) if v.get() != "null" => v.get(),
        _ => return Err(Rejection::new("manifest", codes::REQUIRED, "the input has no manifest").into()),
    };
    if !raw.starts_with('{') {
        return Err(Rejection::new("manifest", codes::TYPE, "a manifest must be a JSON object").into());
    }
    let m: Manifest = serde_json::from_str(raw).map_err(|e| Outcome::Rejected(decode_error("manifest", &e).into()))?;
    // The host always sends [meta] with a tld; a plugin never sees less.
    let meta = m.meta()?;
    if meta.tld.is_empty() {
        return Err(Rejection::new("meta.tld", codes::REQUIRED, "the manifest's [meta] table has no tld").into());
    }
    Ok(m)
}

fn check_max(path: &str, v: u64) -> std::result::Result<(), Outcome> {
    if v > MAX_AMOUNT {
        return Err(Rejection::new(path, codes::RANGE, format!("{} is more than 2^53-1", v)).into());
    }
    Ok(())
}

/// Checks and completes a description.
pub(crate) fn description<P: Plugin + ?Sized>(p: &P, host: &HostInfo) -> std::result::Result<Description, String> {
    let mut d = p.describe(host);
    d.features.sort();
    d.features.dedup();
    if !valid_tld(&d.tld) {
        return Err(format!("describe: tld {:?} is not lowercase [a-z0-9-]{{1,32}}", d.tld));
    }
    if d.name.is_empty() {
        return Err("describe: name is empty".into());
    }
    if d.version.is_empty() {
        return Err("describe: version is empty".into());
    }
    if d.roles.is_empty() {
        return Err("describe: roles is empty; list every role a split may pay".into());
    }
    if d.examples.is_empty() {
        return Err("describe: examples is empty; give at least one manifest validate accepts".into());
    }
    let mut seen = std::collections::BTreeSet::new();
    for r in &d.roles {
        if r.is_empty() || !seen.insert(r.as_str()) {
            return Err(format!("describe: role {:?} is empty or repeated", r));
        }
    }
    Ok(d)
}

fn describe<P: Plugin + ?Sized>(p: &P, input: &[u8]) -> Res {
    let input: DescribeInput = decode(input)?;
    if input.abi != ABI_VERSION {
        return Err(Rejection::new(
            "abi",
            codes::UNSUPPORTED,
            format!("this plugin implements ABI version {}, not {}", ABI_VERSION, input.abi),
        )
        .into());
    }
    let d = description(p, &input.host).map_err(Outcome::Fault)?;
    let mut out = b"{\"tld\":".to_vec();
    write_string(&mut out, &d.tld);
    for (k, v) in [("name", &d.name), ("version", &d.version), ("summary", &d.summary)] {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b"\":");
        write_string(&mut out, v);
    }
    for (k, list) in [("roles", &d.roles), ("features", &d.features)] {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b"\":[");
        for (i, x) in list.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_string(&mut out, x);
        }
        out.push(b']');
    }
    out.extend_from_slice(b",\"examples\":[");
    for (i, m) in d.examples.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        m.write_canonical(&mut out);
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

fn validate<P: Plugin + ?Sized>(p: &P, input: &[u8]) -> Res {
    let raw = members(input)?;
    let manifest = manifest_of(&raw)?;
    let context: Context = member(&raw, "context")?;
    check_max("context.payload_size", context.payload_size)?;
    let input = ValidateInput { manifest, context };
    let fallback = input.manifest.clone();
    let res = p.validate(input)?;
    let manifest = res.manifest.unwrap_or(fallback);
    let mut out = b"{\"manifest\":".to_vec();
    manifest.write_canonical(&mut out);
    out.extend_from_slice(b",\"index\":{\"title\":");
    write_string(&mut out, &res.index.title);
    out.extend_from_slice(b",\"tags\":[");
    for (i, t) in res.index.tags.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(&mut out, t);
    }
    out.extend_from_slice(b"]}}");
    Ok(out)
}

fn split<P: Plugin + ?Sized>(p: &P, input: &[u8]) -> Res {
    let raw = members(input)?;
    let manifest = manifest_of(&raw)?;
    let epoch: String = member(&raw, "epoch")?;
    let amount: u64 = member(&raw, "amount")?;
    let usage: Usage = member(&raw, "usage")?;
    check_max("amount", amount)?;
    check_max("usage.requests", usage.requests)?;
    check_max("usage.bytes", usage.bytes)?;
    for (i, s) in usage.servers.iter().enumerate() {
        check_max(&format!("usage.servers[{}].requests", i), s.requests)?;
        check_max(&format!("usage.servers[{}].bytes", i), s.bytes)?;
    }
    let mut usage = usage;
    // One canonical order of servers: (payout, node, bytes, requests).
    usage.servers.sort_by(|a, b| {
        (&a.payout, &a.node, a.bytes, a.requests).cmp(&(&b.payout, &b.node, b.bytes, b.requests))
    });
    let allocs = p.split(SplitInput { manifest, epoch, amount, usage })?;
    for a in &allocs {
        if a.payee.is_empty() || a.role.is_empty() {
            return Err(Outcome::Fault(format!(
                "split: an allocation of {} has an empty payee or role ({:?}, {:?})",
                a.amount, a.payee, a.role
            )));
        }
    }
    match sum(&allocs) {
        Some(s) if s == amount => {}
        s => {
            return Err(Outcome::Fault(format!(
                "split: allocations sum to {} (overflow {}), the amount is {}",
                s.unwrap_or(0),
                s.is_none(),
                amount
            )))
        }
    }
    let mut out = b"{\"allocations\":[".to_vec();
    for (i, a) in merge(allocs).iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"payee\":");
        write_string(&mut out, &a.payee);
        out.extend_from_slice(b",\"role\":");
        write_string(&mut out, &a.role);
        out.extend_from_slice(b",\"amount\":");
        out.extend_from_slice(a.amount.to_string().as_bytes());
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

fn resolve<P: Plugin + ?Sized>(p: &P, input: &[u8], obj: &mut dyn Object) -> Res {
    let raw = members(input)?;
    let manifest = manifest_of(&raw)?;
    let path: String = member(&raw, "path")?;
    let size: u64 = member(&raw, "payload_size")?;
    check_max("payload_size", size)?;
    let mut bounded = crate::object::Bounded { inner: obj, size };
    let r = p.resolve(ResolveInput { manifest, path, payload_size: size }, &mut bounded)?;
    if !(100..=599).contains(&r.status) {
        return Err(Outcome::Fault(format!("resolve: status {} is not an HTTP status", r.status)));
    }
    if r.status != 200 {
        return Ok(format!("{{\"status\":{}}}", r.status).into_bytes());
    }
    if r.offset > size || r.length > size - r.offset {
        return Err(Outcome::Fault(format!(
            "resolve: range {}+{} is outside the payload of {} bytes",
            r.offset, r.length, size
        )));
    }
    let mut out = b"{\"status\":200".to_vec();
    if !r.content_type.is_empty() {
        out.extend_from_slice(b",\"content_type\":");
        write_string(&mut out, &r.content_type);
    }
    out.extend_from_slice(format!(",\"offset\":{},\"length\":{}}}", r.offset, r.length).as_bytes());
    Ok(out)
}
