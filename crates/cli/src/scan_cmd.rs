//! `medsurface scan`: plan → store → engine → batches → store and output.
//!
//! The engine streams one result per probe over a channel; this module batches them, records
//! each batch and the checkpoint after it in one store transaction, and only then prints the
//! batch's services. So whatever was printed is stored, and whatever is stored survives a kill.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use medsurface_model::{
    Checkpoint, OutcomeCounts, ProbeResult, ScanId, ScanStatus, Service, Severity, Timestamp,
};
use medsurface_scan::{run_scan, ScanChannels, ScanConfig, ScanEnd, StopSignal};
use medsurface_store::{Batch, NewScan, SqliteStore, Store};
use tokio::sync::mpsc::error::TryRecvError;

use crate::analysis::{service_record, Analysis};
use crate::cli::ScanArgs;
use crate::exit::{Exit, InputError};
use crate::plan::{self, Plan, PlanSpec};
use crate::view::View;

/// Results are committed when this many have arrived, or after [`FLUSH_EVERY`].
const BATCH: usize = 2048;
const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// How often the channel of results is drained.
const DRAIN_EVERY: Duration = Duration::from_millis(5);
/// File descriptors kept free for the store, stdout and the runtime.
const FD_HEADROOM: u64 = 64;

/// How results are shown while they arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// One JSON service record per line on stdout.
    JsonLines,
    /// A table of open services on stdout at the end.
    Table,
    /// Nothing on stdout (the caller shows results itself).
    Quiet,
}

/// The stages a scan's results go through, after the engine.
pub struct Stages<'a> {
    pub analysis: &'a Analysis,
    pub store: &'a mut dyn Store,
}

/// Which scan a run belongs to, where it starts, and how it shows results.
pub struct Run {
    pub scan: ScanId,
    pub checkpoint: Checkpoint,
    pub output: Output,
}

/// What a finished (or interrupted) run did.
pub struct RunReport {
    pub scan: ScanId,
    pub status: ScanStatus,
    pub counts: OutcomeCounts,
    pub skipped: u128,
    pub elapsed: Duration,
}

pub fn run(args: ScanArgs) -> Result<Exit> {
    // Loaded before the scan is created, so a bad rubric or database stops it before anything
    // is recorded or sent.
    let gate = match args.fail_on {
        Some(band) => Some((View::load(&args.view)?, Severity::from(band))),
        None => None,
    };
    let db = db_path(args.store.db.clone())?;
    let (analysis, mut store) =
        Analysis::load_beside(args.signatures.as_deref(), || Ok(SqliteStore::open(&db)?))?;
    let output = if args.json {
        Output::JsonLines
    } else {
        Output::Table
    };
    let (plan, scan, checkpoint) = match args.resume {
        Some(id) => {
            let meta = store
                .scan(ScanId(id))
                .with_context(|| format!("--resume {id}"))?;
            if meta.status == ScanStatus::Completed {
                return Err(InputError(format!("scan {id} is already complete")).into());
            }
            let stored: StoredPlan = serde_json::from_value(meta.plan.clone())
                .with_context(|| format!("scan {id} has no resumable plan"))?;
            // What to scan comes from the stored scan; how fast comes from this command line.
            let mut spec = stored.spec;
            spec.rate = args.rate.clone();
            spec.concurrency = args.concurrency;
            spec.timeout_ms = args.timeout;
            spec.retries = args.retries;
            spec.read_timeout_ms = args.read_timeout;
            let plan = plan::build(spec)?;
            if plan.digest != stored.digest {
                return Err(InputError(format!(
                    "cannot resume scan {id}: its targets or ports no longer give the same probes \
                     (a target file changed, or a host name resolves elsewhere); start a new scan"
                ))
                .into());
            }
            store.finish_scan(meta.id, ScanStatus::Running, Timestamp::now())?;
            (plan, meta.id, meta.checkpoint)
        }
        None => {
            let spec = PlanSpec::from_args(&args)?;
            let plan = plan::build(spec)?;
            let new = NewScan {
                args: std::env::args().collect(),
                plan: serde_json::to_value(StoredPlan {
                    spec: plan.spec.clone(),
                    digest: plan.digest.clone(),
                })?,
                seed: plan.spec.seed,
                shard: plan.spec.shard,
                total: shard_total(&plan)?,
                started_at: Timestamp::now(),
            };
            let id = store.create_scan(&new)?;
            (plan, id, Checkpoint::default())
        }
    };
    let stages = Stages {
        analysis: &analysis,
        store: &mut store,
    };
    let run = Run {
        scan,
        checkpoint,
        output,
    };
    let report = execute(&plan, stages, run)?;
    summarize(&report, &db);
    if let Some((view, band)) = gate {
        let mut services = store.scan_services(report.scan)?;
        view.prepare(&mut services);
        let hits = crate::report_cmd::at_or_above(&view, &services, band);
        if hits > 0 {
            eprintln!(
                "medsurface: {hits} service(s) at or above {} (--fail-on)",
                band.as_str()
            );
            return Ok(Exit::Findings);
        }
    }
    Ok(Exit::Ok)
}

