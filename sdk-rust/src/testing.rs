//! The native test harness: a fake host that runs a plugin through
//! [crate::dispatch], the function the module's exports run, and the checks
//! the conformance suite makes, as panicking assertions for `cargo test`.
//!
//! ```ignore
//! use ron_plugin::testing::{check_plugin, Host};
//!
//! #[test]
//! fn conformance() {
//!     check_plugin(&Host::new(Blog));
//! }
//! ```

use serde_json::{json, Value};

use crate::abi::*;
use crate::dispatch::dispatch;
use crate::errors::Rejection;
use crate::manifest::Manifest;
use crate::object::{Bytes, NoObject};
use crate::Plugin;

/// What a typed call returns for a status other than 0.
#[derive(Clone, Debug, PartialEq)]
pub enum CallError {
    /// Status 1, with the plugin's field errors.
    Rejected(Rejection),
    /// Any other status: a fault.
    Fault { status: i32, output: String },
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Rejected(r) => write!(f, "{}", r),
            CallError::Fault { status, output } => write!(f, "status {}: {}", status, output),
        }
    }
}

/// The native fake host.
pub struct Host<P: Plugin> {
    plugin: P,
    /// Sent in ron_describe's input.
    pub host: HostInfo,
}

impl<P: Plugin> Host<P> {
    /// A fake host running p.
    pub fn new(plugin: P) -> Self {
        Host { plugin, host: HostInfo { name: "ron-plugin-testing".into(), version: "0".into() } }
    }

    /// One raw call; payload is the object of ron_resolve.
    pub fn call(&self, entry: Entry, input: &[u8], payload: Option<&[u8]>) -> (i32, Vec<u8>) {
        match payload {
            Some(b) => dispatch(&self.plugin, entry, input, &mut Bytes(b)),
            None => dispatch(&self.plugin, entry, input, &mut NoObject),
        }
    }

    fn typed(&self, entry: Entry, input: &Value, payload: Option<&[u8]>) -> Result<Value, CallError> {
        let (status, out) = self.call(entry, input.to_string().as_bytes(), payload);
        let text = String::from_utf8_lossy(&out).into_owned();
        match status {
            STATUS_OK => serde_json::from_slice(&out).map_err(|e| CallError::Fault { status, output: format!("{}: {}", e, text) }),
            STATUS_REJECTED => match serde_json::from_slice::<Rejection>(&out) {
                Ok(r) => Err(CallError::Rejected(r)),
                Err(e) => Err(CallError::Fault { status, output: format!("malformed rejection ({}): {}", e, text) }),
            },
            _ => Err(CallError::Fault { status, output: text }),
        }
    }

    /// Calls ron_describe.
    pub fn describe(&self) -> Result<Description, CallError> {
        let v = self.typed(Entry::Describe, &json!({"abi": ABI_VERSION, "host": self.host}), None)?;
        serde_json::from_value(v).map_err(|e| CallError::Fault { status: 0, output: e.to_string() })
    }

    /// Calls ron_validate; returns the normalized manifest and the index.
    pub fn validate(&self, m: &Manifest, ctx: &Context) -> Result<(Manifest, Index), CallError> {
        let v = self.typed(Entry::Validate, &json!({"manifest": m, "context": ctx}), None)?;
        let bad = |e: serde_json::Error| CallError::Fault { status: 0, output: e.to_string() };
        let m: Manifest = serde_json::from_value(v["manifest"].clone()).map_err(bad)?;
        let idx: Index = serde_json::from_value(v["index"].clone()).map_err(bad)?;
        Ok((m, idx))
    }

    /// Calls ron_split.
    pub fn split(&self, input: &SplitInput) -> Result<Vec<Allocation>, CallError> {
        let v = self.typed(Entry::Split, &split_json(input), None)?;
        serde_json::from_value(v["allocations"].clone()).map_err(|e| CallError::Fault { status: 0, output: e.to_string() })
    }

    /// Calls ron_resolve over payload.
    pub fn resolve(&self, input: &ResolveInput, payload: &[u8]) -> Result<ResolveOutput, CallError> {
        let v = self.typed(
            Entry::Resolve,
            &json!({"manifest": input.manifest, "path": input.path, "payload_size": input.payload_size}),
            Some(payload),
        )?;
        serde_json::from_value(v).map_err(|e| CallError::Fault { status: 0, output: e.to_string() })
    }
}

/// The JSON input of ron_split for input.
pub fn split_json(input: &SplitInput) -> Value {
    json!({"manifest": input.manifest, "epoch": input.epoch, "amount": input.amount, "usage": input.usage})
}

