//! The Markdown report: the sections of the HTML report as tables.
//!
//! Rendered by minijinja from `templates/report.md` with a formatter that escapes every value
//! the template prints: Markdown punctuation (pipes, backticks, brackets, `<`, `*`, `_` …) gets a
//! backslash, so a peer's text can neither break a table, open a code span or link, nor inject
//! HTML into a renderer that allows it. The template's own text is written as is.

use std::io::Write;

use minijinja::value::ValueKind;
use minijinja::{AutoEscape, Environment, Value};

use crate::html::template_err;
use crate::summary::{Summary, TOP_COUNTRIES};
use crate::view::View;
use crate::{ReportError, ReportInput};

pub fn render(
    input: &ReportInput,
    summary: &Summary,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    let view = View::build(input, summary)?;
    let mut env = Environment::new();
    // A custom escape mode (the formatter below does the escaping) rather than none, so that
    // macro output and `join` results count as already escaped.
    env.set_auto_escape_callback(|_| AutoEscape::Custom("markdown"));
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_formatter(|out, _state, value| {
        match value.kind() {
            ValueKind::None | ValueKind::Undefined => {}
            _ if value.is_safe() => write!(out, "{value}")?,
            ValueKind::String => out.write_str(&escape(value.as_str().unwrap_or_default()))?,
            _ => out.write_str(&escape(&value.to_string()))?,
        }
        Ok(())
    });
    env.add_template("report.md", include_str!("../templates/report.md"))
        .map_err(template_err)?;
    env.add_template("findings.md", include_str!("../templates/findings.md"))
        .map_err(template_err)?;
    let tmpl = env.get_template("report.md").map_err(template_err)?;
    let ctx = minijinja::context! {
        top_countries => TOP_COUNTRIES,
        dread_rows => summary.dread_rows(),
        ..Value::from_serialize(&view)
    };
    let mut text = tmpl.render(ctx).map_err(template_err)?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// Text safe inside a Markdown table cell: ASCII punctuation with a meaning inside a CommonMark
/// or GitHub table cell (emphasis, code, links, HTML, entities, cell borders, strikethrough,
/// math) is backslash-escaped, bare links are broken, line breaks become spaces. Punctuation that only means something
/// at the start of a line (`#`, `-`, `+`, `=`) is left alone: a value never starts a line.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '$' => {
                out.push('\\');
                out.push(c);
            }
            // GitHub turns bare `scheme://` and `www.` into links: an escape breaks the pattern
            // while the text reads the same.
            ':' if chars.peek() == Some(&'/') => out.push_str("\\:"),
            '.' if out.len() >= 3
                && out.as_bytes()[out.len() - 3..].eq_ignore_ascii_case(b"www") =>
            {
                out.push_str("\\.")
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}
