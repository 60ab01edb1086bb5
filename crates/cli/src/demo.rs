//! `medsurface demo`: a simulated hospital on loopback, scanned end to end.
//!
//! The demo starts the lab's services on several 127.42.0.x addresses inside this process (no
//! set-up, no privileges: every port is above 1024), scans 127.42.0.0/24 with the medical
//! profile through the same plan, engine and store as `medsurface scan`, and prints what it
//! found next to what was there, so a newcomer sees the whole pipeline and can check it: each
//! simulated service with the protocol and a short verdict read from its stored details (the
//! open PACS "accepts any AE; queries without auth", the strict one rejects the called AE).

use std::net::SocketAddr;

use anyhow::{Context, Result};
use medsurface_model::text::printable;
use medsurface_model::{Checkpoint, Service, Severity, Shard, Timestamp};
use medsurface_proto::dicom::details::keys;
use medsurface_store::{NewScan, ServiceFilter, SqliteStore, Store};
use serde_json::Value;

use crate::analysis::Analysis;
use crate::cli::StatsBy;
use crate::cli::{DemoArgs, DicomArgs};
use crate::exit::Exit;
use crate::lab::{self, Kind, LabService};
use crate::plan::{self, PlanSpec};
use crate::scan_cmd::{self, Output, Run, Stages};
use crate::view::View;
use crate::{ingest_cmd, report_cmd, stats_cmd};
use medsurface_ingest::{IngestOptions, Named};
use medsurface_report::{Format, Method, ReportInput};

/// The simulated hospital: (role, kind, address).
const HOSPITAL: &[(&str, Kind, &str)] = &[
    ("PACS (DICOM, open)", Kind::DicomOpen, "127.42.0.10:11112"),
    (
        "PACS (DICOM, called-AE check)",
        Kind::DicomStrict,
        "127.42.0.10:4242",
    ),
    ("PACS web viewer", Kind::HttpOrthanc, "127.42.0.10:8042"),
    ("EMR web front end", Kind::HttpOpenEmr, "127.42.0.20:8080"),
    ("EMR database", Kind::Mysql, "127.42.0.20:3306"),
    ("HL7 interface engine", Kind::Hl7, "127.42.0.30:2575"),
    ("pharmacy database", Kind::Silent, "127.42.0.40:5432"),
    (
        "modality console (hostile banner)",
        Kind::Escape,
        "127.42.0.50:11112",
    ),
];

