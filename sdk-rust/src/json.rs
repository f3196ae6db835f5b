//! The input check every document passes before it is decoded, and the
//! canonical JSON writer every output goes through.
//!
//! The check is one pass over the bytes: UTF-8, JSON syntax, nesting depth,
//! duplicate keys, key length, one object and nothing after it. serde_json
//! then decodes only documents that passed, so a handler never sees a
//! duplicate key (serde_json keeps the last one silently) or a document
//! deeper than [crate::MAX_DEPTH].

use std::collections::HashSet;

use serde_json::Value;

use crate::abi::{MAX_DEPTH, MAX_INPUT_BYTES, MAX_KEY_BYTES};
use crate::errors::{codes, FieldError};

fn syntax(at: usize, what: &str) -> FieldError {
    FieldError::new("", codes::SYNTAX, format!("malformed JSON at byte {}: {}", at, what))
}

/// Checks that `b` is one JSON object within the ABI's limits (see the
/// module documentation). The error is a field error with an empty path.
pub fn check_input(b: &[u8]) -> Result<(), FieldError> {
    if b.len() > MAX_INPUT_BYTES {
        return Err(FieldError::new(
            "",
            codes::TOO_LARGE,
            format!("input is {} bytes, the limit is {}", b.len(), MAX_INPUT_BYTES),
        ));
    }
    if let Err(e) = std::str::from_utf8(b) {
        return Err(FieldError::new("", codes::SYNTAX, format!("invalid UTF-8 at byte {}", e.valid_up_to())));
    }
    let mut i = skip_space(b, 0);
    if i >= b.len() {
        return Err(FieldError::new("", codes::SYNTAX, "empty input"));
    }
    if b[i] != b'{' {
        return Err(FieldError::new("", codes::TYPE, "input is not a JSON object"));
    }
    i = value(b, i)?;
    i = skip_space(b, i);
    if i != b.len() {
        return Err(syntax(i, "data after the object"));
    }
    Ok(())
}

fn is_space(c: u8) -> bool {
    c == b' ' || c == b'\t' || c == b'\n' || c == b'\r'
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_space(b[i]) {
        i += 1;
    }
    i
}

/// An object or array being scanned.
struct Frame {
    object: bool,
    start: usize,
    keys: Vec<String>,
    set: Option<HashSet<String>>,
}

impl Frame {
    /// Records key k, reporting whether it was already there.
    fn seen(&mut self, k: String) -> bool {
        if let Some(set) = &mut self.set {
            return !set.insert(k);
        }
        if self.keys.iter().any(|x| *x == k) {
            return true;
        }
        self.keys.push(k);
        if self.keys.len() > 16 {
            self.set = Some(self.keys.drain(..).collect());
        }
        false
    }
}

