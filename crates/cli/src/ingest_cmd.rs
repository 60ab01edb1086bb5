//! `medsurface ingest FORMAT FILE...`: foreign scan data through the same classifier as live
//! scans, into the same store.
//!
//! The ingest crate parses on several threads; classification and the encoding of each
//! observation as a store row run there too (its `map` stage), and this module only batches
//! the rows into store transactions, written on the caller's thread. A bad record is
//! counted and reported with its file and line and the import goes on (`--strict` stops); a
//! file that breaks off (corrupt gzip) is an error naming the byte offset, and everything read
//! before it is stored.

use std::ops::ControlFlow;
use std::sync::mpsc::{channel, sync_channel};
use std::time::Instant;

use anyhow::Result;
use medsurface_ingest::{
    read_with_owned, Format, IngestError, IngestOptions, IngestReport, Named, OnError, OwnedStages,
};
use medsurface_model::fields::strip_transient;
use medsurface_model::Observation;
use medsurface_store::{ImportRow, SqliteStore, Store, StoreError};

use crate::analysis::Analysis;
use crate::cli::{IngestArgs, IngestFormat};
use crate::exit::Exit;
use crate::scan_cmd::db_path;

/// Observations per store transaction. Each commit rewrites the index pages the batch touched,
/// which on a large store are most of them, so fewer, larger transactions write much less
/// (1 GB Shodan import: 5,000 → 20,000 rows a transaction cut the bytes written by a third).
/// At most two batches are held at once, about 40 MB at Shodan's usual banner sizes.
const BATCH: usize = 20_000;
/// Bad records listed per file (all are counted).
const ERRORS_SHOWN: usize = 20;

pub fn run(args: IngestArgs) -> Result<Exit> {
    let db = db_path(args.store.db.clone())?;
    let (analysis, mut store) =
        Analysis::load_beside(args.signatures.as_deref(), || Ok(SqliteStore::open(&db)?))?;
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

/// Imports from any reader: classified and encoded on the parser threads, stored in batches.
///
/// Three kinds of thread share the work. The parser threads classify each observation, drop
/// its transient keys and encode it as the store's row (JSON and all), so the observation is
/// built, used and freed there. A delivery thread puts the rows in file order into batches. The
/// caller's thread, which owns the store, writes one batch per transaction while the next one
/// fills; the batch it has written goes back to the delivery thread to be freed and reused.
/// At most two batches exist at once (one written, one filling; the hand-over waits for the
/// writer), so memory stays bounded, and a slow store slows the parsers down through the
/// ingest pipeline's own back-pressure.
pub fn import<R: std::io::Read + Send>(
    format: Format,
    input: Named<'_, R>,
    target: Target<'_>,
    opts: &IngestOptions,
) -> Result<IngestReport, Failure> {
    let Target { analysis, store } = target;
    let map = |observations: Vec<Observation>| -> Result<Vec<ImportRow>, StoreError> {
        observations
            .into_iter()
            .map(|mut observation| {
                let verdict = analysis.classify(&observation);
                strip_transient(&mut observation.details);
                ImportRow::new(&observation, verdict.as_ref())
            })
            .collect()
    };
    let file = input.name.to_owned();
    let (full_tx, full_rx) = sync_channel::<Vec<ImportRow>>(0);
    let (empty_tx, empty_rx) = channel::<Vec<ImportRow>>();
    std::thread::scope(|scope| {
        let map = &map;
        let delivery = std::thread::Builder::new()
            .name("ingest-batch".into())
            .spawn_scoped(scope, move || {
                let mut pending: Vec<ImportRow> = Vec::with_capacity(BATCH);
                let mut encode_error = None;
                let mut sink = |_line: u64, rows: Result<Vec<ImportRow>, StoreError>| {
                    match rows {
                        Ok(rows) => pending.extend(rows),
                        Err(e) => {
                            encode_error = Some(e);
                            return ControlFlow::Break(());
                        }
                    }
                    if pending.len() >= BATCH {
                        // A written batch, emptied here (its rows are freed on this thread).
                        let next = match empty_rx.try_recv() {
                            Ok(mut written) => {
                                written.clear();
                                written
                            }
                            Err(_) => Vec::with_capacity(BATCH),
                        };
                        let full = std::mem::replace(&mut pending, next);
                        if full_tx.send(full).is_err() {
                            return ControlFlow::Break(()); // the store failed
                        }
                    }
                    ControlFlow::Continue(())
                };
                let stages = OwnedStages {
                    map,
                    sink: &mut sink,
                };
                let result = read_with_owned(format, input, stages, opts);
                // Whatever was read before an error is kept.
                if encode_error.is_none() && !pending.is_empty() {
                    let _ = full_tx.send(pending);
                }
                (result, encode_error)
            });
        let delivery = match delivery {
            Ok(handle) => handle,
            Err(source) => return Err(Failure::Ingest(IngestError::Spawn { file, source })),
        };
        let mut store_error = None;
        for batch in &full_rx {
            if let Err(e) = store.record_import_rows(&batch) {
                store_error = Some(e);
                break;
            }
            // The delivery thread may have ended; the batch is then freed here.
            let _ = empty_tx.send(batch);
        }
        // A delivery thread waiting to hand over a batch sees the store is gone and stops.
        drop(full_rx);
        let (result, encode_error) = match delivery.join() {
            Ok(done) => done,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        if let Some(e) = store_error.or(encode_error) {
            return Err(Failure::Store(e));
        }
        result.map_err(Failure::Ingest)
    })
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
