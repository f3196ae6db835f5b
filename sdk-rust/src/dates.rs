//! ABI v1.1 "dates": TOML dates and times as tagged values (docs/ABI.md §3,
//! "Dates and times").
//!
//! A plugin that lists [FEATURE_DATES] in its description gets every TOML
//! date or time in the manifest (and every string with exactly the host's
//! text of one: in a manifest's content the two are one value) as a tagged
//! object, `{"$date":"1979-05-27"}`, `{"$time":"07:32:00"}`,
//! `{"$datetime_local":"1979-05-27T07:32:00"}` or
//! `{"$datetime":"1979-05-27T07:32:00Z"}`; `[meta]` created and updated as
//! `$datetime` ([crate::Meta] still reads them as strings); and a user's key
//! that begins with `$` with one more `$` (`$$date`). Only the host makes
//! tags. Decode a key that holds a date into a [Date], one whose text a user
//! may write like a date into a [Text]. Hand values back as they came (a
//! plugin that echoes the manifest is always right): the host refuses a tag
//! that does not hold its kind's exact text.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// The feature a plugin declares to get dates and times tagged (ABI v1.1).
pub const FEATURE_DATES: &str = "dates";

/// One of TOML's four kinds of date and time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DateKind {
    /// `$datetime`: an offset date-time, RFC 3339 (`Z` for UTC).
    DateTime,
    /// `$datetime_local`: a local date-time, `1979-05-27T07:32:00[.frac]`.
    DateTimeLocal,
    /// `$date`: a local date, `1979-05-27`.
    Date,
    /// `$time`: a local time, `07:32:00[.frac]`.
    Time,
}

const TAGS: &[&str] = &["$datetime", "$datetime_local", "$date", "$time"];

impl DateKind {
    /// The kind's tag, e.g. `"$date"`.
    pub fn tag(self) -> &'static str {
        match self {
            DateKind::DateTime => "$datetime",
            DateKind::DateTimeLocal => "$datetime_local",
            DateKind::Date => "$date",
            DateKind::Time => "$time",
        }
    }

    /// The kind of a tag, if it is one.
    pub fn from_tag(tag: &str) -> Option<DateKind> {
        match tag {
            "$datetime" => Some(DateKind::DateTime),
            "$datetime_local" => Some(DateKind::DateTimeLocal),
            "$date" => Some(DateKind::Date),
            "$time" => Some(DateKind::Time),
            _ => None,
        }
    }
}

/// A TOML date or time as the host hands it to a plugin that declares
/// [FEATURE_DATES]: its kind and the host's text of it. It decodes only from
/// a tagged object (a plain string is a user's text: decoding one into a
/// `Date` is a "type" field error, "must be a date") and encodes back to the
/// same object.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Date {
    pub kind: DateKind,
    /// The value's text, exactly as the host sent it, e.g. `1979-05-27`.
    pub text: String,
}

impl Date {
    /// The date part `(year, month, day)`, for the kinds that have one.
    pub fn ymd(&self) -> Option<(u32, u32, u32)> {
        if self.kind == DateKind::Time {
            return None;
        }
        let b = self.text.as_bytes();
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        Some((num(&self.text[0..4])?, num(&self.text[5..7])?, num(&self.text[8..10])?))
    }

    /// The time part `(hour, minute, second)`, for the kinds that have one.
    pub fn hms(&self) -> Option<(u32, u32, u32)> {
        let t = match self.kind {
            DateKind::Date => return None,
            DateKind::Time => &self.text[..],
            _ => self.text.get(11..)?,
        };
        let b = t.as_bytes();
        if b.len() < 8 || b[2] != b':' || b[5] != b':' {
            return None;
        }
        Some((num(&t[0..2])?, num(&t[3..5])?, num(&t[6..8])?))
    }
}

fn num(s: &str) -> Option<u32> {
    if s.bytes().all(|c| c.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.kind.tag(), &self.text)?;
        m.end()
    }
}

struct TagVisitor;

impl<'de> Visitor<'de> for TagVisitor {
    type Value = Date;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a TOML date or time, which the host tags: {\"$date\":\"1979-05-27\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Date, A::Error> {
        let key: String = match map.next_key()? {
            Some(k) => k,
            None => return Err(de::Error::invalid_length(0, &self)),
        };
        let kind = match DateKind::from_tag(&key) {
            Some(k) => k,
            None => return Err(de::Error::unknown_field(&key, TAGS)),
        };
        let text: String = map.next_value()?;
        if map.next_key::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(2, &self));
        }
        Ok(Date { kind, text })
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Date, D::Error> {
        d.deserialize_map(TagVisitor)
    }
}