/// The amounts [check_plugin] splits: the edges, primes and the largest
/// amount the ABI carries.
pub const SPLIT_AMOUNTS: [u64; 10] = [0, 1, 2, 3, 7, 9973, 10000, 1000003, 4294967311, MAX_AMOUNT];

/// Usage with uneven servers, two of them paid at the same address.
pub fn sample_usage() -> Usage {
    let s = |node: &str, payout: &str, requests, bytes| Server { node: node.into(), payout: payout.into(), requests, bytes };
    Usage {
        requests: 60,
        bytes: 1 << 20,
        servers: vec![
            s("node-a", "op-a", 10, 1000),
            s("node-b", "op-b", 30, 777777),
            s("node-c", "op-a", 5, 3),
            s("node-d", "op-d", 15, 270796),
        ],
    }
}

/// Calls describe twice and checks: status 0, identical outputs, a valid
/// TLD, a name, a version, unique non-empty roles, at least one example.
pub fn check_describe<P: Plugin>(h: &Host<P>) -> Description {
    let input = json!({"abi": ABI_VERSION, "host": h.host}).to_string();
    let (status, out) = h.call(Entry::Describe, input.as_bytes(), None);
    assert_eq!(status, STATUS_OK, "describe: status {}: {}", status, String::from_utf8_lossy(&out));
    assert_eq!(out, h.call(Entry::Describe, input.as_bytes(), None).1, "describe is not deterministic");
    let d = h.describe().unwrap_or_else(|e| panic!("describe: {}", e));
    assert!(crate::valid_tld(&d.tld), "describe: tld {:?} is not [a-z0-9-]{{1,32}}", d.tld);
    assert!(!d.name.is_empty() && !d.version.is_empty(), "describe: name and version must not be empty");
    assert!(!d.roles.is_empty(), "describe: no roles");
    assert!(!d.examples.is_empty(), "describe: no examples");
    d
}

/// Validates m and checks: status 0, a deterministic output and idempotent
/// normalization (validating the output returns it byte for byte).
pub fn check_validate<P: Plugin>(h: &Host<P>, m: &Manifest, ctx: &Context) -> (Manifest, Index) {
    let input = json!({"manifest": m, "context": ctx}).to_string();
    let (status, out) = h.call(Entry::Validate, input.as_bytes(), None);
    assert_eq!(status, STATUS_OK, "validate {}: status {}: {}", m, status, String::from_utf8_lossy(&out));
    assert_eq!(out, h.call(Entry::Validate, input.as_bytes(), None).1, "validate is not deterministic");
    let (norm, index) = h.validate(m, ctx).unwrap_or_else(|e| panic!("validate: {}", e));
    let again = json!({"manifest": norm, "context": ctx}).to_string();
    let (status2, out2) = h.call(Entry::Validate, again.as_bytes(), None);
    assert_eq!(status2, STATUS_OK, "validate is not idempotent: the normalized manifest gets status {}: {}", status2, String::from_utf8_lossy(&out2));
    assert_eq!(
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&out2),
        "validate is not idempotent (first, then of its normalized manifest)"
    );
    (norm, index)
}

/// Splits input and checks: status 0, allocations summing to exactly the
/// amount, non-empty payees, declared roles, a deterministic output, the
/// same output for the servers reversed and rotated.
pub fn check_split<P: Plugin>(h: &Host<P>, input: &SplitInput) -> Vec<Allocation> {
    let d = check_describe(h);
    let raw = split_json(input).to_string();
    let (status, out) = h.call(Entry::Split, raw.as_bytes(), None);
    assert_eq!(status, STATUS_OK, "split: status {}: {}", status, String::from_utf8_lossy(&out));
    let allocs = h.split(input).unwrap_or_else(|e| panic!("split: {}", e));
    let mut total = 0u64;
    for a in &allocs {
        assert!(!a.payee.is_empty(), "split: allocation {:?} has an empty payee", a);
        assert!(d.roles.contains(&a.role), "split: allocation {:?} has a role describe does not declare ({:?})", a, d.roles);
        assert!(a.amount <= MAX_AMOUNT, "split: allocation {:?} is more than 2^53-1", a);
        total = total.checked_add(a.amount).expect("split: allocations overflow u64");
    }
    assert_eq!(total, input.amount, "split: allocations sum to {}, the amount is {}", total, input.amount);
    assert_eq!(out, h.call(Entry::Split, raw.as_bytes(), None).1, "split is not deterministic");
    let n = input.usage.servers.len();
    if n >= 2 {
        for shift in [true, false] {
            let mut p = input.clone();
            if shift {
                p.usage.servers.rotate_left(1);
            } else {
                p.usage.servers.reverse();
            }
            let (_, o) = h.call(Entry::Split, split_json(&p).to_string().as_bytes(), None);
            assert_eq!(out, o, "split depends on the order of servers");
        }
    }
    allocs
}

