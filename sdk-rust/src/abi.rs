//! The ABI's documents and constants (docs/ABI.md; the JSON Schemas under
//! docs/schema/ describe the same shapes).

use serde::{Deserialize, Deserializer, Serialize};

use crate::manifest::Manifest;

/// The plugin ABI version this SDK implements.
pub const ABI_VERSION: u64 = 1;
/// The largest integer the ABI carries (2^53-1): amounts, byte and request
/// counts, payload sizes.
pub const MAX_AMOUNT: u64 = (1 << 53) - 1;
/// The ABI's limit on one call's input.
pub const MAX_INPUT_BYTES: usize = 1 << 20;
/// The ABI's limit on one call's output.
pub const MAX_OUTPUT_BYTES: usize = 1 << 20;
/// The deepest nesting of objects and arrays accepted in an input.
pub const MAX_DEPTH: usize = 64;
/// The longest object key accepted in an input.
pub const MAX_KEY_BYTES: usize = 1024;
/// Basis points in a whole (100%).
pub const TOTAL_BPS: u64 = 10000;

/// Status 0: the output is the result.
pub const STATUS_OK: i32 = 0;
/// Status 1: the input is not acceptable; the output lists field errors.
pub const STATUS_REJECTED: i32 = 1;
/// Status 2: the plugin failed (a result that breaks the ABI).
pub const STATUS_FAULT: i32 = 2;

/// The feature a plugin declares when it answers ron_resolve.
pub const FEATURE_RESOLVE: &str = "resolve";

/// The host-owned tables: a plugin reads them and never changes them.
pub const TABLE_META: &str = "meta";
/// See [TABLE_META].
pub const TABLE_PAYLOAD: &str = "payload";

/// An entry point of the ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    Describe,
    Validate,
    Split,
    Resolve,
}

impl Entry {
    /// The export's name ("ron_validate").
    pub fn export_name(self) -> &'static str {
        match self {
            Entry::Describe => "ron_describe",
            Entry::Validate => "ron_validate",
            Entry::Split => "ron_split",
            Entry::Resolve => "ron_resolve",
        }
    }
}

/// The node calling the plugin (ron_describe's "host").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
}

/// The input of ron_describe.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DescribeInput {
    #[serde(default)]
    pub abi: u64,
    #[serde(default)]
    pub host: HostInfo,
}

/// The output of ron_describe.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Description {
    /// Lowercase [a-z0-9-]{1,32}.
    pub tld: String,
    /// The plugin's name, for people.
    pub name: String,
    /// The plugin's own version ("1.2.0").
    pub version: String,
    /// One line.
    pub summary: String,
    /// Every role a split may pay.
    pub roles: Vec<String>,
    /// Optional capabilities: [FEATURE_RESOLVE] when the plugin implements
    /// [crate::Plugin::resolve].
    pub features: Vec<String>,
    /// At least one manifest that validate accepts.
    pub examples: Vec<Manifest>,
}

/// The context of a validate call, built by the host.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    #[serde(default)]
    pub tld: String,
    #[serde(default)]
    pub payload_size: u64,
}

/// The input of ron_validate.
#[derive(Clone, Debug)]
pub struct ValidateInput {
    pub manifest: Manifest,
    pub context: Context,
}

/// What the node indexes for search.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// The output of ron_validate. `manifest: None` is the input manifest
/// unchanged (still written in canonical form).
#[derive(Clone, Debug, Default)]
pub struct ValidateOutput {
    pub manifest: Option<Manifest>,
    pub index: Index,
}

/// The input of ron_split.
#[derive(Clone, Debug)]
pub struct SplitInput {
    pub manifest: Manifest,
    pub epoch: String,
    pub amount: u64,
    pub usage: Usage,
}

/// What the host metered for the address during the epoch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub requests: u64,
    #[serde(default)]
    pub bytes: u64,
    /// Never null from the host; null is read as empty all the same.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub servers: Vec<Server>,
}

/// One node that served the address during the epoch.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Server {
    #[serde(default)]
    pub node: String,
    #[serde(default)]
    pub payout: String,
    #[serde(default)]
    pub requests: u64,
    #[serde(default)]
    pub bytes: u64,
}

/// One payment of a split.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Allocation {
    pub payee: String,
    pub role: String,
    pub amount: u64,
}

impl Allocation {
    /// An allocation.
    pub fn new(payee: impl Into<String>, role: impl Into<String>, amount: u64) -> Self {
        Allocation { payee: payee.into(), role: role.into(), amount }
    }
}

/// The input of ron_resolve.
#[derive(Clone, Debug)]
pub struct ResolveInput {
    pub manifest: Manifest,
    pub path: String,
    pub payload_size: u64,
}

/// The output of ron_resolve: a byte range of the payload (status 200) or
/// another HTTP status with no body (404).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolveOutput {
    pub status: u16,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content_type: String,
    #[serde(default)]
    pub offset: u64,
    #[serde(default)]
    pub length: u64,
}

impl ResolveOutput {
    /// Serve `length` bytes of the payload from `offset`.
    pub fn serve(content_type: impl Into<String>, offset: u64, length: u64) -> Self {
        ResolveOutput { status: 200, content_type: content_type.into(), offset, length }
    }

    /// The path does not exist.
    pub fn not_found() -> Self {
        ResolveOutput { status: 404, ..Default::default() }
    }
}

fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}
