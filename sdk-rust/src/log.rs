//! Plugin logs: the host's `log` import in a module (rate-limited and
//! truncated by the host), standard error natively. Logging never changes a
//! result.

/// Log levels of the host's log import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Warn = 2,
    Error = 3,
}

/// Writes msg to the plugin log at level.
pub fn log(level: Level, msg: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::wasm::host_log(level as i32, msg);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("ron {:?}: {}", level, msg);
}

/// Logs at debug level.
pub fn debug(msg: &str) {
    log(Level::Debug, msg)
}

/// Logs at info level.
pub fn info(msg: &str) {
    log(Level::Info, msg)
}

/// Logs at warn level.
pub fn warn(msg: &str) {
    log(Level::Warn, msg)
}

/// Logs at error level.
pub fn error(msg: &str) {
    log(Level::Error, msg)
}
