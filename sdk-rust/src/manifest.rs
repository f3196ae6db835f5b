//! The manifest document: a Manifest.toml decoded to JSON by the host.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::abi::{TABLE_META, TABLE_PAYLOAD};
use crate::errors::{codes, FieldError, Rejection, Result};

/// A manifest: every top-level key it was given, so a plugin that
/// normalizes only its own table passes the rest through unchanged. It
/// encodes canonically: compact, object keys sorted recursively.
///
/// Typed access: [Manifest::meta] and [Manifest::payload] for the host's
/// tables, [Manifest::table] to decode the plugin's own table into a serde
/// type and [Manifest::set] to write its normalized form back.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Manifest {
    tables: Map<String, Value>,
}

/// The typed view of the host-owned [meta] table, as the node checks it:
/// `tld` is always there; the rest is optional. `price` is what one access
/// costs in integer minor units (0, free, when absent); the host meters it
/// and settles it per epoch through ron_split.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub tld: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// RFC 3339 with an offset (read from a `$datetime` tag too, ABI v1.1).
    #[serde(default, skip_serializing_if = "String::is_empty", deserialize_with = "crate::dates::text_or_tag")]
    pub created: String,
    /// RFC 3339 with an offset (read from a `$datetime` tag too, ABI v1.1).
    #[serde(default, skip_serializing_if = "String::is_empty", deserialize_with = "crate::dates::text_or_tag")]
    pub updated: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub license: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
    #[serde(default)]
    pub price: u64,
}

/// The typed view of the host-owned [payload] table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// "b3:<64 hex>".
    pub cid: String,
    pub size: u64,
    /// "type/subtype", lowercase.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filename: String,
}

impl Manifest {
    /// An empty manifest.
    pub fn new() -> Self {
        Manifest::default()
    }

    /// Parses a manifest in its JSON form; it must be a JSON object.
    pub fn parse(json: &str) -> std::result::Result<Manifest, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// Parses a manifest literal (examples, tests); panics on malformed JSON.
    pub fn must(json: &str) -> Manifest {
        match Manifest::parse(json) {
            Ok(m) => m,
            Err(e) => panic!("ron_plugin: manifest literal: {}", e),
        }
    }

    /// The top-level keys, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tables.keys().map(|k| k.as_str())
    }

    /// Whether the manifest has the top-level key.
    pub fn has(&self, name: &str) -> bool {
        self.tables.contains_key(name)
    }

    /// The value of a top-level key.
    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.tables.get(name)
    }

    /// Decodes the top-level key `name` into a serde type. Write the type
    /// with `#[serde(deny_unknown_fields)]` to refuse keys it does not know.
    /// A missing table is code "required" at `name`; a missing field
    /// "required", an unknown one "unknown" and a duplicate one "duplicate"
    /// at `name.field`; a value of the wrong type "type" at `name`.
    pub fn table<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        match self.tables.get(name) {
            None => Err(Rejection::new(name, codes::REQUIRED, format!("the manifest has no [{}] table", name))),
            Some(v) => T::deserialize(v).map_err(|e| decode_error(name, &e).into()),
        }
    }

    /// The host-owned [meta] table (other keys in it are ignored here and
    /// kept in the manifest).
    pub fn meta(&self) -> Result<Meta> {
        self.table(TABLE_META)
    }

    /// The host-owned [payload] table.
    pub fn payload(&self) -> Result<Payload> {
        self.table(TABLE_PAYLOAD)
    }

    /// Replaces (or adds) the top-level key `name` with `v` encoded, usually
    /// the plugin's normalized table. The host's tables cannot be set.
    pub fn set<T: Serialize>(&mut self, name: &str, v: &T) -> Result<()> {
        if name == TABLE_META || name == TABLE_PAYLOAD {
            return Err(Rejection::new(name, codes::CONTRACT, format!("the [{}] table is owned by the host", name)));
        }
        let value = serde_json::to_value(v).map_err(|e| Rejection::new(name, codes::CONTRACT, e.to_string()))?;
        self.tables.insert(name.to_string(), value);
        Ok(())
    }

    /// Removes the top-level key (host-owned tables excepted).
    pub fn delete(&mut self, name: &str) {
        if name != TABLE_META && name != TABLE_PAYLOAD {
            self.tables.remove(name);
        }
    }

    /// The canonical JSON encoding.
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        self.write_canonical(&mut out);
        String::from_utf8(out).expect("canonical JSON is UTF-8")
    }

    /// Appends the canonical JSON encoding to dst.
    pub fn write_canonical(&self, dst: &mut Vec<u8>) {
        dst.push(b'{');
        for (i, (k, v)) in self.tables.iter().enumerate() {
            if i > 0 {
                dst.push(b',');
            }
            crate::json::write_string(dst, k);
            dst.push(b':');
            crate::json::write_value(dst, v);
        }
        dst.push(b'}');
    }
}

impl std::fmt::Display for Manifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_json())
    }
}

/// Turns a serde error into a field error under `prefix`.
pub(crate) fn decode_error(prefix: &str, e: &serde_json::Error) -> FieldError {
    let msg = e.to_string();
    let named = |rest: &str| -> String {
        let name = rest.split('`').nth(1).unwrap_or("");
        if name.is_empty() {
            prefix.to_string()
        } else if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{}", prefix, name)
        }
    };
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        return FieldError::new(named(rest), codes::UNKNOWN, msg.clone());
    }
    if let Some(rest) = msg.strip_prefix("missing field ") {
        return FieldError::new(named(rest), codes::REQUIRED, msg.clone());
    }
    if let Some(rest) = msg.strip_prefix("duplicate field ") {
        return FieldError::new(named(rest), codes::DUPLICATE, msg.clone());
    }
    if msg.starts_with("invalid type") {
        return FieldError::new(prefix, codes::TYPE, msg);
    }
    if msg.starts_with("invalid value") || msg.starts_with("invalid length") {
        return FieldError::new(prefix, codes::RANGE, msg);
    }
    FieldError::new(prefix, codes::INVALID, msg)
}
