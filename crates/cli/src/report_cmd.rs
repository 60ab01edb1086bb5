//! `medsurface report`: the stored services (all, or one scan's), enriched and assessed by the
//! read-side stages, written as one self-contained HTML file, Markdown, CSV or JSON.
//! `--fail-on BAND` exits 1 when a counted finding is at or above the band (for cron or CI).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use medsurface_analyze::risk::{CRITICAL_FROM, HIGH_FROM, MEDIUM_FROM};
use medsurface_model::{ScanId, Service, Severity, Timestamp};
use medsurface_report::{Format, Method, ReportInput};
use medsurface_store::{ServiceFilter, SqliteStore, Store};

use crate::cli::ReportArgs;
use crate::exit::{Exit, InputError};
use crate::scan_cmd::db_path;
use crate::view::View;

/// The score formula as reports print it; the numbers come from the rubric code.
pub fn formula() -> String {
    format!(
        "Each DREAD factor (0–10) is the highest value any matching rubric rule sets, and the \
         rule that set it is its evidence. Score = mean of the five factors, one decimal. \
         Bands: critical ≥ {CRITICAL_FROM:.1}, high ≥ {HIGH_FROM:.1}, medium ≥ \
         {MEDIUM_FROM:.1}, low below."
    )
}

/// The services a report or gate looks at: one scan's (as it saw them) or all stored.
pub fn load_services(store: &SqliteStore, scan: Option<i64>) -> Result<Vec<Service>> {
    Ok(match scan {
        Some(id) => store.scan_services(ScanId(id))?,
        None => store
            .services(&ServiceFilter::default())?
            .into_iter()
            .map(|s| s.service)
            .collect(),
    })
}

/// The counted services at or above `band`.
pub fn at_or_above(view: &View, services: &[Service], band: Severity) -> usize {
    services
        .iter()
        .filter(|s| view.counts(s))
        .filter(|s| s.dread.as_ref().is_some_and(|d| d.severity >= band))
        .count()
}

pub fn run(args: ReportArgs) -> Result<Exit> {
    let format = Format::parse(&args.format).ok_or_else(|| {
        InputError(format!(
            "--format {:?}: one of html, md, csv, json",
            args.format
        ))
    })?;
    let db = db_path(args.store.db.clone())?;
    let store = SqliteStore::open(&db)?;
    let view = View::load(&args.view)?;
    let mut services = load_services(&store, args.scan)?;
    view.prepare(&mut services);
    let supply = match &args.vendors {
        None => None,
        Some(register) => Some(
            medsurface_supply::vendor_summaries(
                register,
                &medsurface_supply::Inputs {
                    services: &services,
                    vulns: &view.vuln_sources,
                    today: jiff::ZonedDateTime::now().date(),
                },
            )
            .map_err(|e| InputError(format!("--vendors: {e}")))?,
        ),
    };
    let scope = match args.scan {
        Some(id) => format!("scan {id}"),
        None => "all stored services".to_owned(),
    };
    let mut sources = vec![format!("store {}", db.display())];
    if let Some(id) = args.scan {
        let meta = store.scan(ScanId(id))?;
        sources.push(format!("scan {id} started {}", meta.started_at));
    }
    let input = ReportInput {
        title: args
            .title
            .clone()
            .unwrap_or_else(|| "medsurface exposure report".to_owned()),
        generated_at: Timestamp::now(),
        scope,
        services,
        include_honeypots: view.include_honeypots,
        supply,
        method: Method {
            rubric: view.rubric_source.clone(),
            formula: formula(),
            sources,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        findings_limit: (args.limit > 0).then_some(args.limit),
    };
    write_report(format, &input, &args.output)?;
    eprintln!(
        "medsurface: wrote the {format} report of {} services to {}",
        input.services.len(),
        args.output.display()
    );
    if let Some(band) = args.fail_on {
        let band: Severity = band.into();
        let hits = at_or_above(&view, &input.services, band);
        if hits > 0 {
            eprintln!(
                "medsurface: {hits} finding(s) at or above {} (--fail-on)",
                band.as_str()
            );
            return Ok(Exit::Findings);
        }
    }
    Ok(Exit::Ok)
}

/// Writes the report through a temporary file beside the target, renamed into place, so a
/// failure never leaves half a report where the last good one was.
pub fn write_report(format: Format, input: &ReportInput, output: &Path) -> Result<()> {
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the directory of {}", output.display()))?;
    }
    let tmp = output.with_extension(format!("{}.partial", format.extension()));
    let file = File::create(&tmp)
        .map_err(|e| InputError(format!("--output {}: {e}", output.display())))?;
    let mut out = BufWriter::new(file);
    medsurface_report::render(format, input, &mut out)
        .with_context(|| format!("cannot write the report {}", output.display()))?;
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp, output)
        .with_context(|| format!("cannot move the report into place at {}", output.display()))?;
    Ok(())
}
