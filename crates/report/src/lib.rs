//! Reports of medsurface results, for people: one self-contained HTML file with charts,
//! Markdown, CSV and JSON.
//!
//! A report is a pure function of the [`Service`] records (already classified, enriched and
//! assessed) plus a few words about where they came from ([`ReportInput`]). The crate never
//! opens the store or runs the assessment: the binary does that and hands the records over, so
//! the same input always renders the same report and tests need no database.
//!
//! Every format is computed from one [`Summary`], so HTML, Markdown and JSON cannot disagree on a
//! number. Text that came from peers is hostile: it is cleaned ([`text::clean`]: no control
//! characters, bounded) before any renderer sees it, then escaped for the format (HTML
//! autoescaping, Markdown backslashes, CSV quoting with formula neutralisation). Charts are drawn
//! by plotters on its SVG backend and inlined, and the HTML page carries a Content-Security-Policy
//! that forbids every request, so opening a report never tells anyone it was opened.

mod chart;
mod csv_out;
mod html;
mod json_out;
mod markdown;
pub mod remediation;
pub mod summary;
pub mod text;
mod view;

use std::fmt;
use std::io::Write;

use medsurface_model::supply::VendorSummary;
use medsurface_model::{Service, Timestamp};
use serde::Serialize;

pub use chart::{bar_chart_svg, histogram_svg, BAR_COLOR};
pub use html::{CONTENT_SECURITY_POLICY, SECTIONS};
pub use remediation::Remediation;
pub use summary::Summary;

/// The output formats of `medsurface report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// One self-contained HTML file with inline CSS and SVG charts.
    Html,
    /// The same sections as Markdown tables.
    Markdown,
    /// One row per service.
    Csv,
    /// One document: summary, services, supply chain, method.
    Json,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Html, Format::Markdown, Format::Csv, Format::Json];

    /// The name used on the command line (`html`, `md`, `csv`, `json`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Markdown => "md",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    /// Parses a command-line name; `markdown` is accepted for `md`.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "markdown" => Some(Format::Markdown),
            _ => Format::ALL.into_iter().find(|f| f.as_str() == s),
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the numbers were made, printed in the report's method section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Method {
    /// Which DREAD rubric rated the services (its id and file, e.g. `builtin risk/dread.toml`).
    pub rubric: String,
    /// The score formula and severity bands, in words.
    pub formula: String,
    /// Where the data came from (e.g. `scan 3 (2026-11-28)`, `shodan export x.jsonl`,
    /// `GeoLite2-Country 2026-11-01`, `CISA KEV 2026-11-20`).
    pub sources: Vec<String>,
    /// medsurface's version.
    pub tool_version: String,
}

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct ReportInput {
    pub title: String,
    pub generated_at: Timestamp,
    /// What the report covers, in words (`scan 3`, `all services`).
    pub scope: String,
    /// Classified, enriched and assessed services. Repeated (ip, port, transport) count once.
    pub services: Vec<Service>,
    /// Count services flagged `likely-honeypot` in the headline numbers (default: no; the
    /// report says how many were left out).
    pub include_honeypots: bool,
    /// Supply-chain rows; the section appears only when this is `Some`.
    pub supply: Option<Vec<VendorSummary>>,
    pub method: Method,
    /// At most this many rows in the HTML and Markdown findings tables (highest risk first);
    /// `None` shows all. CSV and JSON always hold every service.
    pub findings_limit: Option<usize>,
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// plotters failed to draw a chart.
    #[error("drawing a chart: {0}")]
    Chart(String),
    /// A template failed to render (a bug in a template, not in the data).
    #[error("rendering the report template: {0}")]
    Template(String),
    /// The remediation advice file is invalid.
    #[error("{file}:{line}: {message}")]
    Remediation {
        file: String,
        line: usize,
        message: String,
    },
    /// Writing the output failed.
    #[error("writing the report: {0}")]
    Write(#[from] std::io::Error),
    /// The CSV writer failed.
    #[error("writing CSV: {0}")]
    Csv(String),
    /// JSON serialisation failed.
    #[error("writing JSON: {0}")]
    Json(#[source] serde_json::Error),
}

/// Writes the report of `input` in `format` to `out`.
pub fn render(format: Format, input: &ReportInput, out: &mut dyn Write) -> Result<(), ReportError> {
    let summary = Summary::compute(&input.services, input.include_honeypots);
    match format {
        Format::Html => html::render(input, &summary, out),
        Format::Markdown => markdown::render(input, &summary, out),
        Format::Csv => csv_out::render(input, out),
        Format::Json => json_out::render(input, &summary, out),
    }?;
    out.flush()?;
    Ok(())
}

/// [`render`] into a string (for tests and small reports).
pub fn render_to_string(format: Format, input: &ReportInput) -> Result<String, ReportError> {
    let mut buf = Vec::new();
    render(format, input, &mut buf)?;
    String::from_utf8(buf).map_err(|e| ReportError::Template(format!("output is not UTF-8: {e}")))
}

#[cfg(test)]
mod tests;
