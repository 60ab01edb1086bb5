//! Lenient JSON field types: "anything may be null or missing" (field-notes.md), and a field of
//! the wrong type is read as absent instead of failing the whole record.
//!
//! serde's derive fails a record when one field has an unexpected type (Shodan's `ssl.cert.serial`
//! is a float, `location.city` may be null, `http` may be null). These wrappers accept any JSON
//! value, keep it when it has the expected shape and skip it otherwise, in one pass and without
//! copying strings that need no unescaping. Only malformed JSON fails a record.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// The next key of an object, borrowed from the record when it has no escapes (serde's own
/// `Cow<str>` always copies).
fn next_key<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Cow<'de, str>>, A::Error> {
    Ok(map
        .next_key::<LStr<'de>>()?
        .map(|k| k.0.unwrap_or_default()))
}

/// A string, or `None` for anything else (numbers included: an address or a name that came as a
/// number is not trusted to mean what a string would).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LStr<'a>(pub Option<Cow<'a, str>>);

impl<'a> LStr<'a> {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for LStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = LStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(LStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LStr(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(LStr(Some(Cow::Owned(v))))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(LStr(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(LStr(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(LStr(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(LStr(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(LStr(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(LStr(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq).map(|_| LStr(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map).map(|_| LStr(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A number (integer, or a float with no fraction, or a decimal string), else `None`.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct LInt(pub Option<i64>);

impl<'de> Deserialize<'de> for LInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LInt;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_i64<E>(self, v: i64) -> Result<LInt, E> {
                Ok(LInt(Some(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<LInt, E> {
                Ok(LInt(i64::try_from(v).ok()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<LInt, E> {
                let ok = v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15;
                Ok(LInt(ok.then_some(v as i64)))
            }
            fn visit_str<E>(self, v: &str) -> Result<LInt, E> {
                Ok(LInt(v.trim().parse().ok()))
            }
            fn visit_bool<E>(self, _: bool) -> Result<LInt, E> {
                Ok(LInt(None))
            }
            fn visit_unit<E>(self) -> Result<LInt, E> {
                Ok(LInt(None))
            }
            fn visit_none<E>(self) -> Result<LInt, E> {
                Ok(LInt(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<LInt, A::Error> {
                drain_seq(seq).map(|_| LInt(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LInt, A::Error> {
                drain_map(map).map(|_| LInt(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A boolean, else `None`.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct LBool(pub Option<bool>);

impl<'de> Deserialize<'de> for LBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LBool;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<LBool, E> {
                Ok(LBool(Some(v)))
            }
            fn visit_i64<E>(self, _: i64) -> Result<LBool, E> {
                Ok(LBool(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<LBool, E> {
                Ok(LBool(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<LBool, E> {
                Ok(LBool(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<LBool, E> {
                Ok(LBool(None))
            }
            fn visit_unit<E>(self) -> Result<LBool, E> {
                Ok(LBool(None))
            }
            fn visit_none<E>(self) -> Result<LBool, E> {
                Ok(LBool(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<LBool, A::Error> {
                drain_seq(seq).map(|_| LBool(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LBool, A::Error> {
                drain_map(map).map(|_| LBool(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A list whose items are read leniently; anything but a list is an empty list. At most
/// [`LIST_CAP`] items are kept (the rest are skipped), so a hostile record cannot make one
/// observation arbitrarily large.
#[derive(Debug, Clone, PartialEq)]
pub struct LList<T>(pub Vec<T>);

/// Most items kept from one list.
pub const LIST_CAP: usize = 256;

impl<T> Default for LList<T> {
    fn default() -> Self {
        LList(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for LList<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = LList<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while out.len() < LIST_CAP {
                    match seq.next_element::<T>()? {
                        Some(v) => out.push(v),
                        None => return Ok(LList(out)),
                    }
                }
                drain_seq(seq).map(|_| LList(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map).map(|_| LList::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(LList::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(LList::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(LList::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(LList::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(LList::default())
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(LList::default())
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(LList::default())
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// An object read as `T` (whose fields should themselves be lenient); anything but an object is
/// `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Obj<T>(pub Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

impl<T> Obj<T> {
    pub fn get(&self) -> Option<&T> {
        self.0.as_ref()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|v| Obj(Some(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq).map(|_| Obj(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Obj(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// The keys of an object (values skipped), at most [`LIST_CAP`]; anything else is empty. Shodan's
/// `vulns` is `{CVE-id: {...}}`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Keys<'a>(pub Vec<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Keys<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Keys<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys<'a>, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = next_key(&mut map)? {
                    map.next_value::<IgnoredAny>()?;
                    if out.len() < LIST_CAP {
                        out.push(k);
                    }
                }
                Ok(Keys(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Keys<'a>, A::Error> {
                drain_seq(seq).map(|_| Keys::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<Keys<'a>, E> {
                Ok(Keys::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<Keys<'a>, E> {
                Ok(Keys::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<Keys<'a>, E> {
                Ok(Keys::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<Keys<'a>, E> {
                Ok(Keys::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<Keys<'a>, E> {
                Ok(Keys::default())
            }
            fn visit_unit<E>(self) -> Result<Keys<'a>, E> {
                Ok(Keys::default())
            }
            fn visit_none<E>(self) -> Result<Keys<'a>, E> {
                Ok(Keys::default())
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// An object of string values in document order (a certificate's subject `{"CN": …, "O": …}`);
/// non-string values are skipped; anything but an object is empty. Names and values without
/// escapes are borrowed from the record, like [`LStr`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Pairs<'a>(pub Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl Pairs<'_> {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Pairs<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Pairs<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs<'a>, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = next_key(&mut map)? {
                    let v = map.next_value::<LStr<'de>>()?;
                    if let (Some(v), true) = (v.0, out.len() < 64) {
                        out.push((k, v));
                    }
                }
                Ok(Pairs(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Pairs<'a>, A::Error> {
                drain_seq(seq).map(|_| Pairs::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<Pairs<'a>, E> {
                Ok(Pairs::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<Pairs<'a>, E> {
                Ok(Pairs::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<Pairs<'a>, E> {
                Ok(Pairs::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<Pairs<'a>, E> {
                Ok(Pairs::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<Pairs<'a>, E> {
                Ok(Pairs::default())
            }
            fn visit_unit<E>(self) -> Result<Pairs<'a>, E> {
                Ok(Pairs::default())
            }
            fn visit_none<E>(self) -> Result<Pairs<'a>, E> {
                Ok(Pairs::default())
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct T<'a> {
        #[serde(borrow)]
        s: LStr<'a>,
        n: LInt,
        b: LBool,
        #[serde(borrow)]
        l: LList<LStr<'a>>,
        o: Obj<Inner>,
        #[serde(borrow)]
        k: Keys<'a>,
        #[serde(borrow)]
        p: Pairs<'a>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Inner {
        n: LInt,
    }

    #[test]
    fn wrong_types_are_absent_not_errors() {
        let t: T = serde_json::from_str(
            r#"{"s": 5, "n": "x", "b": "true", "l": {"a": 1}, "o": [1, {"n": 2}], "k": null, "p": 3}"#,
        )
        .unwrap();
        assert_eq!(t.s.get(), None);
        assert_eq!(t.n.0, None);
        assert_eq!(t.b.0, None);
        assert!(t.l.0.is_empty() && t.o.0.is_none() && t.k.0.is_empty() && t.p.0.is_empty());
    }

    #[test]
    fn right_types_are_kept() {
        let t: T = serde_json::from_str(
            r#"{"s": "a\nb", "n": 4.0e3, "b": true, "l": ["x", 1, null, "y"], "o": {"n": "7"},
                "k": {"CVE-1": {"cvss": 1}, "CVE-2": null}, "p": {"CN": "h", "O": "Org", "x": 1}}"#,
        )
        .unwrap();
        assert_eq!(t.s.get(), Some("a\nb"));
        assert_eq!(t.n.0, Some(4000));
        assert_eq!(t.b.0, Some(true));
        let l: Vec<_> = t.l.0.iter().filter_map(|s| s.get()).collect();
        assert_eq!(l, ["x", "y"]);
        assert_eq!(t.o.get().unwrap().n.0, Some(7));
        assert_eq!(t.k.0, ["CVE-1", "CVE-2"]);
        assert_eq!(t.p.get("O"), Some("Org"));
        assert_eq!(t.p.0.len(), 2);
        // A float serial number (Shodan's ssl.cert.serial) is not an integer.
        let n: LInt = serde_json::from_str("1.2345678901234567e+38").unwrap();
        assert_eq!(n.0, None);
    }

    #[test]
    fn lists_are_capped() {
        let json = format!("[{}]", vec!["\"a\""; LIST_CAP + 10].join(","));
        let l: LList<LStr> = serde_json::from_str(&json).unwrap();
        assert_eq!(l.0.len(), LIST_CAP);
    }
}