/// Scans the value at i (no leading space) and returns the index past it.
/// One loop over an explicit stack: no recursion on hostile nesting.
fn value(b: &[u8], mut i: usize) -> Result<usize, FieldError> {
    let mut stack: Vec<Frame> = Vec::new();
    // States: 0 a value starts at i, 1 a value ended at i, 2 a key starts at i.
    let mut state = 0u8;
    loop {
        match state {
            0 => {
                if i >= b.len() {
                    return Err(syntax(i, "unexpected end of input"));
                }
                let c = b[i];
                match c {
                    b'{' | b'[' => {
                        if stack.len() + 1 > MAX_DEPTH {
                            return Err(FieldError::new(
                                "",
                                codes::TOO_LARGE,
                                format!("input nests deeper than {} levels", MAX_DEPTH),
                            ));
                        }
                        stack.push(Frame { object: c == b'{', start: i, keys: Vec::new(), set: None });
                        i = skip_space(b, i + 1);
                        if i < b.len() && b[i] == if c == b'{' { b'}' } else { b']' } {
                            i += 1;
                            stack.pop();
                            state = 1;
                        } else if c == b'{' {
                            state = 2;
                        }
                    }
                    b'"' => {
                        i = string(b, i)?.0;
                        state = 1;
                    }
                    b'-' | b'0'..=b'9' => {
                        i = number(b, i)?;
                        state = 1;
                    }
                    b't' if b[i..].starts_with(b"true") => {
                        i += 4;
                        state = 1;
                    }
                    b'f' if b[i..].starts_with(b"false") => {
                        i += 5;
                        state = 1;
                    }
                    b'n' if b[i..].starts_with(b"null") => {
                        i += 4;
                        state = 1;
                    }
                    _ => return Err(syntax(i, &format!("unexpected {}", quote_byte(c)))),
                }
            }
            1 => {
                let top = match stack.last() {
                    None => return Ok(i),
                    Some(t) => t.object,
                };
                i = skip_space(b, i);
                if i >= b.len() {
                    return Err(syntax(i, "unexpected end of input"));
                }
                match b[i] {
                    b',' => {
                        i = skip_space(b, i + 1);
                        state = if top { 2 } else { 0 };
                    }
                    b'}' if top => {
                        i += 1;
                        stack.pop();
                    }
                    b']' if !top => {
                        i += 1;
                        stack.pop();
                    }
                    c if top => return Err(syntax(i, &format!("want ',' or '}}' in an object, got {}", quote_byte(c)))),
                    c => return Err(syntax(i, &format!("want ',' or ']' in an array, got {}", quote_byte(c)))),
                }
            }
            _ => {
                if i >= b.len() {
                    return Err(syntax(i, "unexpected end of input in an object"));
                }
                if b[i] != b'"' {
                    return Err(syntax(i, &format!("want a member name, got {}", quote_byte(b[i]))));
                }
                let start = i;
                let (end, escaped) = string(b, i)?;
                if end - start - 2 > MAX_KEY_BYTES {
                    return Err(FieldError::new(
                        "",
                        codes::TOO_LARGE,
                        format!("a key of {} bytes at byte {}; keys are at most {} bytes", end - start - 2, start, MAX_KEY_BYTES),
                    ));
                }
                let key = if escaped {
                    match serde_json::from_slice::<String>(&b[start..end]) {
                        Ok(k) => k,
                        Err(e) => return Err(syntax(start, &e.to_string())),
                    }
                } else {
                    // The whole input is valid UTF-8 and quotes are ASCII.
                    String::from_utf8_lossy(&b[start + 1..end - 1]).into_owned()
                };
                let top = stack.last_mut().expect("a key is inside an object");
                if top.seen(key.clone()) {
                    return Err(FieldError::new(
                        "",
                        codes::DUPLICATE,
                        format!("duplicate key {:?} in the object at byte {}", key, top.start),
                    ));
                }
                i = skip_space(b, end);
                if i >= b.len() || b[i] != b':' {
                    return Err(syntax(i, "want ':' after a member name"));
                }
                i = skip_space(b, i + 1);
                state = 0;
            }
        }
    }
}

fn quote_byte(c: u8) -> String {
    if (0x20..0x7f).contains(&c) {
        format!("{:?}", c as char)
    } else {
        format!("byte 0x{:02x}", c)
    }
}

