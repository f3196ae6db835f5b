//! Field errors and rejections: what status 1 carries.

use std::fmt;

/// Common field error codes. Plugins may use others; codes are short
/// lowercase words a program can match.
pub mod codes {
    /// A needed key is missing.
    pub const REQUIRED: &str = "required";
    /// The value has the wrong JSON type.
    pub const TYPE: &str = "type";
    /// A number is out of range.
    pub const RANGE: &str = "range";
    /// A string does not have the required form.
    pub const FORMAT: &str = "format";
    /// A key the plugin does not know.
    pub const UNKNOWN: &str = "unknown";
    /// A value that must be unique is repeated.
    pub const DUPLICATE: &str = "duplicate";
    /// Anything else.
    pub const INVALID: &str = "invalid";
    /// The input is not acceptable JSON.
    pub const SYNTAX: &str = "syntax";
    /// The input exceeds a limit.
    pub const TOO_LARGE: &str = "too-large";
    /// The plugin does not support this call or version.
    pub const UNSUPPORTED: &str = "unsupported";
    /// Basis points that do not total 10000.
    pub const SUM: &str = "sum";
    /// A license identifier the plugin does not know.
    pub const LICENSE: &str = "license";
    /// Status 2: a result breaks the ABI (the SDK found it before the host).
    pub const CONTRACT: &str = "contract";
}

/// One problem with an input, at a dotted path into the manifest or input
/// document ("notes.authors[1].share"; "" for the whole input).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct FieldError {
    pub path: String,
    pub code: String,
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(path: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { path: path.into(), code: code.into(), message: message.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.code, self.message)
        } else {
            write!(f, "{}: {}: {}", self.path, self.code, self.message)
        }
    }
}

/// The error a handler returns to reject its input: status 1 with
/// `{"errors":[{"path","code","message"}...]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rejection {
    pub errors: Vec<FieldError>,
}

impl Rejection {
    /// A rejection with one field error.
    pub fn new(path: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        Rejection { errors: vec![FieldError::new(path, code, message)] }
    }

    /// A rejection with one error of code "invalid" and no path, for a plain
    /// message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Rejection::new("", codes::INVALID, message)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ron: rejected")?;
        for (i, e) in self.errors.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{}", e)?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejection {}

impl From<FieldError> for Rejection {
    fn from(e: FieldError) -> Self {
        Rejection { errors: vec![e] }
    }
}

impl From<String> for Rejection {
    fn from(message: String) -> Self {
        Rejection::invalid(message)
    }
}

impl From<&str> for Rejection {
    fn from(message: &str) -> Self {
        Rejection::invalid(message)
    }
}

/// The result of a handler.
pub type Result<T> = std::result::Result<T, Rejection>;

/// Accumulates field errors so a validator reports every problem at once.
///
/// ```
/// use ron_plugin::{codes, Errors};
/// let mut errs = Errors::new();
/// errs.add("blog.title", codes::REQUIRED, "a post needs a title");
/// assert!(errs.into_result().is_err());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Errors {
    list: Vec<FieldError>,
}

impl Errors {
    /// No errors yet.
    pub fn new() -> Self {
        Errors::default()
    }

    /// Records a field error.
    pub fn add(&mut self, path: impl Into<String>, code: impl Into<String>, message: impl Into<String>) {
        self.list.push(FieldError::new(path, code, message));
    }

    /// Records every error of a rejection.
    pub fn extend(&mut self, r: Rejection) {
        self.list.extend(r.errors);
    }

    /// Records a field error (its path kept).
    pub fn push(&mut self, e: FieldError) {
        self.list.push(e);
    }

    /// The number of recorded errors.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Ok(()) when nothing was recorded, else the rejection with the errors
    /// sorted by (path, code, message), so the output does not depend on the
    /// order they were found in.
    pub fn into_result(self) -> Result<()> {
        if self.list.is_empty() {
            return Ok(());
        }
        let mut list = self.list;
        list.sort();
        Err(Rejection { errors: list })
    }

    /// Like into_result, without consuming the list.
    pub fn check(&self) -> Result<()> {
        self.clone().into_result()
    }
}