pub fn run(args: DemoArgs) -> Result<Exit> {
    let db = match args.db {
        Some(p) => p,
        None => {
            let dir = std::env::temp_dir().join(format!("medsurface-demo-{}", std::process::id()));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            dir.join("demo.db")
        }
    };
    eprintln!("medsurface demo: starting a simulated hospital on 127.42.0.0/24 …");
    let lab_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let mut running = Vec::new();
    for (role, kind, addr) in HOSPITAL {
        let addr: SocketAddr = addr.parse()?;
        match lab_runtime.block_on(lab::serve(LabService { kind: *kind, addr })) {
            Ok(bound) => running.push((*role, bound)),
            Err(e) => eprintln!("medsurface demo: skipping {role}: {e:#}"),
        }
    }

    let spec = PlanSpec {
        targets: vec!["127.42.0.0/24".into()],
        ports: plan::medical_ports(),
        exclude: Vec::new(),
        allow_private: false,
        seed: 42,
        shard: Shard::WHOLE,
        rate: "20000".into(),
        concurrency: 256,
        timeout_ms: 1000,
        retries: 1,
        read_timeout_ms: 1500,
        dicom: DicomArgs {
            calling_ae: "MEDSURFACE".into(),
            called_ae: "ANY-SCP".into(),
            ae_titles: None,
            count_studies: false,
            dicom_tls: false,
            no_ae_checks: false,
        },
        count_records: false,
        probes: Vec::new(),
    };
    let plan = plan::build(spec)?;
    let mut store = SqliteStore::open(&db)?;
    let scan = store.create_scan(&NewScan {
        args: std::env::args().collect(),
        plan: serde_json::to_value(&plan.spec)?,
        seed: plan.spec.seed,
        shard: plan.spec.shard,
        total: plan.space.len(),
        started_at: Timestamp::now(),
    })?;
    eprintln!(
        "medsurface demo: scanning {} probes (127.42.0.0/24 × {} medical-profile ports) …",
        plan.space.len(),
        plan.space.ports().len()
    );
    let analysis = Analysis::load(None)?;
    let stages = Stages {
        analysis: &analysis,
        store: &mut store,
    };
    let run = Run {
        scan,
        checkpoint: Checkpoint::default(),
        output: Output::Quiet,
    };
    let report = scan_cmd::execute(&plan, stages, run)?;
    drop(lab_runtime);

    let found = store.services(&ServiceFilter {
        scan: Some(scan),
        ip: None,
    })?;
    let services: Vec<_> = found.into_iter().map(|s| s.service).collect();
    println!("Simulated hospital ({} services):", running.len());
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["role", "address", "seen", "protocol", "verdict"]);
    for (role, addr) in &running {
        let seen = services
            .iter()
            .find(|s| s.ip == addr.ip() && s.port == addr.port());
        table.add_row([
            role.to_string(),
            addr.to_string(),
            if seen.is_some() { "found" } else { "MISSED" }.to_string(),
            seen.and_then(|s| s.protocol.clone()).unwrap_or_default(),
            seen.map(verdict).unwrap_or_default(),
        ]);
    }
    println!("{table}");
    println!();
    println!("What medsurface found:");
    scan_cmd::print_services(&services);
    let c = report.counts;
    println!(
        "\n{} probes in {:.2} s: {} open, {} closed, {} filtered. Results: {}",
        c.total(),
        report.elapsed.as_secs_f64(),
        c.open,
        c.closed,
        c.filtered,
        db.display()
    );
    shodan_sample(&analysis, &mut store)?;
    let html = demo_report(&store, &db)?;
    println!("\nReport (open it in a browser): {}", html.display());
    println!(
        "Try: medsurface scans --db {0}; medsurface stats --by product --db {0}; \
         medsurface report --format md -o report.md --db {0}",
        db.display()
    );
    let missed = running
        .iter()
        .filter(|(_, a)| {
            !services
                .iter()
                .any(|s| s.ip == a.ip() && s.port == a.port())
        })
        .count();
    Ok(if missed == 0 { Exit::Ok } else { Exit::Failure })
}