/// The plan as stored with the scan: the spec and the digest of its probe space.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredPlan {
    spec: PlanSpec,
    digest: String,
}

fn shard_total(plan: &Plan) -> Result<u128> {
    Ok(
        medsurface_scan::ShardPlan::new(plan.space.len(), plan.spec.shard, plan.spec.seed)?
            .shard_len(),
    )
}

/// Runs a validated plan against the store, resuming from `checkpoint`.
pub fn execute(plan: &Plan, stages: Stages<'_>, run: Run) -> Result<RunReport> {
    let Stages { analysis, store } = stages;
    let Run {
        scan,
        checkpoint,
        output,
    } = run;
    for note in &plan.notes {
        eprintln!("medsurface: {note}");
    }
    let total = shard_total(plan)?;
    let skipped = checkpoint.done_count();
    // `concurrency` is the engine's whole socket budget (discovery plus probes).
    let fd_limit =
        medsurface_scan::raise_nofile_limit(plan.spec.concurrency as u64 + 256).unwrap_or(1024);
    let concurrency = plan
        .spec
        .concurrency
        .min(fd_limit.saturating_sub(FD_HEADROOM).max(1) as usize);
    if concurrency < plan.spec.concurrency {
        eprintln!(
            "medsurface: concurrency lowered to {concurrency} by the open-files limit ({fd_limit})"
        );
    }
    let config = ScanConfig {
        rate: plan.rate,
        concurrency,
        connect_timeout: plan.spec.connect_timeout(),
        retries: plan.spec.retries,
        probe: plan.probe.clone(),
        seed: plan.spec.seed,
        shard: plan.spec.shard,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let started = Instant::now();
    let progress = Progress::new(total.saturating_sub(skipped));
    let space = Arc::new(plan.space.clone());
    let (status, counts) = runtime.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<ProbeResult>(BATCH * 4);
        let stop = StopSignal::new();
        let channels = ScanChannels {
            results: tx,
            stop: stop.clone(),
        };
        let engine = tokio::spawn(run_scan(space, config, checkpoint.clone(), channels));
        let ctrl_c = {
            let stop = stop.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    stop.stop();
                }
            })
        };
        let mut sink = Sink {
            analysis,
            store,
            scan,
            checkpoint,
            counts: OutcomeCounts::default(),
            output,
            open: Vec::new(),
            lines: Vec::new(),
            progress: &progress,
        };
        // Drain the channel on a short tick rather than waking for every result: this thread
        // also writes the store, and a wake-up per probe costs more than the probe itself.
        let mut buf = Vec::with_capacity(BATCH);
        let mut last_flush = Instant::now();
        let mut tick = tokio::time::interval(DRAIN_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let closed = loop {
                match rx.try_recv() {
                    Ok(r) => {
                        buf.push(r);
                        if buf.len() >= BATCH {
                            sink.flush(&mut buf)?;
                            last_flush = Instant::now();
                        }
                    }
                    Err(TryRecvError::Empty) => break false,
                    Err(TryRecvError::Disconnected) => break true,
                }
            };
            if closed {
                break;
            }
            if last_flush.elapsed() >= FLUSH_EVERY {
                sink.flush(&mut buf)?;
                last_flush = Instant::now();
            }
            tick.tick().await;
        }
        sink.flush(&mut buf)?;
        ctrl_c.abort();
        let summary = engine.await.context("the scan engine failed")??;
        let status = match summary.end {
            ScanEnd::Completed => ScanStatus::Completed,
            ScanEnd::Stopped | ScanEnd::OutputClosed => ScanStatus::Interrupted,
        };
        sink.finish(status)?;
        anyhow::Ok((status, sink.counts))
    })?;
    progress.finish();
    Ok(RunReport {
        scan,
        status,
        counts,
        skipped,
        elapsed: started.elapsed(),
    })
}

/// Where results go: the store first, then the user's screen.
struct Sink<'a> {
    analysis: &'a Analysis,
    store: &'a mut dyn Store,
    scan: ScanId,
    checkpoint: Checkpoint,
    counts: OutcomeCounts,
    output: Output,
    /// Services found, kept for the table printed at the end.
    open: Vec<Service>,
    /// The JSON lines of one batch (`--json`), reused from batch to batch.
    lines: Vec<u8>,
    progress: &'a Progress,
}