/// Scans the string at i (its opening quote); returns the index past the
/// closing quote and whether it holds escapes.
fn string(b: &[u8], start: usize) -> Result<(usize, bool), FieldError> {
    let mut i = start + 1;
    let mut escaped = false;
    loop {
        i = plain_run(b, i, false);
        if i >= b.len() {
            return Err(syntax(start, "unterminated string"));
        }
        match b[i] {
            b'"' => return Ok((i + 1, escaped)),
            b'\\' => {
                escaped = true;
                match b.get(i + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                    Some(b'u') => {
                        if i + 6 > b.len() || !b[i + 2..i + 6].iter().all(|h| h.is_ascii_hexdigit()) {
                            return Err(syntax(i, "invalid \\u escape"));
                        }
                        i += 6;
                    }
                    Some(&c) => return Err(syntax(i, &format!("invalid escape {}", quote_byte(c)))),
                    None => return Err(syntax(start, "unterminated string")),
                }
            }
            c if c < 0x20 => return Err(syntax(i, &format!("control character {} in a string", quote_byte(c)))),
            _ => i += 1,
        }
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Whether one of x's eight bytes is a control character, '"' or '\\'
/// (bytes from 0x80 up are never flagged: the input is valid UTF-8).
/// With e2, bytes 0xE2 (the lead byte of U+2028 and U+2029) are flagged too.
#[inline]
fn special(x: u64, e2: bool) -> bool {
    let zero = |v: u64| v.wrapping_sub(LO) & !v;
    let ctl = x.wrapping_sub(LO * 0x20) & !x;
    let mut m = ctl | zero(x ^ (LO * b'"' as u64)) | zero(x ^ (LO * b'\\' as u64));
    if e2 {
        m |= zero(x ^ (LO * 0xe2));
    }
    m & HI != 0
}

/// Skips the bytes from i that need nothing in a string, eight at a time
/// (one i64 load in wasm), and returns the index of the first that may.
#[inline]
fn plain_run(b: &[u8], mut i: usize, e2: bool) -> usize {
    while i + 8 <= b.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        if special(u64::from_le_bytes(w), e2) {
            break;
        }
        i += 8;
    }
    i
}

fn digits(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    i
}

fn number(b: &[u8], start: usize) -> Result<usize, FieldError> {
    let mut i = start;
    if b[i] == b'-' {
        i += 1;
    }
    if i < b.len() && b[i] == b'0' {
        i += 1;
    } else {
        let j = digits(b, i);
        if j == i {
            return Err(syntax(start, "invalid number"));
        }
        i = j;
    }
    if i < b.len() && b[i] == b'.' {
        let j = digits(b, i + 1);
        if j == i + 1 {
            return Err(syntax(start, "invalid number"));
        }
        i = j;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let j = digits(b, i);
        if j == i {
            return Err(syntax(start, "invalid number"));
        }
        i = j;
    }
    Ok(i)
}

/// Appends s as a JSON string, escaped as the Go SDK and encoding/json do
/// (without HTML escaping): '"', '\\', control characters, U+2028, U+2029.
pub fn write_string(dst: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    dst.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        i = plain_run(bytes, i, true);
        if i >= bytes.len() {
            break;
        }
        let c = bytes[i];
        if c < 0x80 {
            if c >= 0x20 && c != b'"' && c != b'\\' {
                i += 1;
                continue;
            }
            dst.extend_from_slice(&bytes[start..i]);
            match c {
                b'"' => dst.extend_from_slice(b"\\\""),
                b'\\' => dst.extend_from_slice(b"\\\\"),
                b'\n' => dst.extend_from_slice(b"\\n"),
                b'\r' => dst.extend_from_slice(b"\\r"),
                b'\t' => dst.extend_from_slice(b"\\t"),
                0x08 => dst.extend_from_slice(b"\\b"),
                0x0c => dst.extend_from_slice(b"\\f"),
                _ => dst.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]),
            }
            i += 1;
            start = i;
            continue;
        }
        // U+2028 and U+2029 are E2 80 A8 and E2 80 A9.
        if c == 0xe2 && i + 2 < bytes.len() && bytes[i + 1] == 0x80 && (bytes[i + 2] == 0xa8 || bytes[i + 2] == 0xa9) {
            dst.extend_from_slice(&bytes[start..i]);
            dst.extend_from_slice(if bytes[i + 2] == 0xa8 { b"\\u2028" } else { b"\\u2029" });
            i += 3;
            start = i;
            continue;
        }
        i += 1;
    }
    dst.extend_from_slice(&bytes[start..]);
    dst.push(b'"');
}

