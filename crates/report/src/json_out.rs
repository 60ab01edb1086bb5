//! The JSON report: one document `{report, summary, services, supply, method}`.
//!
//! `services` are the [`Service`](medsurface_model::Service) records exactly as `--json` prints
//! them (the contract field names of product.md), every one of them, honeypots included; the
//! summary says which were counted. JSON escaping makes peer text safe here, so it is not
//! shortened.

use std::io::Write;

use serde::Serialize;

use crate::summary::Summary;
use crate::{Method, ReportError, ReportInput};

#[derive(Serialize)]
struct Document<'a> {
    report: Header<'a>,
    summary: &'a Summary,
    services: &'a [medsurface_model::Service],
    supply: Option<&'a [medsurface_model::supply::VendorSummary]>,
    method: &'a Method,
}

#[derive(Serialize)]
struct Header<'a> {
    title: &'a str,
    generated_at: String,
    scope: &'a str,
    format_version: u32,
}

pub fn render(
    input: &ReportInput,
    summary: &Summary,
    out: &mut dyn Write,
) -> Result<(), ReportError> {
    let doc = Document {
        report: Header {
            title: &input.title,
            generated_at: input.generated_at.to_string(),
            scope: &input.scope,
            format_version: 1,
        },
        summary,
        services: &input.services,
        supply: input.supply.as_deref(),
        method: &input.method,
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(ReportError::Json)?;
    out.write_all(b"\n")?;
    Ok(())
}