/// A string that also takes a tagged date or time as its text: for a key
/// where a user writes free text that may look like a date (a version
/// `"2025-01-01"` is one value with the date 2025-01-01 in a manifest's
/// content, so a plugin that declared [FEATURE_DATES] receives it tagged).
/// It encodes as a plain string.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Text(pub String);

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Text, E> {
        Ok(Text(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Text, E> {
        Ok(Text(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<Text, A::Error> {
        TagVisitor.visit_map(map).map(|d| Text(d.text))
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Text, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// serde's `deserialize_with` for a `String` field that may arrive tagged
/// ([crate::Meta]'s created and updated).
pub(crate) fn text_or_tag<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Text::deserialize(d).map(|t| t.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Manifest;

    #[test]
    fn dates_decode_from_tags_only() {
        let all: Vec<Date> = serde_json::from_str(
            r#"[{"$datetime":"1979-05-27T07:32:00Z"},{"$datetime_local":"1979-05-27T07:32:00.5"},{"$date":"1979-05-27"},{"$time":"07:32:00"}]"#,
        )
        .unwrap();
        let kinds: Vec<DateKind> = all.iter().map(|d| d.kind).collect();
        assert_eq!(kinds, vec![DateKind::DateTime, DateKind::DateTimeLocal, DateKind::Date, DateKind::Time]);
        assert_eq!(all[2].ymd(), Some((1979, 5, 27)));
        assert_eq!(all[0].hms(), Some((7, 32, 0)));
        assert_eq!(all[3].hms(), Some((7, 32, 0)));
        assert_eq!(all[3].ymd(), None);
        assert_eq!(serde_json::to_string(&all[1]).unwrap(), r#"{"$datetime_local":"1979-05-27T07:32:00.5"}"#);
        for bad in &[
            r#""1979-05-27""#,
            r#"{"$$date":"1979-05-27"}"#,
            r#"{"$date":"1979-05-27","x":1}"#,
            r#"{"$date":19790527}"#,
            r#"{}"#,
            r#"{"$date":{"$date":"1979-05-27"}}"#,
        ] {
            assert!(serde_json::from_str::<Date>(bad).is_err(), "{} decoded as a Date", bad);
        }
    }

    #[test]
    fn text_takes_strings_and_tags() {
        let v: Vec<Text> = serde_json::from_str(r#"["2025-01-01",{"$date":"2025-01-01"}]"#).unwrap();
        assert_eq!(v, vec![Text("2025-01-01".into()), Text("2025-01-01".into())]);
        assert!(serde_json::from_str::<Text>(r#"{"$$date":"2025-01-01"}"#).is_err());
    }

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Table {
        released: Date,
        #[serde(default)]
        at: Option<Date>,
        version: Text,
    }

    #[test]
    fn manifest_tables_and_meta_read_tags() {
        let m = Manifest::must(
            r#"{"meta":{"created":{"$datetime":"1979-05-27T07:32:00Z"},"tld":"t"},"t":{"at":{"$time":"07:32:00"},"released":{"$date":"1979-05-27"},"version":{"$date":"2025-01-01"}}}"#,
        );
        assert_eq!(m.meta().unwrap().created, "1979-05-27T07:32:00Z");
        let t: Table = m.table("t").unwrap();
        assert_eq!(t.released, Date { kind: DateKind::Date, text: "1979-05-27".into() });
        assert_eq!(t.at.unwrap().kind, DateKind::Time);
        assert_eq!(t.version.0, "2025-01-01");
        // The manifest encodes back unchanged: tags and all.
        assert!(m.to_json().contains(r#""released":{"$date":"1979-05-27"}"#));
        // A user's string where a date belongs: a "type" error at the table.
        let m = Manifest::must(r#"{"meta":{"tld":"t"},"t":{"released":"1979-05-27","version":"1"}}"#);
        let err = m.table::<Table>("t").err().expect("a string decoded as a Date");
        assert_eq!(err.errors[0].code, crate::codes::TYPE);
    }
}
