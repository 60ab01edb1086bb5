//! The CSV report: one row per distinct service, highest risk first, honeypots included (the
//! `flags` column says which they are), for spreadsheets.
//!
//! The `csv` crate quotes; on top of that every text cell is cleaned (no control characters,
//! bounded) and a cell starting with `=`, `+`, `-`, `@`, tab or carriage return gets a leading
//! `'`, so a spreadsheet never runs a peer's text as a formula (OWASP "CSV injection").

use std::io::Write;

use medsurface_model::{Factor, Service};

use crate::summary::counted;
use crate::text::clean;
use crate::view::sort_by_risk;
use crate::{ReportError, ReportInput};

const CELL: usize = 500;

/// The columns, in order (the contract fields, then the DREAD ones).
pub const COLUMNS: [&str; 28] = [
    "ip",
    "port",
    "transport",
    "hostname",
    "protocol",
    "category",
    "vendor",
    "product",
    "version",
    "signature",
    "country",
    "asn",
    "org",
    "org_type",
    "source",
    "seen_at",
    "damage",
    "reproducibility",
    "exploitability",
    "affected_users",
    "discoverability",
    "score",
    "severity",
    "vulnerabilities",
    "known_exploited",
    "flags",
    "honeypot_likelihood",
    "honeypot_reasons",
];

pub fn render(input: &ReportInput, out: &mut dyn Write) -> Result<(), ReportError> {
    let mut services = counted(&input.services, true);
    sort_by_risk(&mut services);
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS).map_err(csv_err)?;
    for s in services {
        w.write_record(row(s)).map_err(csv_err)?;
    }
    w.flush()?;
    Ok(())
}

fn row(s: &Service) -> Vec<String> {
    let text = |v: Option<&str>| v.map(cell).unwrap_or_default();
    let mut r = vec![
        s.ip.to_string(),
        s.port.to_string(),
        s.transport.as_str().to_string(),
        text(s.hostname.as_deref()),
        text(s.protocol.as_deref()),
        text(s.category.as_deref()),
        text(s.vendor.as_deref()),
        text(s.product.as_deref()),
        text(s.version.as_deref()),
        text(s.signature.as_deref()),
        text(s.country.as_deref()),
        text(s.asn.as_deref()),
        text(s.org.as_deref()),
        text(s.org_type.as_deref()),
        s.source.as_str().to_string(),
        s.seen_at.to_string(),
    ];
    match &s.dread {
        Some(d) => {
            r.extend(Factor::ALL.iter().map(|f| d.get(*f).to_string()));
            r.push(format!("{:.1}", d.score));
            r.push(d.severity.as_str().to_string());
        }
        None => r.extend(std::iter::repeat_n(String::new(), 7)),
    }
    let ids = |kev_only: bool| {
        cell(
            &s.vulnerabilities
                .iter()
                .filter(|v| !kev_only || v.known_exploited)
                .map(|v| v.id.as_str())
                .collect::<Vec<_>>()
                .join(";"),
        )
    };
    r.push(ids(false));
    r.push(ids(true));
    r.push(cell(&s.flags.join(";")));
    match &s.honeypot {
        Some(h) => {
            r.push(format!("{:.2}", h.likelihood));
            r.push(cell(&h.reasons.join("; ")));
        }
        None => r.extend([String::new(), String::new()]),
    }
    r
}

/// A text cell: cleaned, bounded, formula-neutralised.
pub fn cell(s: &str) -> String {
    // A leading tab or carriage return is itself a formula trigger in some spreadsheets, and
    // cleaning would drop it and expose what follows: neutralise on both forms.
    let leading_control = s.starts_with(['\t', '\r']);
    neutralise(clean(s, CELL), leading_control)
}

fn neutralise(s: String, force: bool) -> String {
    if force || s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s
    }
}

fn csv_err(e: csv::Error) -> ReportError {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => ReportError::Write(io),
        other => ReportError::Csv(format!("{other:?}")),
    }
}
