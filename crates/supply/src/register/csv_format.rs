//! The CSV spelling of the register, for spreadsheet users: a header row of key names (any
//! subset of [`super::KEYS`], in any order, `name` required), then one row per vendor. Lists are
//! `;`-separated inside a cell, devices are `MODEL@FIRMWARE`, an empty cell means "not given".
//! Lines starting with `#` are comments. Errors carry the line of the record (the csv crate's
//! record position), so a register exported from a spreadsheet is fixed where it is wrong.

use super::{from_text, Ctx, Key, Row};
use crate::error::{line_of, RegisterError, RegisterErrorKind};

pub(crate) fn read(text: &str, cx: &Ctx<'_>) -> Result<Vec<Row>, RegisterError> {
    // Spreadsheets write a byte-order mark before the header.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .comment(Some(b'#'))
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let syntax = |e: csv::Error| {
        let line = e.position().map_or(0, |p| record_line(text, p));
        let message = match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!("this row has {len} cells, the header has {expected_len}"),
            csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_string(),
            _ => e.to_string(),
        };
        cx.err(line, RegisterErrorKind::Syntax(message))
    };
    let header_line = {
        let headers = reader.headers().map_err(syntax)?;
        headers.position().map_or(1, |p| record_line(text, p))
    };
    let headers = reader.headers().map_err(syntax)?.clone();
    let mut columns = Vec::with_capacity(headers.len());
    for h in headers.iter() {
        let Some(key) = Key::parse(h) else {
            return Err(cx.err(header_line, RegisterErrorKind::UnknownKey(h.to_string())));
        };
        if columns.contains(&key) {
            return Err(cx.err(header_line, RegisterErrorKind::DuplicateKey(h.to_string())));
        }
        columns.push(key);
    }
    if !columns.contains(&Key::Name) {
        return Err(cx.err(header_line, RegisterErrorKind::Missing("name".into())));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(syntax)?;
        let line = record.position().map_or(0, |p| record_line(text, p));
        let mut fields = Vec::with_capacity(columns.len());
        for (key, cell) in columns.iter().zip(record.iter()) {
            if cell.trim().is_empty() {
                continue;
            }
            let value = from_text(*key, cell).map_err(|k| cx.err(line, k))?;
            fields.push((*key, line, value));
        }
        rows.push(Row { line, fields });
    }
    Ok(rows)
}

/// The line a record starts on. The csv crate's position of a record that follows comment or
/// blank lines is the start of those lines, so they are skipped here.
fn record_line(text: &str, p: &csv::Position) -> usize {
    let start = usize::try_from(p.byte())
        .unwrap_or(usize::MAX)
        .min(text.len());
    let mut line = line_of(text, start);
    let mut rest = text.get(start..).unwrap_or("");
    while let Some((first, tail)) = rest.split_once('\n') {
        let t = first.trim();
        if !(t.is_empty() || t.starts_with('#')) {
            break;
        }
        line += 1;
        rest = tail;
    }
    line
}
