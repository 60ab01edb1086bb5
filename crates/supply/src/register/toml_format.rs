//! The TOML spelling of the register: `[[vendor]]` tables whose keys are [`super::KEYS`].
//!
//! The file is read as a spanned document (`toml::de::DeTable`) rather than through serde
//! structs, so that every key and value keeps its own place: an unknown key, a value of the
//! wrong type or a bad date is reported at its own line, and typed (an unknown key is
//! `UnknownKey`, not a parser message to be matched on).

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::{from_text, Ctx, Device, Key, Row, Shape, Value};
use crate::error::{line_of, RegisterError, RegisterErrorKind};

pub(crate) fn read(text: &str, cx: &Ctx<'_>) -> Result<Vec<Row>, RegisterError> {
    let doc = DeTable::parse(text).map_err(|e| {
        let line = e.span().map_or(0, |s| line_of(text, s.start));
        cx.err(
            line,
            RegisterErrorKind::Syntax(e.message().trim().to_string()),
        )
    })?;
    let at = |span: std::ops::Range<usize>| line_of(text, span.start);
    let mut top: Vec<_> = doc.get_ref().iter().collect();
    top.sort_by_key(|(k, _)| k.span().start);
    let mut rows = Vec::new();
    for (key, value) in top {
        if key.get_ref().as_ref() != "vendor" {
            return Err(cx.err(
                at(key.span()),
                RegisterErrorKind::UnknownKey(key.get_ref().to_string()),
            ));
        }
        let Some(items) = value.get_ref().as_array() else {
            return Err(cx.err(
                at(value.span()),
                RegisterErrorKind::BadValue {
                    key: "vendor".into(),
                    expected: "[[vendor]] tables".into(),
                },
            ));
        };
        for item in items.iter() {
            let line = at(item.span());
            let Some(table) = item.get_ref().as_table() else {
                return Err(cx.err(
                    line,
                    RegisterErrorKind::BadValue {
                        key: "vendor".into(),
                        expected: "[[vendor]] tables".into(),
                    },
                ));
            };
            rows.push(read_vendor(table, line, text, cx)?);
        }
    }
    Ok(rows)
}

fn read_vendor(
    table: &DeTable<'_>,
    line: usize,
    text: &str,
    cx: &Ctx<'_>,
) -> Result<Row, RegisterError> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    let mut fields = Vec::with_capacity(entries.len());
    // The vendor's line is its first key when the table's own span is not more precise.
    let vendor_line = entries
        .first()
        .map_or(line, |(k, _)| line.min(line_of(text, k.span().start)));
    for (k, v) in entries {
        let key_line = line_of(text, k.span().start);
        let Some(key) = Key::parse(k.get_ref()) else {
            return Err(cx.err(
                key_line,
                RegisterErrorKind::UnknownKey(k.get_ref().to_string()),
            ));
        };
        let value = convert(key, v, text, cx)?;
        fields.push((key, key_line, value));
    }
    Ok(Row {
        line: vendor_line,
        fields,
    })
}

fn convert(
    key: Key,
    v: &Spanned<DeValue<'_>>,
    text: &str,
    cx: &Ctx<'_>,
) -> Result<Value, RegisterError> {
    let line = line_of(text, v.span().start);
    let bad = |expected: &str| {
        cx.err(
            line,
            RegisterErrorKind::BadValue {
                key: key.name().into(),
                expected: expected.into(),
            },
        )
    };
    let value = v.get_ref();
    match key.def().shape {
        Shape::Text => value
            .as_str()
            .map(|s| Value::Text(s.trim().to_string()))
            .ok_or_else(|| bad("a string")),
        Shape::List | Shape::Paths => {
            let items = value.as_array().ok_or_else(|| bad("an array of strings"))?;
            let mut out = Vec::with_capacity(items.len());
            for item in items.iter() {
                match item.get_ref().as_str().map(str::trim) {
                    Some(s) if !s.is_empty() => out.push(s.to_string()),
                    _ => {
                        return Err(cx.err(
                            line_of(text, item.span().start),
                            RegisterErrorKind::BadValue {
                                key: key.name().into(),
                                expected: "an array of non-empty strings".into(),
                            },
                        ))
                    }
                }
            }
            Ok(Value::List(out))
        }
        Shape::Bool => value
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| bad("true or false")),
        Shape::Date => {
            let text_value = match value {
                DeValue::String(s) => s.to_string(),
                DeValue::Datetime(d) => d.to_string(),
                _ => return Err(bad("a date, YYYY-MM-DD")),
            };
            from_text(key, &text_value).map_err(|k| cx.err(line, k))
        }
        Shape::Interval => match value {
            DeValue::String(s) => from_text(key, s).map_err(|k| cx.err(line, k)),
            DeValue::Integer(i) => from_text(key, i.as_str()).map_err(|k| cx.err(line, k)),
            _ => Err(cx.err(
                line,
                RegisterErrorKind::BadInterval(format!("a {}", value.type_str())),
            )),
        },
        Shape::Status(_) => match value.as_str() {
            Some(s) => from_text(key, s).map_err(|k| cx.err(line, k)),
            None => Err(bad("a string")),
        },
        Shape::Devices => {
            let items = value
                .as_array()
                .ok_or_else(|| bad("an array of { model = \"…\", firmware = \"…\" }"))?;
            let mut out = Vec::with_capacity(items.len());
            for item in items.iter() {
                out.push(device(item, text, cx)?);
            }
            Ok(Value::Devices(out))
        }
    }
}

fn device(item: &Spanned<DeValue<'_>>, text: &str, cx: &Ctx<'_>) -> Result<Device, RegisterError> {
    let line = line_of(text, item.span().start);
    let bad = |line: usize, expected: &str| {
        cx.err(
            line,
            RegisterErrorKind::BadValue {
                key: "devices".into(),
                expected: expected.into(),
            },
        )
    };
    let table = item
        .get_ref()
        .as_table()
        .ok_or_else(|| bad(line, "a table { model = \"…\", firmware = \"…\" }"))?;
    let mut model = None;
    let mut firmware = None;
    for (k, v) in table.iter() {
        let key_line = line_of(text, k.span().start);
        let s = v.get_ref().as_str().map(str::trim);
        match (k.get_ref().as_ref(), s) {
            ("model", Some(s)) if !s.is_empty() => model = Some(s.to_string()),
            ("firmware", Some(s)) if !s.is_empty() => firmware = Some(s.to_string()),
            ("model" | "firmware", _) => {
                return Err(bad(key_line, "model and firmware as non-empty strings"))
            }
            (other, _) => {
                return Err(cx.err(
                    key_line,
                    RegisterErrorKind::UnknownKey(format!("devices.{other}")),
                ))
            }
        }
    }
    let model = model.ok_or_else(|| bad(line, "a `model` in every device"))?;
    Ok(Device { model, firmware })
}
