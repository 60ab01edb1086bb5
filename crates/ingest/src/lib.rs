//! Importers: Shodan, Censys, nmap, masscan and zgrab2 files turned into [`Observation`]s, the
//! same type a live probe produces, so one classifier treats imports and scans alike.
//!
//! The seam is a streaming call, [`read_file`] (or [`read`] for any reader): the importer pushes
//! each [`Record`] — one foreign record, with the observations it became — into a sink the
//! caller gives, and returns an [`IngestReport`] (counts, and the first bad records with file,
//! line and reason). A sink, not an iterator, because the fast path parses on several threads
//! while the caller's code (classification, the store) stays on its own thread and need not be
//! `Send`; the sink returns `ControlFlow::Break` to stop early. [`read_file_with`] adds a
//! `map` stage ([`Stages`]) that runs on the parser threads, once per record, so pure per-record
//! work (classification, enrichment) is parallel too; the sink then gets the record and what
//! `map` made of it, still in file order. [`read_with_owned`] hands `map` the observations by
//! value and the sink only what `map` made of them, so a store writer never builds or frees
//! an observation on its own thread.
//!
//! Rules that hold for every format:
//! - Constant memory: files are streamed, never read whole. Gzip (recognised by its magic
//!   bytes, several members allowed) is decompressed on the fly.
//! - A bad record is data: counted, kept in the report with its line (the first
//!   [`IngestOptions::errors_kept`]), and the import goes on; [`OnError::Stop`] makes the first
//!   one end the import instead. A corrupt gzip stream ends the file with an error naming the
//!   compressed offset; what was delivered before stays delivered.
//! - Nothing here panics on any input, prints, or opens a socket.
//! - Peer text is bounded and escaped (`medsurface_model::text::printable`) before it is put
//!   in an observation; page bodies go only into the transient `_http.body`.
//!
//! Keys follow `medsurface_model::fields`; facts only imports know (geography, network owner,
//! the source's own product and vulnerability lists) use the keys of [`keys::EXTRA`].
//!
//! Line formats (Shodan, Censys NDJSON, masscan, zgrab2) go through the parallel
//! pipeline (`pipeline.rs`); documents (nmap XML, a Censys JSON document) are parsed on the
//! caller's thread.

mod common;
mod error;
mod input;
pub mod keys;
mod loose;
mod pipeline;

mod censys;
mod masscan;
mod nmap;
mod shodan;
mod zgrab2;

use std::fmt;
use std::fs::File;
use std::io::{Cursor, Read};
use std::num::NonZeroUsize;
use std::ops::ControlFlow;
use std::path::Path;

use medsurface_model::{Observation, Source, Timestamp};

pub use error::{IngestError, RecordError, RecordProblem};

/// The import formats of `medsurface ingest FORMAT FILE...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Shodan banners, newline-delimited JSON (`shodan download`, `shodan parse`).
    Shodan,
    /// Censys hosts with `services[]`: newline-delimited, a JSON array, a single host, or an API
    /// answer (`{"result": {…}}`, `{"result": {"hits": […]}}`).
    Censys,
    /// nmap `-oX` XML, including dicom-ping script output.
    Nmap,
    /// masscan `-oJ` (JSON list), `-oD` (newline-delimited JSON) or `-oL` (list).
    Masscan,
    /// zgrab2 output: one JSON object per target.
    Zgrab2,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Shodan,
        Format::Censys,
        Format::Nmap,
        Format::Masscan,
        Format::Zgrab2,
    ];

    pub fn as_str(self) -> &'static str {
        self.source().as_str()
    }

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// The `source` of the observations this format produces.
    pub fn source(self) -> Source {
        match self {
            Format::Shodan => Source::Shodan,
            Format::Censys => Source::Censys,
            Format::Nmap => Source::Nmap,
            Format::Masscan => Source::Masscan,
            Format::Zgrab2 => Source::Zgrab2,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do with a bad record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Count it, keep it in the report, go on.
    #[default]
    Continue,
    /// End the import with [`IngestError::Strict`] (`--strict`).
    Stop,
}

/// Options of an import. `IngestOptions::default()` fits the command line.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub on_error: OnError,
    /// How many bad records the report keeps (all are counted).
    pub errors_kept: usize,
    /// Parser threads; `None`: one per available core.
    pub threads: Option<NonZeroUsize>,
    /// Lines (records) longer than this are skipped and reported, never buffered whole.
    pub max_record_bytes: usize,
    /// Bytes per chunk handed to a parser thread.
    pub batch_bytes: usize,
    /// `seen_at` of records without a usable timestamp; `None`: the time the import started.
    pub fallback_time: Option<Timestamp>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            on_error: OnError::Continue,
            errors_kept: 100,
            threads: None,
            max_record_bytes: 16 * 1024 * 1024,
            batch_bytes: 1024 * 1024,
            fallback_time: None,
        }
    }
}

