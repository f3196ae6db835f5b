//! Runs the SDK's split helpers on requests read from standard input, one
//! JSON object a line, and writes one JSON answer a line. sdk-rust's Go test
//! sends it generated inputs and compares every answer with the Go SDK's.
//!
//! Requests: {"op":"weighted","amount":N,"claims":[{"payee","role","n"}]},
//! {"op":"bps",...} (n as basis points), {"op":"partition","amount":N,
//! "bps":[...]}, {"op":"portion","amount":N,"bps":B}. Answers:
//! {"allocations":[...]}, {"parts":[...]}, {"amount":N} or {"error":KIND}
//! with KIND one of shares, no-weight, overflow, empty-payee.

use std::io::{self, BufRead, Write};

use ron_plugin::*;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct Claim {
    payee: String,
    role: String,
    n: u64,
}

#[derive(Deserialize)]
struct Request {
    op: String,
    amount: u64,
    #[serde(default)]
    claims: Vec<Claim>,
    #[serde(default)]
    bps: serde_json::Value,
}

fn kind(e: SplitError) -> serde_json::Value {
    json!({"error": match e {
        SplitError::Shares(_) => "shares",
        SplitError::NoWeight => "no-weight",
        SplitError::WeightOverflow => "overflow",
        SplitError::EmptyPayee => "empty-payee",
    }})
}

fn main() {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    for line in io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let r: Request = serde_json::from_str(&line).expect("a request");
        let answer = match r.op.as_str() {
            "weighted" => {
                let ws: Vec<Weight> = r.claims.into_iter().map(|c| Weight { payee: c.payee, role: c.role, weight: c.n }).collect();
                split_weighted(r.amount, &ws).map(|a| json!({ "allocations": a })).unwrap_or_else(kind)
            }
            "bps" => {
                let ss: Vec<Share> = r.claims.into_iter().map(|c| Share { payee: c.payee, role: c.role, bps: c.n }).collect();
                split_bps(r.amount, &ss).map(|a| json!({ "allocations": a })).unwrap_or_else(kind)
            }
            "partition" => {
                let bps: Vec<u64> = serde_json::from_value(r.bps).expect("bps");
                partition_bps(r.amount, &bps).map(|p| json!({ "parts": p })).unwrap_or_else(kind)
            }
            "portion" => json!({"amount": portion(r.amount, r.bps.as_u64().expect("bps"))}),
            op => panic!("unknown op {}", op),
        };
        writeln!(out, "{}", answer).expect("stdout");
        out.flush().expect("stdout");
    }
}
