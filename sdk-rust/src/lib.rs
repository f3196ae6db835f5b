//! The Rust SDK for ronhost TLD plugins (ABI v1, docs/ABI.md).
//!
//! A plugin is a type implementing [Plugin], registered once with
//! [register!], built as a `cdylib` for `wasm32-wasi`:
//!
//! ```ignore
//! use ron_plugin::*;
//!
//! pub struct Blog;
//!
//! impl Plugin for Blog {
//!     fn describe(&self, _: &HostInfo) -> Description { ... }
//!     fn validate(&self, input: ValidateInput) -> Result<ValidateOutput> { ... }
//!     fn split(&self, input: SplitInput) -> Result<Vec<Allocation>> { ... }
//! }
//!
//! ron_plugin::register!(Blog);
//! ```
//!
//! The SDK owns the ABI: the `ron` imports, the `ron_abi_v1` marker and the
//! `ron_describe`, `ron_validate`, `ron_split` and `ron_resolve` exports, so
//! a plugin writes no glue. Every call goes through [dispatch], which the
//! exports run and so does the native harness in [testing], so `cargo test`
//! exercises the code the module runs.
//!
//! What [dispatch] guarantees a handler:
//!
//! - the input was checked first: at most 1 MiB, valid UTF-8, one JSON
//!   object nested at most 64 deep, no duplicate key, no key over 1 KiB,
//!   a manifest object with a `[meta]` table holding a `tld`, amounts and
//!   counts within 0..2^53-1; anything else is status 1 with a clear error;
//! - a returned [Rejection] is status 1 with its field errors;
//! - a result that breaks the ABI (a split not adding up, an empty payee, a
//!   range past the payload, a bad description, an output over 1 MiB) is
//!   status 2 with code "contract", so a native test shows the bug;
//! - outputs are deterministic: manifests canonical (object keys sorted,
//!   compact), allocations merged and sorted by (payee, role), servers
//!   handed to split sorted by (payout, node, bytes, requests).
//!
//! A panic traps in a module (wasm32 aborts): the host counts a fault. The
//! panic message goes to the host's log first.
//!
//! The crate depends only on serde, serde_derive and serde_json, which
//! Debian packages: it builds offline with Debian's rustc 1.63.

mod abi;
mod dates;
mod dispatch;
mod errors;
mod json;
pub mod log;
mod manifest;
mod object;
mod rules;
mod split;
pub mod testing;
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod wasm;

pub use abi::*;
pub use dates::{Date, DateKind, Text, FEATURE_DATES};
pub use dispatch::dispatch;
pub use errors::{codes, Errors, FieldError, Rejection, Result};
pub use json::{check_input, write_string, write_value};
pub use manifest::{Manifest, Meta, Payload};
pub use object::{Bytes, NoObject, Object};
pub use rules::{
    check_shares, check_split_parts, normalize_license, valid_cid, valid_payout, valid_tld, SplitPart,
    MAX_LICENSE_BYTES,
};
pub use split::{merge, partition_bps, portion, split_bps, split_weighted, sum, Share, SplitError, Weight};

/// What a TLD plugin implements. Each method is a pure function of its
/// input: the host may memoize results and run calls in fresh or reused
/// instances, in any order.
pub trait Plugin {
    /// The plugin's description. List [FEATURE_RESOLVE] in `features` when
    /// the plugin implements [Plugin::resolve].
    fn describe(&self, host: &HostInfo) -> Description;

    /// Checks a manifest and returns its normalized form and index entry.
    /// Normalization must be idempotent: validating the output returns it.
    fn validate(&self, input: ValidateInput) -> Result<ValidateOutput>;

    /// Divides `input.amount` among payees. The allocations must sum to
    /// exactly the amount and pay only declared roles; their order does not
    /// matter (the SDK merges and sorts them).
    fn split(&self, input: SplitInput) -> Result<Vec<Allocation>>;

    /// Serves a path inside an address: a byte range of the payload or 404.
    /// `obj` reads the payload, only during this call. The default answers
    /// status 1, code "unsupported".
    fn resolve(&self, input: ResolveInput, obj: &mut dyn Object) -> Result<ResolveOutput> {
        let _ = (input, obj);
        Err(Rejection::new("", codes::UNSUPPORTED, "this plugin does not resolve paths"))
    }
}

/// Registers a plugin value (a unit struct, or any expression of a type
/// implementing [Plugin]) as the module's plugin: in a wasm32 build it
/// defines the ABI's marker and entry-point exports; natively it expands to
/// nothing, so the crate's tests link as usual. Use it once per module.
#[macro_export]
macro_rules! register {
    ($plugin:expr) => {
        #[cfg(target_arch = "wasm32")]
        #[no_mangle]
        pub extern "C" fn ron_abi_v1() {}

        #[cfg(target_arch = "wasm32")]
        #[no_mangle]
        pub extern "C" fn ron_describe() -> i32 {
            $crate::wasm::serve(&$plugin, $crate::Entry::Describe)
        }

        #[cfg(target_arch = "wasm32")]
        #[no_mangle]
        pub extern "C" fn ron_validate() -> i32 {
            $crate::wasm::serve(&$plugin, $crate::Entry::Validate)
        }

        #[cfg(target_arch = "wasm32")]
        #[no_mangle]
        pub extern "C" fn ron_split() -> i32 {
            $crate::wasm::serve(&$plugin, $crate::Entry::Split)
        }

        #[cfg(target_arch = "wasm32")]
        #[no_mangle]
        pub extern "C" fn ron_resolve() -> i32 {
            $crate::wasm::serve(&$plugin, $crate::Entry::Resolve)
        }
    };
}