impl IngestOptions {
    /// Stop at the first bad record.
    pub fn strict(mut self) -> Self {
        self.on_error = OnError::Stop;
        self
    }

    /// The number of parser threads these options give on this machine.
    pub fn worker_count_hint(&self) -> usize {
        self.worker_count()
    }

    pub(crate) fn worker_count(&self) -> usize {
        self.threads
            .or_else(|| std::thread::available_parallelism().ok())
            .map_or(2, NonZeroUsize::get)
    }
}

/// One foreign record and the observations it became (one Shodan banner → one; one Censys host
/// or nmap host → one per service; one zgrab2 target → one per module).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1-based line where the record starts: its line for line formats, the line of `<host>`
    /// for nmap, the line where the host's object ends for Censys JSON documents.
    pub line: u64,
    pub observations: Vec<Observation>,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IngestReport {
    /// The input's name (its path, as given).
    pub file: String,
    /// Whether the input was gzip.
    pub gzip: bool,
    /// Uncompressed bytes read.
    pub bytes: u64,
    /// Compressed bytes read, for gzip input.
    pub compressed_bytes: Option<u64>,
    /// Lines read (for documents: lines of the document).
    pub lines: u64,
    /// Records delivered to the sink.
    pub records: u64,
    /// Observations in them.
    pub observations: u64,
    /// Well-formed records with nothing to observe (a host that was down, a closed port).
    pub records_empty: u64,
    /// Records whose `seen_at` is the fallback time, for want of a usable timestamp.
    pub timestamps_assumed: u64,
    /// Bad records, all of them counted.
    pub error_count: u64,
    /// The first bad records, in file order.
    pub errors: Vec<RecordError>,
    /// The sink asked to stop.
    pub stopped_by_sink: bool,
}

impl IngestReport {
    pub(crate) fn note_error(&mut self, e: RecordError, opts: &IngestOptions) {
        self.error_count += 1;
        if self.errors.len() < opts.errors_kept {
            self.errors.push(e);
        }
    }
}

/// The two stages a record passes after parsing.
pub struct Stages<'a, T> {
    /// Runs on the parser threads, once per record, before delivery: pure, per-record work
    /// (classification, enrichment) that then runs in parallel with parsing. For documents
    /// (nmap, Censys JSON documents) it runs on the caller's thread.
    pub map: &'a (dyn Fn(&[Observation]) -> T + Sync),
    /// Runs on the caller's thread, in file order, with the record and what `map` made of it.
    pub sink: &'a mut dyn FnMut(Record, T) -> ControlFlow<()>,
}

/// Stages for a caller that keeps only what `map` makes of a record (a store writer, say).
///
/// `map` takes the record's observations by value on the parser threads, so they are built,
/// used and freed there; the sink, on the caller's thread and in file order, gets the record's
/// line and what `map` made of it. Counts in the report are those of [`Stages`].
pub struct OwnedStages<'a, T> {
    pub map: &'a (dyn Fn(Vec<Observation>) -> T + Sync),
    pub sink: &'a mut dyn FnMut(u64, T) -> ControlFlow<()>,
}