/// Inputs every entry point must answer with status 1: malformed,
/// truncated, non-UTF-8, deeply nested, wrongly typed and out-of-range
/// documents, each under 1 MiB.
pub fn hostile_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let deep = "[".repeat(100_000);
    vec![
        ("empty", Vec::new()),
        ("null", b"null".to_vec()),
        ("array", b"[]".to_vec()),
        ("number", b"12".to_vec()),
        ("string", b"\"manifest\"".to_vec()),
        ("truncated", b"{\"manifest\":{\"meta\":{\"tld\":\"x\"".to_vec()),
        ("garbage", b"\x00\x01\x02\xff{}".to_vec()),
        ("not-utf8", b"{\"manifest\":{\"meta\":{\"tld\":\"\xff\xfe\"}}}".to_vec()),
        ("deep", format!("{{\"manifest\":{}", deep).into_bytes()),
        ("deep-objects", "{\"a\":".repeat(10000).into_bytes()),
        ("trailing", b"{\"manifest\":{}} {}".to_vec()),
        ("manifest-str", b"{\"manifest\":\"x\",\"epoch\":\"e\",\"amount\":1,\"path\":\"/\"}".to_vec()),
        ("manifest-null", b"{\"manifest\":null,\"amount\":1}".to_vec()),
        ("amount-huge", b"{\"manifest\":{},\"amount\":9007199254740992}".to_vec()),
        ("amount-neg", b"{\"manifest\":{},\"amount\":-1,\"abi\":2}".to_vec()),
        ("amount-float", b"{\"manifest\":{},\"amount\":1.5,\"abi\":\"1\"}".to_vec()),
        ("amount-exp", b"{\"manifest\":{},\"amount\":1e3,\"abi\":1.0}".to_vec()),
        ("servers-obj", b"{\"manifest\":{},\"amount\":1,\"usage\":{\"servers\":{\"a\":1}},\"abi\":0}".to_vec()),
        ("big-string", format!("{{\"manifest\":{{\"x\":\"{}\"}},\"amount\":1e400}}", "a".repeat(900 << 10)).into_bytes()),
    ]
}

/// Sends every hostile input to every entry point and panics unless each
/// gets status 1 with an {"errors":[...]} output.
pub fn check_rejects<P: Plugin>(h: &Host<P>) {
    for entry in [Entry::Describe, Entry::Validate, Entry::Split, Entry::Resolve] {
        for (name, input) in hostile_inputs() {
            let (status, out) = h.call(entry, &input, None);
            let text = String::from_utf8_lossy(&out);
            assert_eq!(status, STATUS_REJECTED, "{}({}): status {}, want 1: {:.300}", entry.export_name(), name, status, text);
            let r: Rejection = serde_json::from_slice(&out).unwrap_or_else(|e| panic!("{}({}): {}: {:.300}", entry.export_name(), name, e, text));
            assert!(!r.errors.is_empty(), "{}({}): an empty rejection", entry.export_name(), name);
        }
    }
}

/// Every check a plugin must pass, from its description alone, as the
/// conformance suite makes them: describe; validate each example
/// (determinism, idempotence); split each normalized example with
/// [SPLIT_AMOUNTS], with and without usage; resolve "/" when the plugin
/// declares "resolve" (status 0 or 1, never a fault or "unsupported"); and
/// [check_rejects].
pub fn check_plugin<P: Plugin>(h: &Host<P>) {
    let d = check_describe(h);
    let resolves = d.features.iter().any(|f| f == FEATURE_RESOLVE);
    for (i, ex) in d.examples.iter().enumerate() {
        let size = ex.payload().map(|p| p.size).unwrap_or(0);
        let (norm, _) = check_validate(h, ex, &Context { tld: d.tld.clone(), payload_size: size });
        for amount in SPLIT_AMOUNTS {
            for usage in [Usage::default(), sample_usage()] {
                check_split(h, &SplitInput { manifest: norm.clone(), epoch: format!("epoch-{}", i), amount, usage });
            }
        }
        if resolves {
            let payload = b"ron\n".repeat((size.min(1 << 20) / 4 + 1) as usize);
            let input = ResolveInput { manifest: norm.clone(), path: "/".into(), payload_size: payload.len() as u64 };
            match h.resolve(&input, &payload) {
                Ok(_) => {}
                Err(CallError::Rejected(r)) => assert!(
                    r.errors.iter().all(|e| e.code != crate::codes::UNSUPPORTED),
                    "describe lists \"resolve\" but Plugin::resolve is not implemented: {}",
                    r
                ),
                Err(e) => panic!("resolve /: {}", e),
            }
        }
    }
    check_rejects(h);
}