/// Writes the HTML report of everything the demo stored (the simulated hospital and the Shodan
/// sample), rated, with the supply-chain section from a small synthetic vendor register, next to
/// the demo's store; returns its path.
fn demo_report(store: &SqliteStore, db: &std::path::Path) -> Result<std::path::PathBuf> {
    let dir = db
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let vendors = medsurface_supply::demo::write_to(&dir.join("demo-vendors"))
        .context("cannot write the demo's vendor register")?;
    let view = View::builtin()?;
    let mut services = report_cmd::load_services(store, None)?;
    view.prepare(&mut services);
    let supply = medsurface_supply::vendor_summaries(
        &vendors.register,
        &medsurface_supply::Inputs {
            services: &services,
            vulns: &medsurface_supply::VulnSources {
                osv: vec![vendors.osv.clone()],
                ..Default::default()
            },
            today: jiff::ZonedDateTime::now().date(),
        },
    )
    .context("the demo's vendor register does not load")?;
    let by_severity = |band: Severity| {
        services
            .iter()
            .filter(|s| view.counts(s))
            .filter(|s| s.dread.as_ref().is_some_and(|d| d.severity == band))
            .count()
    };
    println!(
        "\nRated with DREAD ({} services): {} critical, {} high, {} medium, {} low; {} vendors in the supply-chain section.",
        services.len(),
        by_severity(Severity::Critical),
        by_severity(Severity::High),
        by_severity(Severity::Medium),
        by_severity(Severity::Low),
        supply.len()
    );
    let input = ReportInput {
        title: "medsurface demo: a simulated hospital and a synthetic Shodan sample".into(),
        generated_at: Timestamp::now(),
        scope: "the demo's scan of 127.42.0.0/24 and the bundled Shodan sample".into(),
        services,
        include_honeypots: false,
        supply: Some(supply),
        method: Method {
            rubric: view.rubric_source.clone(),
            formula: report_cmd::formula(),
            sources: vec![
                "scan of the simulated hospital on 127.42.0.0/24 (loopback)".into(),
                "bundled synthetic Shodan sample (data/shodan-sample.jsonl)".into(),
                "synthetic vendor register, SBOM and advisories (data/demo-vendors)".into(),
            ],
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        findings_limit: None,
    };
    let html = dir.join("report.html");
    report_cmd::write_report(Format::Html, &input, &html)?;
    Ok(html)
}

/// What the scan concluded about one service, in a few words, from its recorded details (the
/// same facts `scan --json` and the store hold).
fn verdict(s: &Service) -> String {
    let text = |key: &str| s.details.get(key).and_then(Value::as_str);
    let flag = |key: &str| s.details.get(key).and_then(Value::as_bool);
    let said = if let Some(association) = text(keys::ASSOCIATION) {
        match association {
            "accepted" => {
                let mut parts = vec![match flag(keys::ACCEPTS_ANY_AE) {
                    Some(true) => "accepts any AE",
                    Some(false) => "checks the called AE",
                    None => "association accepted",
                }];
                match flag(keys::QUERY_WITHOUT_AUTH) {
                    Some(true) => parts.push("queries without auth"),
                    Some(false) => parts.push("no query access"),
                    None => {}
                }
                parts.join("; ")
            }
            "rejected" => format!(
                "rejects {}: {}",
                text(keys::CALLED_AE).unwrap_or("the called AE"),
                text(keys::REJECT_REASON).unwrap_or("no reason")
            ),
            "aborted" => format!("aborts: {}", text(keys::ABORT_REASON).unwrap_or("?")),
            "not-dicom" => "not DICOM".to_string(),
            other => other.to_string(),
        }
    } else if let Some(ack) = text("hl7.ack_code") {
        format!(
            "HL7 ACK {ack} from {}",
            text("hl7.sending_application").unwrap_or("?")
        )
    } else if let Some(product) = text("db.product") {
        format!(
            "{product} {} handshake",
            text("db.version").unwrap_or_default()
        )
    } else if let Some(status) = s.details.get("http.status").and_then(Value::as_u64) {
        match text("http.title") {
            Some(title) => format!("HTTP {status}, \"{title}\""),
            None => format!("HTTP {status}"),
        }
    } else if flag("banner.silent") == Some(true) {
        "silent".to_string()
    } else {
        String::new()
    };
    // Stored peer text is escaped already; this only guards against a writer that forgot.
    let said = if said.chars().any(char::is_control) {
        printable(said.as_bytes(), said.len())
    } else {
        said
    };
    shorten(&said, 48)
}

fn shorten(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The synthetic Shodan sample shipped with medsurface (data/shodan-sample.jsonl), compiled in
/// so the demo needs no file.
const SHODAN_SAMPLE: &str = include_str!("../../../data/shodan-sample.jsonl");

/// Imports the bundled Shodan sample through the same classifier and store as the scan, and
/// prints the research's figure: exposed imaging services by country.
fn shodan_sample(analysis: &Analysis, store: &mut SqliteStore) -> Result<()> {
    let input = Named {
        name: "bundled Shodan sample",
        reader: SHODAN_SAMPLE.as_bytes(),
    };
    let target = ingest_cmd::Target { analysis, store };
    let report = ingest_cmd::import(
        medsurface_ingest::Format::Shodan,
        input,
        target,
        &IngestOptions::default(),
    )
    .map_err(|_| anyhow::anyhow!("the bundled Shodan sample does not import"))?;
    let services = store.services(&ServiceFilter::default())?;
    let imported: Vec<_> = services
        .into_iter()
        .filter(|s| s.sources.iter().any(|src| src == "shodan"))
        .collect();
    println!(
        "\nA synthetic Shodan export ({} banners), classified by the same signatures:",
        report.records
    );
    for (by, title) in [
        (StatsBy::Category, "category"),
        (StatsBy::Country, "imaging by country"),
    ] {
        let category = (by == StatsBy::Country).then_some("imaging");
        let grouping = stats_cmd::Grouping {
            by,
            category,
            since: None,
        };
        let groups = stats_cmd::rank(&imported, grouping);
        let line: Vec<String> = groups.iter().map(|(k, n)| format!("{k} {n}")).collect();
        println!("  {title:20} {}", line.join(", "));
    }
    Ok(())
}