/// The stages as the readers run them: `map` takes the observations and gives back what the
/// sink's `Record` carries ([`Stages`]: all of them; [`OwnedStages`]: none).
pub(crate) struct Inner<'a, T> {
    pub map: &'a (dyn Fn(Vec<Observation>) -> (Vec<Observation>, T) + Sync),
    pub sink: &'a mut dyn FnMut(Record, T) -> ControlFlow<()>,
}

/// A reader and the name that stands for it in reports and errors.
pub struct Named<'a, R> {
    pub name: &'a str,
    pub reader: R,
}

/// Imports one file. See the crate documentation for the rules.
pub fn read_file(
    format: Format,
    path: &Path,
    sink: &mut dyn FnMut(Record) -> ControlFlow<()>,
    opts: &IngestOptions,
) -> Result<IngestReport, IngestError> {
    let stages = Stages {
        map: &|_| (),
        sink: &mut |record, ()| sink(record),
    };
    read_file_with(format, path, stages, opts)
}

/// Imports from any reader.
pub fn read<R: Read + Send>(
    format: Format,
    input: Named<'_, R>,
    sink: &mut dyn FnMut(Record) -> ControlFlow<()>,
    opts: &IngestOptions,
) -> Result<IngestReport, IngestError> {
    let stages = Stages {
        map: &|_| (),
        sink: &mut |record, ()| sink(record),
    };
    read_with(format, input, stages, opts)
}