/// Appends v in canonical form: compact, object keys sorted by their bytes
/// (serde_json's map is ordered), strings as [write_string] writes them.
pub fn write_value(dst: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => dst.extend_from_slice(b"null"),
        Value::Bool(true) => dst.extend_from_slice(b"true"),
        Value::Bool(false) => dst.extend_from_slice(b"false"),
        Value::Number(n) => dst.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => write_string(dst, s),
        Value::Array(a) => {
            dst.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    dst.push(b',');
                }
                write_value(dst, x);
            }
            dst.push(b']');
        }
        Value::Object(m) => {
            dst.push(b'{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    dst.push(b',');
                }
                write_string(dst, k);
                dst.push(b':');
                write_value(dst, x);
            }
            dst.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_refuses() {
        for ok in [&b"{}"[..], b" {\"a\":[1,-2.5e3,true,false,null,\"x\\u00e9\"]} ", b"{\"a\":{\"b\":{}}}"] {
            assert_eq!(check_input(ok), Ok(()), "{:?}", String::from_utf8_lossy(ok));
        }
        let deep = "[".repeat(100_000);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"".to_vec(), codes::SYNTAX),
            (b"[]".to_vec(), codes::TYPE),
            (b"{\"a\":1} {}".to_vec(), codes::SYNTAX),
            (b"{\"a\":1,\"a\":2}".to_vec(), codes::DUPLICATE),
            (b"{\"a\":1,\"\\u0061\":2}".to_vec(), codes::DUPLICATE),
            (b"{\"a\":\"\xff\"}".to_vec(), codes::SYNTAX),
            (format!("{{\"a\":{}", deep).into_bytes(), codes::TOO_LARGE),
            (format!("{{\"{}\":1}}", "k".repeat(2000)).into_bytes(), codes::TOO_LARGE),
            (b"{\"a\":01}".to_vec(), codes::SYNTAX),
            (b"{\"a\":1.}".to_vec(), codes::SYNTAX),
            (b"{\"a\":\"\x01\"}".to_vec(), codes::SYNTAX),
            (b"{\"a\":nul}".to_vec(), codes::SYNTAX),
            (b"{\"a\":1,}".to_vec(), codes::SYNTAX),
        ];
        for (input, code) in cases {
            match check_input(&input) {
                Err(e) => assert_eq!(e.code, code, "{:?}: {}", String::from_utf8_lossy(&input[..input.len().min(40)]), e),
                Ok(()) => panic!("accepted {:?}", String::from_utf8_lossy(&input[..input.len().min(40)])),
            }
        }
        // Many distinct keys use the set.
        let many: Vec<String> = (0..100).map(|i| format!("\"k{}\":{}", i, i)).collect();
        assert_eq!(check_input(format!("{{{}}}", many.join(",")).as_bytes()), Ok(()));
        let dup = format!("{{{},\"k7\":0}}", many.join(","));
        assert_eq!(check_input(dup.as_bytes()).unwrap_err().code, codes::DUPLICATE);
    }

    #[test]
    fn canonical_strings() {
        let mut out = Vec::new();
        write_string(&mut out, "a\"\\\n\u{1}\u{2028}é");
        assert_eq!(String::from_utf8(out).unwrap(), "\"a\\\"\\\\\\n\\u0001\\u2028é\"");
        // Long runs take the eight-bytes-at-a-time path.
        let long = format!("{}\u{2029}{}\"{}\u{7}é", "x".repeat(13), "y".repeat(9), "z".repeat(20));
        let mut out = Vec::new();
        write_string(&mut out, &long);
        let want = format!("\"{}\\u2029{}\\\"{}\\u0007é\"", "x".repeat(13), "y".repeat(9), "z".repeat(20));
        assert_eq!(String::from_utf8(out).unwrap(), want);
        assert_eq!(check_input(format!("{{\"k\":\"{}\u{1}\"}}", "a".repeat(30)).as_bytes()).unwrap_err().code, codes::SYNTAX);
        assert_eq!(check_input(format!("{{\"k\":\"{}\\q\"}}", "a".repeat(30)).as_bytes()).unwrap_err().code, codes::SYNTAX);
        assert_eq!(check_input(format!("{{\"k\":\"{}é\\n\"}}", "a".repeat(30)).as_bytes()), Ok(()));
        let v: Value = serde_json::from_str("{\"b\":[1,2.5],\"a\":{\"z\":null,\"y\":true}}").unwrap();
        let mut out = Vec::new();
        write_value(&mut out, &v);
        assert_eq!(String::from_utf8(out).unwrap(), "{\"a\":{\"y\":true,\"z\":null},\"b\":[1,2.5]}");
    }
}
