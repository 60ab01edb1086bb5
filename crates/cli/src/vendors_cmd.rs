//! `medsurface vendors check FILE` and `medsurface vendors report`: the vendor register, checked
//! on its own or rated against what the store holds.
//!
//! The supply crate does the work (register, linking, vendor rubric); this module only reads the
//! store through the shared read side (`view`: enrichment and assessment, as for `report`),
//! picks the day reviews are judged against, and prints. A register error is an input
//! error (exit 2) whose message starts with `FILE:LINE:`.

use std::path::Path;

use anyhow::{Context, Result};
use jiff::civil::Date;
use medsurface_model::supply::VendorSummary;
use medsurface_model::text::printable;
use medsurface_model::Service;
use medsurface_store::{ServiceFilter, SqliteStore, Store};
use medsurface_supply::{Inputs, Register, SupplyError, VendorRubric};

use crate::cli::{VendorsArgs, VendorsCheckArgs, VendorsCommand, VendorsReportArgs};
use crate::exit::{Exit, InputError};
use crate::scan_cmd::db_path;
use crate::view::View;

/// Bytes of register or peer text shown per table cell.
const CELL: usize = 80;

pub fn run(args: VendorsArgs) -> Result<Exit> {
    match args.command {
        VendorsCommand::Check(a) => check(a),
        VendorsCommand::Report(a) => report(a),
    }
}

/// The day reviews are judged against: `--today`, else the local calendar date.
fn today(given: Option<&str>) -> Result<Date> {
    match given {
        Some(s) => s
            .parse::<Date>()
            .map_err(|e| InputError(format!("--today {s:?}: not a date (YYYY-MM-DD): {e}")).into()),
        None => Ok(jiff::ZonedDateTime::now().date()),
    }
}

fn load(path: &Path) -> Result<Register> {
    Register::load(path).map_err(|e| InputError(e.to_string()).into())
}

fn check(args: VendorsCheckArgs) -> Result<Exit> {
    let today = today(args.today.as_deref())?;
    let register = load(&args.file)?;
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "vendor",
        "line",
        "access",
        "devices",
        "SBOM",
        "MDS2",
        "contract",
        "BAA",
        "next review",
    ]);
    let mut overdue = 0;
    for v in &register.vendors {
        let next = match v.next_review() {
            Some(d) if v.review_overdue(today) => format!("{d} (overdue)"),
            Some(d) => d.to_string(),
            None => "never assessed".into(),
        };
        overdue += usize::from(v.review_overdue(today));
        let word = |s: Option<String>| s.unwrap_or_else(|| "-".into());
        table.add_row([
            cell(&v.name),
            v.line.to_string(),
            cell(&v.access.describe(&[]).join("; ")),
            v.devices.len().to_string(),
            v.sbom.len().to_string(),
            v.mds2.len().to_string(),
            word(v.contract.map(|c| json_word(&c))),
            word(v.baa.map(|b| json_word(&b))),
            next,
        ]);
    }
    emit(&format!("{table}\n"))?;
    eprintln!(
        "medsurface: {}: {} vendors, valid; {overdue} reviews overdue as of {today}",
        register.file,
        register.vendors.len()
    );
    Ok(Exit::Ok)
}

fn report(args: VendorsReportArgs) -> Result<Exit> {
    let today = today(args.today.as_deref())?;
    let register = load(&args.register)?;
    let db = db_path(args.store.db.clone())?;
    let store = SqliteStore::open(&db)?;
    // The same read side as `report`: enriched and assessed, so a vendor's exposed services
    // carry their own DREAD rating.
    let view = View::load(&args.view)?;
    let mut services: Vec<Service> = store
        .services(&ServiceFilter::default())?
        .into_iter()
        .map(|s| s.service)
        .collect();
    view.prepare(&mut services);
    let vulns = view.vuln_sources.clone();
    let rubric = VendorRubric::builtin()?;
    let summaries = medsurface_supply::summaries(
        &register,
        &Inputs {
            services: &services,
            vulns: &vulns,
            today,
        },
        &rubric,
    )
    .map_err(|e| match e {
        // The SBOMs, forms and vulnerability files are the user's input.
        SupplyError::Register(_) | SupplyError::Evidence(_) => {
            anyhow::Error::from(InputError(e.to_string()))
        }
        other => anyhow::Error::from(other),
    })
    .context("vendors report")?;
    let mut out = String::new();
    if args.json {
        for s in &summaries {
            out.push_str(&serde_json::to_string(s)?);
            out.push('\n');
        }
    } else {
        out = table(&summaries);
    }
    emit(&out)?;
    let unregistered = summaries.iter().filter(|s| !s.in_register).count();
    eprintln!(
        "medsurface: {} vendors ({} in the register, {unregistered} with exposed services but not in it), {} services read, reviews as of {today}",
        summaries.len(),
        summaries.len() - unregistered,
        services.len()
    );
    Ok(Exit::Ok)
}

fn table(summaries: &[VendorSummary]) -> String {
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "vendor",
        "tier",
        "score",
        "in register",
        "exposed",
        "vulnerable components",
        "MDS2 gaps",
        "next review",
        "access",
    ]);
    for s in summaries {
        let next = match (&s.next_review, s.review_overdue) {
            (Some(d), true) => format!("{d} (overdue)"),
            (Some(d), false) => d.clone(),
            (None, true) => "never assessed".into(),
            (None, false) => "-".into(),
        };
        table.add_row([
            cell(&s.vendor),
            s.tier.clone(),
            s.dread
                .as_ref()
                .map_or("-".into(), |d| format!("{:.1}", d.score)),
            if s.in_register { "yes" } else { "NO" }.to_string(),
            s.exposed_services.to_string(),
            s.vulnerable_components.to_string(),
            s.mds2_gaps.len().to_string(),
            next,
            cell(&s.access.join("; ")),
        ]);
    }
    let mut out = format!("{table}\n");
    for s in summaries {
        for n in &s.notes {
            out.push_str(&format!(
                "{}: {}\n",
                cell(&s.vendor),
                printable(n.as_bytes(), 240)
            ));
        }
    }
    out
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Register and peer text, bounded and made printable for a terminal.
fn cell(s: &str) -> String {
    printable(s.as_bytes(), CELL)
}

/// A status as its JSON word (`not-required`).
fn json_word<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