/// Imports one file, running `stages.map` on the parser threads.
pub fn read_file_with<T: Send>(
    format: Format,
    path: &Path,
    stages: Stages<'_, T>,
    opts: &IngestOptions,
) -> Result<IngestReport, IngestError> {
    let file = File::open(path).map_err(|source| IngestError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path.display().to_string();
    let input = Named {
        name: &name,
        reader: file,
    };
    read_with(format, input, stages, opts)
}

/// Imports from any reader, running `stages.map` on the parser threads.
pub fn read_with<R: Read + Send, T: Send>(
    format: Format,
    input: Named<'_, R>,
    stages: Stages<'_, T>,
    opts: &IngestOptions,
) -> Result<IngestReport, IngestError> {
    let Stages { map, sink } = stages;
    let map = |observations: Vec<Observation>| {
        let t = map(&observations);
        (observations, t)
    };
    run(format, input, Inner { map: &map, sink }, opts)
}

/// Imports from any reader, handing each record's observations to `stages.map` by value on
/// the parser threads and only what it made of them to the sink.
pub fn read_with_owned<R: Read + Send, T: Send>(
    format: Format,
    input: Named<'_, R>,
    stages: OwnedStages<'_, T>,
    opts: &IngestOptions,
) -> Result<IngestReport, IngestError> {
    let OwnedStages { map, sink } = stages;
    let map = |observations: Vec<Observation>| (Vec::new(), map(observations));
    let mut sink = |record: Record, t: T| sink(record.line, t);
    let stages = Inner {
        map: &map,
        sink: &mut sink,
    };
    run(format, input, stages, opts)
}

fn run<R: Read + Send, T: Send>(
    format: Format,
    input: Named<'_, R>,
    stages: Inner<'_, T>,
    opts: &IngestOptions,
) -> Result<IngestReport, IngestError> {
    let Named { name, reader } = input;
    let mut input = input::Input::open(reader).map_err(|source| IngestError::Open {
        path: name.into(),
        source,
    })?;
    let ctx = pipeline::Ctx {
        fallback_time: opts.fallback_time.unwrap_or_else(Timestamp::now),
        max_record_bytes: opts.max_record_bytes,
    };
    let mut job = Job {
        ctx: &ctx,
        opts,
        report: IngestReport {
            file: name.to_string(),
            gzip: input.is_gzip(),
            ..IngestReport::default()
        },
        stages,
    };
    match format {
        Format::Shodan => pipeline::run(input, Vec::new(), &shodan::Lines, &mut job)?,
        Format::Masscan => {
            let parser = pipeline::EachLine(masscan::parse_line);
            pipeline::run(input, Vec::new(), &parser, &mut job)?
        }
        Format::Zgrab2 => {
            let parser = pipeline::EachLine(zgrab2::parse_line);
            pipeline::run(input, Vec::new(), &parser, &mut job)?
        }
        Format::Censys => {
            let prefix = match read_prefix(&mut input) {
                Ok(p) => p,
                Err(f) => return Err(pipeline::read_failure(f, &job.report)),
            };
            if censys::is_line_delimited(&prefix) {
                let parser = pipeline::EachLine(censys::parse_line);
                pipeline::run(input, prefix, &parser, &mut job)?
            } else {
                document(&mut input, prefix, censys::read_document, &mut job)?
            }
        }
        Format::Nmap => document(&mut input, Vec::new(), nmap::read, &mut job)?,
    }
    Ok(job.report)
}

/// One import in progress: its context, options, report so far, and stages.
pub(crate) struct Job<'a, 's, T> {
    pub ctx: &'a pipeline::Ctx,
    pub opts: &'a IngestOptions,
    pub report: IngestReport,
    pub stages: Inner<'s, T>,
}

/// Reads the start of the input, up to the first newline (at most 1 MiB), to sniff its shape.
fn read_prefix<R: Read>(input: &mut input::Input<R>) -> Result<Vec<u8>, input::ReadFailure> {
    let mut prefix = Vec::new();
    let mut buf = [0u8; 8192];
    while prefix.len() < 1024 * 1024 && memchr::memchr(b'\n', &prefix).is_none() {
        let n = input.read_some(&mut buf)?;
        if n == 0 {
            break;
        }
        prefix.extend_from_slice(&buf[..n]);
    }
    Ok(prefix)
}

/// A document reader: reads from `r`, delivers records, notes bad ones; `Err` only when the
/// sink stopped it or strict mode ended it.
pub(crate) type DocumentReader = fn(&mut dyn LineRead, &mut DocCtx<'_>) -> Result<(), DocStop>;

/// A buffered reader that knows how many newlines it has handed out (for line numbers).
pub(crate) trait LineRead: std::io::BufRead {
    fn newlines(&self) -> u64;
}

impl<R: std::io::BufRead> LineRead for input::Counting<R> {
    fn newlines(&self) -> u64 {
        input::Counting::newlines(self)
    }
}

/// Why a document reader stopped early.
pub(crate) enum DocStop {
    Sink,
    Strict(RecordError),
}

/// What a document reader needs: the context, the sink, the options, the report.
pub(crate) struct DocCtx<'a> {
    pub ctx: &'a pipeline::Ctx,
    /// The stages, joined: map, then sink.
    pub sink: &'a mut dyn FnMut(Record) -> ControlFlow<()>,
    pub opts: &'a IngestOptions,
    pub report: &'a mut IngestReport,
}

impl DocCtx<'_> {
    /// Delivers a record; `Err` when the sink stops.
    pub fn deliver(&mut self, line: u64, parsed: pipeline::Parsed) -> Result<(), DocStop> {
        if parsed.time_assumed {
            self.report.timestamps_assumed += 1;
        }
        if parsed.observations.is_empty() {
            self.report.records_empty += 1;
            return Ok(());
        }
        self.report.records += 1;
        self.report.observations += parsed.observations.len() as u64;
        match (self.sink)(Record {
            line,
            observations: parsed.observations,
        }) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(()) => {
                self.report.stopped_by_sink = true;
                Err(DocStop::Sink)
            }
        }
    }

    /// Notes a bad record; `Err` in strict mode.
    pub fn error(&mut self, line: u64, problem: RecordProblem) -> Result<(), DocStop> {
        let e = RecordError {
            file: self.report.file.clone(),
            line,
            problem,
        };
        self.report.note_error(e.clone(), self.opts);
        match self.opts.on_error {
            OnError::Continue => Ok(()),
            OnError::Stop => Err(DocStop::Strict(e)),
        }
    }
}