impl Sink<'_> {
    fn flush(&mut self, buf: &mut Vec<ProbeResult>) -> Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        for r in buf.iter_mut() {
            self.checkpoint.mark_done(r.seq);
            self.counts.add(r.outcome);
            self.analysis.process(r);
        }
        self.store
            .record(
                self.scan,
                Batch {
                    results: buf,
                    checkpoint: &self.checkpoint,
                },
            )
            .context("cannot record results")?;
        let services = buf.iter().filter_map(service_record);
        match self.output {
            Output::JsonLines => {
                // The batch's lines are written with one call: stdout is line-buffered, so
                // writing each line to it directly costs a system call per service.
                self.lines.clear();
                for s in services {
                    serde_json::to_writer(&mut self.lines, &s)?;
                    self.lines.push(b'\n');
                }
                let mut out = std::io::stdout().lock();
                out.write_all(&self.lines)?;
                out.flush()?;
            }
            Output::Table | Output::Quiet => self.open.extend(services),
        }
        self.progress.advance(buf.len() as u64);
        buf.clear();
        Ok(())
    }

    fn finish(&mut self, status: ScanStatus) -> Result<()> {
        self.store
            .finish_scan(self.scan, status, Timestamp::now())
            .context("cannot record the end of the scan")?;
        if self.output == Output::Table {
            print_services(&self.open);
        }
        Ok(())
    }
}

/// A table of services on stdout.
pub fn print_services(services: &[Service]) {
    if services.is_empty() {
        return;
    }
    let mut sorted: Vec<&Service> = services.iter().collect();
    sorted.sort_by_key(|s| (s.ip, s.port));
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "address",
        "port",
        "protocol",
        "category",
        "product",
        "what it said",
    ]);
    for s in sorted {
        let address = match &s.hostname {
            Some(name) => format!("{} ({name})", s.ip),
            None => s.ip.to_string(),
        };
        let product = [
            s.vendor.as_deref(),
            s.product.as_deref(),
            s.version.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        table.add_row([
            address,
            s.port.to_string(),
            s.protocol.clone().unwrap_or_default(),
            s.category.clone().unwrap_or_default(),
            product,
            truncate(&summary(s), 60),
        ]);
    }
    println!("{table}");
}

/// The most telling fact of a service, for one table cell (already escaped peer text).
fn summary(s: &Service) -> String {
    let get = |k: &str| {
        s.details
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let flag = |k: &str| s.details.get(k).and_then(|v| v.as_bool());
    let dicom = get("dicom.association").filter(|v| v != "not-dicom" && v != "no-answer");
    if let Some(verdict) = dicom {
        let mut parts = vec![format!("association {verdict}")];
        if flag("dicom.accepts_any_ae") == Some(true) {
            parts.push("accepts any AE".into());
        }
        if flag("dicom.query_without_auth") == Some(true) {
            parts.push("queries without auth".into());
        }
        return parts.join("; ");
    }
    [
        "http.title",
        "hl7.sending_application",
        "fhir.software",
        "db.version",
        "banner.text",
    ]
    .iter()
    .find_map(|k| get(k))
    .unwrap_or_default()
}

fn truncate(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

fn summarize(r: &RunReport, db: &Path) {
    let secs = r.elapsed.as_secs_f64();
    let done = r.counts.total();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    let c = &r.counts;
    eprintln!(
        "medsurface: scan {} {}: {done} probes in {secs:.1} s ({rate:.0}/s){}: {} open, {} closed, {} filtered, {} unreachable, {} error; stored in {}",
        r.scan,
        r.status.as_str(),
        if r.skipped > 0 {
            format!(", {} done before and skipped", r.skipped)
        } else {
            String::new()
        },
        c.open,
        c.closed,
        c.filtered,
        c.unreachable,
        c.error,
        db.display()
    );
    if r.status == ScanStatus::Interrupted {
        eprintln!(
            "medsurface: resume with: medsurface scan --resume {} --db {}",
            r.scan,
            db.display()
        );
    }
}

/// A progress bar on stderr when it is a terminal; nothing otherwise.
pub struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new(len: u128) -> Progress {
        if !std::io::stderr().is_terminal() || std::env::var_os("MEDSURFACE_NO_PROGRESS").is_some()
        {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(u64::try_from(len).unwrap_or(u64::MAX)),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} probes {rate} ETA {eta}",
        ) {
            bar.set_style(style.with_key(
                "rate",
                |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0}/s", state.per_sec());
                },
            ));
        }
        Progress(Some(bar))
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(n);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// `--db`, else $MEDSURFACE_DB (clap reads it), else medsurface.db in the user's data directory.
pub fn db_path(given: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p);
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .ok_or_else(|| {
            InputError("no --db given and neither XDG_DATA_HOME nor HOME is set".into())
        })?;
    Ok(base.join("medsurface").join("medsurface.db"))
}
