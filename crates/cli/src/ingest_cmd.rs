//! `medsurface ingest FORMAT FILE...`: foreign scan data through the same classifier as live
//! scans, into the same store.
//!
//! The ingest crate parses on several threads; classification runs there too (its `map`
//! stage), and this module only batches the results into store transactions. A bad record is
//! counted and reported with its file and line and the import goes on (`--strict` stops); a
//! file that breaks off (corrupt gzip) is an error naming the byte offset, and everything read
//! before it is stored.

use std::ops::ControlFlow;
use std::time::Instant;

use anyhow::Result;
use medsurface_ingest::{
    read_with, Format, IngestError, IngestOptions, IngestReport, Named, OnError, Record, Stages,
};
use medsurface_model::classify::Classification;
use medsurface_model::fields::strip_transient;
use medsurface_model::Observation;
use medsurface_store::{Import, SqliteStore, Store, StoreError};

use crate::analysis::Analysis;
use crate::cli::{IngestArgs, IngestFormat};
use crate::exit::Exit;
use crate::scan_cmd::db_path;

/// Observations per store transaction.
const BATCH: usize = 5000;
/// Bad records listed per file (all are counted).
const ERRORS_SHOWN: usize = 20;

pub fn run(args: IngestArgs) -> Result<Exit> {
    let db = db_path(args.store.db.clone())?;
    let mut store = SqliteStore::open(&db)?;
    let analysis = Analysis::load(args.signatures.as_deref())?;
    let format = match args.format {
        IngestFormat::Shodan => Format::Shodan,
        IngestFormat::Censys => Format::Censys,
        IngestFormat::Nmap => Format::Nmap,
        IngestFormat::Masscan => Format::Masscan,
        IngestFormat::Zgrab2 => Format::Zgrab2,
    };
    let opts = IngestOptions {
        on_error: if args.strict {
            OnError::Stop
        } else {
            OnError::Continue
        },
        errors_kept: ERRORS_SHOWN,
        ..IngestOptions::default()
    };
    let mut failed = false;
    for file in &args.files {
        let started = Instant::now();
        let outcome = import_file(format, file, &analysis, &mut store, &opts);
        let (report, error) = match outcome {
            Ok(report) => (report, None),
            Err(Failure::Store(e)) => {
                return Err(anyhow::Error::new(e).context("cannot store the import"))
            }
            Err(Failure::Ingest(e)) => {
                let partial = partial_report(&e);
                (partial, Some(e))
            }
        };
        summarize(&report, started);
        if let Some(e) = error {
            eprintln!("medsurface: error: {e}; what was read before it is stored");
            failed = true;
        }
    }
    eprintln!("medsurface: stored in {}", db.display());
    Ok(if failed { Exit::Input } else { Exit::Ok })
}

pub enum Failure {
    Ingest(IngestError),
    Store(StoreError),
}

fn import_file(
    format: Format,
    file: &std::path::Path,
    analysis: &Analysis,
    store: &mut SqliteStore,
    opts: &IngestOptions,
) -> Result<IngestReport, Failure> {
    let name = file.display().to_string();
    let reader = std::fs::File::open(file).map_err(|source| {
        Failure::Ingest(IngestError::Open {
            path: file.to_path_buf(),
            source,
        })
    })?;
    let input = Named {
        name: &name,
        reader,
    };
    import(format, input, Target { analysis, store }, opts)
}

/// Where an import goes: the classifier, then the store.
pub struct Target<'a> {
    pub analysis: &'a Analysis,
    pub store: &'a mut dyn Store,
}

/// Imports from any reader: classified on the parser threads, stored in batches.
pub fn import<R: std::io::Read + Send>(
    format: Format,
    input: Named<'_, R>,
    target: Target<'_>,
    opts: &IngestOptions,
) -> Result<IngestReport, Failure> {
    let Target { analysis, store } = target;
    let mut pending: Vec<Import> = Vec::with_capacity(BATCH);
    let mut store_error: Option<StoreError> = None;
    let map = |observations: &[Observation]| -> Vec<Option<Classification>> {
        observations.iter().map(|o| analysis.classify(o)).collect()
    };
    let mut sink = |record: Record, verdicts: Vec<Option<Classification>>| {
        for (mut observation, classification) in record.observations.into_iter().zip(verdicts) {
            strip_transient(&mut observation.details);
            pending.push(Import {
                observation,
                classification,
            });
        }
        if pending.len() >= BATCH {
            if let Err(e) = store.record_imports(&pending) {
                store_error = Some(e);
                return ControlFlow::Break(());
            }
            pending.clear();
        }
        ControlFlow::Continue(())
    };
    let stages = Stages {
        map: &map,
        sink: &mut sink,
    };
    let result = read_with(format, input, stages, opts);
    if let Some(e) = store_error {
        return Err(Failure::Store(e));
    }
    // Whatever was read before an error is kept.
    if !pending.is_empty() {
        store.record_imports(&pending).map_err(Failure::Store)?;
    }
    result.map_err(Failure::Ingest)
}

fn partial_report(e: &IngestError) -> IngestReport {
    match e {
        IngestError::Read { partial, .. }
        | IngestError::Decompress { partial, .. }
        | IngestError::Strict { partial, .. } => (**partial).clone(),
        _ => IngestReport::default(),
    }
}

fn summarize(r: &IngestReport, started: Instant) {
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "medsurface: {}: {} records, {} observations, {} malformed, {:.1} MB in {secs:.2} s ({:.0} MB/s){}",
        r.file,
        r.records,
        r.observations,
        r.error_count,
        r.bytes as f64 / 1e6,
        r.bytes as f64 / 1e6 / secs,
        if r.gzip { ", gzip" } else { "" },
    );
    for e in &r.errors {
        eprintln!("medsurface:   {e}");
    }
    if r.error_count > r.errors.len() as u64 {
        eprintln!(
            "medsurface:   … and {} more malformed records",
            r.error_count - r.errors.len() as u64
        );
    }
}