fn document<R: Read, T>(
    input: &mut input::Input<R>,
    prefix: Vec<u8>,
    reader: DocumentReader,
    job: &mut Job<'_, '_, T>,
) -> Result<(), IngestError> {
    let gz = input.is_gzip();
    let prefix_len = prefix.len() as u64;
    let mut tracked = input::Tracked {
        input,
        failure: None,
        bytes: 0,
    };
    let Job {
        ctx,
        opts,
        report,
        stages,
    } = job;
    let outcome = {
        let chained = Cursor::new(prefix).chain(&mut tracked);
        let mut counting =
            input::Counting::new(std::io::BufReader::with_capacity(256 * 1024, chained), true);
        let mut joined = |record: Record| {
            let (observations, t) = (stages.map)(record.observations);
            let record = Record {
                line: record.line,
                observations,
            };
            (stages.sink)(record, t)
        };
        let mut dctx = DocCtx {
            ctx,
            sink: &mut joined,
            opts,
            report,
        };
        let outcome = reader(&mut counting, &mut dctx);
        dctx.report.lines = counting.newlines() + 1;
        outcome
    };
    report.bytes = prefix_len + tracked.bytes;
    if gz {
        report.compressed_bytes = Some(tracked.input.raw_position());
    }
    match outcome {
        Ok(()) | Err(DocStop::Sink) => {}
        Err(DocStop::Strict(error)) => {
            return Err(IngestError::Strict {
                error,
                partial: Box::new(report.clone()),
            })
        }
    }
    match tracked.failure.take() {
        Some(f) => Err(pipeline::read_failure(f, report)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(copies: usize) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/shodan-sample.jsonl");
        let plain = std::fs::read_to_string(path).unwrap();
        let mut out = String::new();
        for i in 0..copies {
            for line in plain.lines() {
                let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
                v["port"] = serde_json::json!(1 + i);
                out.push_str(&v.to_string());
                out.push('\n');
            }
            out.push_str("{not json\n");
        }
        out.into_bytes()
    }

    #[test]
    fn owned_stages_see_every_observation_on_parser_threads_and_count_alike() {
        let input = sample(30);
        let opts = IngestOptions {
            threads: NonZeroUsize::new(2),
            batch_bytes: 4096,
            ..IngestOptions::default()
        };
        let named = |input: &[u8]| Named {
            name: "input",
            reader: Cursor::new(input.to_vec()),
        };
        let mut borrowed = Vec::new();
        let by_ref = read_with(
            Format::Shodan,
            named(&input),
            Stages {
                map: &|obs: &[Observation]| obs.iter().map(|o| o.port).collect::<Vec<_>>(),
                sink: &mut |record: Record, ports: Vec<u16>| {
                    let seen: Vec<u16> = record.observations.iter().map(|o| o.port).collect();
                    assert_eq!(seen, ports);
                    borrowed.push((record.line, ports));
                    ControlFlow::Continue(())
                },
            },
            &opts,
        )
        .unwrap();

        let caller = std::thread::current().id();
        let mut owned = Vec::new();
        let map = |obs: Vec<Observation>| {
            let ports: Vec<u16> = obs.iter().map(|o| o.port).collect();
            (std::thread::current().id(), ports)
        };
        let by_value = read_with_owned(
            Format::Shodan,
            named(&input),
            OwnedStages {
                map: &map,
                sink: &mut |line, (thread, ports)| {
                    assert_ne!(thread, caller, "map ran on the caller's thread");
                    owned.push((line, ports));
                    ControlFlow::Continue(())
                },
            },
            &opts,
        )
        .unwrap();
        assert_eq!(owned, borrowed);
        assert_eq!(by_value, by_ref);
        assert_eq!(by_value.error_count, 30);
        assert!(by_value.records > 30);
    }

    #[test]
    fn an_owned_sink_that_stops_stops_the_import() {
        let input = sample(20);
        let opts = IngestOptions {
            batch_bytes: 4096,
            ..IngestOptions::default()
        };
        let mut delivered = 0u64;
        let report = read_with_owned(
            Format::Shodan,
            Named {
                name: "input",
                reader: Cursor::new(input),
            },
            OwnedStages {
                map: &|obs: Vec<Observation>| obs.len(),
                sink: &mut |_, _| {
                    delivered += 1;
                    if delivered == 5 {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                },
            },
            &opts,
        )
        .unwrap();
        assert!(report.stopped_by_sink);
        assert_eq!(report.records, 5);
    }
}
