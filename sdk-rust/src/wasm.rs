//! The ABI's imports and the glue [crate::register] exports call. Only in a
//! wasm32 build.

use std::io;
use std::sync::Once;

use crate::abi::Entry;
use crate::object::{NoObject, Object};
use crate::Plugin;

#[link(wasm_import_module = "ron")]
extern "C" {
    fn input_len() -> i32;
    fn input_read(dst: *mut u8);
    fn output_set(ptr: *const u8, len: i32);
    fn log(level: i32, ptr: *const u8, len: i32);
    fn object_read(offset: i64, dst: *mut u8, len: i32) -> i32;
}

pub(crate) fn host_log(level: i32, msg: &str) {
    if !msg.is_empty() {
        unsafe { log(level, msg.as_ptr(), msg.len() as i32) }
    }
}

/// The payload through object_read.
struct HostObject;

impl Object for HostObject {
    fn size(&self) -> u64 {
        0 // the dispatcher bounds reads by the input's payload_size
    }
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let n = buf.len().min(1 << 30) as i32;
        let got = unsafe { object_read(offset as i64, buf.as_mut_ptr(), n) };
        if got < 0 {
            return Err(io::Error::new(io::ErrorKind::Other, "ron: object_read failed"));
        }
        Ok(got as usize)
    }
}

static PANIC_HOOK: Once = Once::new();

/// Reads the input, dispatches and hands the output to the host. A panic
/// traps (wasm32 aborts on panic); its message reaches the host's log first.
#[doc(hidden)]
pub fn serve<P: Plugin>(p: &P, entry: Entry) -> i32 {
    PANIC_HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| crate::log::error(&format!("panic: {}", info))));
    });
    let n = unsafe { input_len() }.max(0) as usize;
    let mut input = vec![0u8; n];
    if n > 0 {
        unsafe { input_read(input.as_mut_ptr()) }
    }
    let (status, output) = if entry == Entry::Resolve {
        crate::dispatch::dispatch(p, entry, &input, &mut HostObject)
    } else {
        crate::dispatch::dispatch(p, entry, &input, &mut NoObject)
    };
    if !output.is_empty() {
        unsafe { output_set(output.as_ptr(), output.len() as i32) }
    }
    status
}
