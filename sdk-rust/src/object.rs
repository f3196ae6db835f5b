//! The payload being resolved, readable only during ron_resolve.

use std::io;

/// The payload of a resolve call. In a module its reads are the host's
/// object_read import; natively, whatever the test gave the harness.
pub trait Object {
    /// The payload's size in bytes.
    fn size(&self) -> u64;
    /// Reads up to buf.len() bytes from offset; Ok(0) at or past the end.
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize>;

    /// Reads buf.len() bytes from offset unless the payload ends first;
    /// returns how many it read.
    fn read_full_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            let got = self.read_at(&mut buf[n..], offset + n as u64)?;
            if got == 0 {
                break;
            }
            n += got;
        }
        Ok(n)
    }
}

/// No payload: every read fails (outside ron_resolve, or in a test that
/// gave none).
pub struct NoObject;

impl Object for NoObject {
    fn size(&self) -> u64 {
        0
    }
    fn read_at(&mut self, _: &mut [u8], _: u64) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::Other, "ron: no object to read"))
    }
}

/// A payload in memory, for native tests.
pub struct Bytes<'a>(pub &'a [u8]);

impl Object for Bytes<'_> {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        if offset >= self.0.len() as u64 {
            return Ok(0);
        }
        let rest = &self.0[offset as usize..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }
}

/// An object bounded by the payload size the input declares.
pub(crate) struct Bounded<'a> {
    pub inner: &'a mut dyn Object,
    pub size: u64,
}

impl Object for Bounded<'_> {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        if offset >= self.size {
            return Ok(0);
        }
        let n = (self.size - offset).min(buf.len() as u64) as usize;
        self.inner.read_at(&mut buf[..n], offset)
    }
}
