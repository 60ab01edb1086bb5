//! The line pipeline: one thread reads and decompresses, N threads parse, the caller's thread
//! delivers, in file order.
//!
//! ```text
//!  reader ──chunks of whole lines (≈1 MiB)──► parser × N (parse, map) ──► caller: reorder → sink
//!     ▲                                                                          │
//!     └──────────────────────── empty buffers (the credits) ◄────────────────────┘
//! ```
//!
//! Why this shape: serde_json reads Shodan lines at 300–400 MB/s on one core, and
//! decompression plus line splitting is cheaper than parsing, so one reader feeds several
//! parsers. Records are delivered in file order (a reorder buffer keyed by chunk number), which
//! makes line numbers, strict mode ("the first bad line") and the sink's view deterministic at
//! no measurable cost. Memory is constant: only `credits` buffers exist; the reader must get one
//! back from the caller before it reads on, so a slow sink slows the reader instead of filling
//! memory. The sink runs on the caller's thread, so it need not be `Send`; the `map` stage runs
//! on the parser threads, so per-record work such as classification scales with them.
//!
//! A parser that panics (a bug) fails the import with `IngestError::Worker` instead of leaving a
//! gap in the order that the caller would wait on forever.

use std::collections::BTreeMap;
use std::io::Read;
use std::ops::{ControlFlow, Range};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;

use medsurface_model::{Observation, Timestamp};

use crate::error::{IngestError, RecordError, RecordProblem};
use crate::input::{Input, ReadFailure};
use crate::{IngestOptions, IngestReport, Job, Record};

/// What a line parser makes of one line.
pub struct Parsed {
    pub observations: Vec<Observation>,
    /// The record had no usable timestamp; `seen_at` is the import's start.
    pub time_assumed: bool,
}

/// Context shared by the parsers of one import.
pub struct Ctx {
    /// `seen_at` for records without a usable timestamp.
    pub fallback_time: Timestamp,
    /// Lines longer than this are skipped unparsed.
    pub max_record_bytes: usize,
}

/// A line parser: `Ok(None)` for lines that are not records (blank lines, comments, the `[` and
/// `]` of masscan's JSON list).
pub type LineParser = fn(&[u8], &Ctx) -> Result<Option<Parsed>, RecordProblem>;

/// How a parser thread reads the lines of one chunk: most formats parse each line on its own
/// ([`EachLine`]); a format may keep state from one line to the next of a chunk (Shodan keeps
/// one JSON deserializer, so its string buffer grows once per chunk rather than once per line).
/// Whatever the state, a line must parse exactly as its [`LineParser`] would parse it alone.
pub trait ChunkParser: Sync {
    /// What is kept from one line to the next within a chunk.
    type State<'a>;
    /// The state for a new chunk.
    fn start<'a>(&self, chunk: &'a [u8]) -> Self::State<'a>;
    /// Parses the line `chunk[line]` (without its line ending).
    fn parse(
        &self,
        state: &mut Self::State<'_>,
        line: Range<usize>,
        ctx: &Ctx,
    ) -> Result<Option<Parsed>, RecordProblem>;
}

/// Each line parsed on its own by a [`LineParser`].
#[derive(Clone, Copy)]
pub struct EachLine(pub LineParser);

impl ChunkParser for EachLine {
    type State<'a> = &'a [u8];
    fn start<'a>(&self, chunk: &'a [u8]) -> &'a [u8] {
        chunk
    }
    fn parse(
        &self,
        chunk: &mut &[u8],
        line: Range<usize>,
        ctx: &Ctx,
    ) -> Result<Option<Parsed>, RecordProblem> {
        (self.0)(&chunk[line], ctx)
    }
}

enum Work {
    /// Whole lines, `data[..len]` (the rest of `data` is spare room); the last chunk may end
    /// without a newline.
    Lines { seq: u64, data: Vec<u8>, len: usize },
    /// One line longer than the limit, skipped by the reader.
    TooLong { seq: u64 },
}

enum Item<T> {
    Record {
        rel_line: u64,
        /// Observations the record became (what `map` gave back may be fewer: none).
        count: usize,
        time_assumed: bool,
        observations: Vec<Observation>,
        mapped: T,
    },
    Error {
        rel_line: u64,
        problem: RecordProblem,
    },
}

struct Done<T> {
    seq: u64,
    lines: u64,
    bytes: u64,
    items: Vec<Item<T>>,
    buffer: Option<Vec<u8>>,
    /// The parser panicked on this chunk (a bug). Reported as a failed import rather than
    /// left as a gap the reorder buffer would wait for forever.
    panicked: bool,
}

/// Runs the pipeline over `input` (starting with `prefix`, bytes already read from it).
pub fn run<R: Read + Send, T: Send, P: ChunkParser>(
    input: Input<R>,
    prefix: Vec<u8>,
    parser: &P,
    job: &mut Job<'_, '_, T>,
) -> Result<(), IngestError> {
    let Job {
        ctx,
        opts,
        report,
        stages,
    } = job;
    let (ctx, opts): (&Ctx, &IngestOptions) = (ctx, opts);
    let map = stages.map;
    let workers = opts.worker_count();
    let credits = 2 * workers + 2;
    let cancel = AtomicBool::new(false);
    let (work_tx, work_rx) = channel::<Work>();
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = channel::<Done<T>>();
    let (credit_tx, credit_rx) = channel::<Vec<u8>>();
    for _ in 0..credits {
        // Cannot fail: the receiver is alive.
        let _ = credit_tx.send(Vec::new());
    }

    std::thread::scope(|scope| {
        let cancel_ref = &cancel;
        let reader = std::thread::Builder::new()
            .name("ingest-read".into())
            .spawn_scoped(scope, move || {
                read_chunks(input, prefix, opts, work_tx, credit_rx, cancel_ref)
            });
        let mut parsers = Vec::with_capacity(workers);
        let mut spawn_error = None;
        for i in 0..workers {
            let done_tx = done_tx.clone();
            let work_rx = &work_rx;
            let spawned = std::thread::Builder::new()
                .name(format!("ingest-parse-{i}"))
                .spawn_scoped(scope, move || {
                    parse_chunks(work_rx, done_tx, Parse { parser, map, ctx }, cancel_ref)
                });
            // Fewer parser threads than asked only cost speed; none at all is an error.
            match spawned {
                Ok(handle) => parsers.push(handle),
                Err(e) => spawn_error = Some(e),
            }
        }
        drop(done_tx);
        let failed = match (reader, parsers.is_empty(), spawn_error) {
            (Ok(reader), false, _) => Ok(reader),
            (Err(e), _, _) | (Ok(_), true, Some(e)) => Err(e),
            (Ok(_), true, None) => Err(std::io::Error::other("no parser thread")),
        };
        let reader = match failed {
            Ok(reader) => reader,
            Err(source) => {
                // Let a started reader see that nobody listens, then end.
                cancel.store(true, Ordering::Relaxed);
                drop(credit_tx);
                drop(done_rx);
                return Err(IngestError::Spawn {
                    file: report.file.clone(),
                    source,
                });
            }
        };

        let outcome = deliver(
            Returns { done_rx, credit_tx },
            &mut *stages.sink,
            opts,
            report,
        );
        if outcome.is_err() || report.stopped_by_sink {
            cancel.store(true, Ordering::Relaxed);
        }
        // `deliver` dropped the receivers, so the reader and parsers end soon.
        let read = reader.join();
        let parsers_ok = parsers.into_iter().all(|p| p.join().is_ok());
        let (raw_pos, failure) = match read {
            Ok(r) => r,
            Err(_) => {
                return Err(IngestError::Worker {
                    file: report.file.clone(),
                    partial: Box::new(report.clone()),
                })
            }
        };
        report.compressed_bytes = raw_pos;
        outcome?;
        if !parsers_ok {
            return Err(IngestError::Worker {
                file: report.file.clone(),
                partial: Box::new(report.clone()),
            });
        }
        match failure {
            None => Ok(()),
            Some(f) => Err(read_failure(f, report)),
        }
    })
}

/// Turns a read failure into the file-ending error, with the partial report.
pub fn read_failure(f: ReadFailure, report: &IngestReport) -> IngestError {
    match f {
        ReadFailure::Plain { offset, source } => IngestError::Read {
            file: report.file.clone(),
            offset,
            source,
            partial: Box::new(report.clone()),
        },
        ReadFailure::Gzip {
            compressed_offset,
            source,
        } => IngestError::Decompress {
            file: report.file.clone(),
            compressed_offset,
            source,
            partial: Box::new(report.clone()),
        },
    }
}

/// Bytes asked of the input per read: the input buffer's size, so that plain files are read
/// straight into the chunk.
const READ_STEP: usize = crate::input::READ_BUF;

/// The reader thread. Returns the raw bytes consumed (compressed, for gzip) and the failure
/// that ended it, if any.
///
/// A chunk is cut at the last newline once the buffer holds at least `batch_bytes`. A line
/// longer than `max_record_bytes` with no newline in sight is dropped as it streams by (the
/// buffer never grows past the limit plus one read), and reported as one `TooLong` line.
///
/// A buffer's data is `buf[..filled]`; the bytes after it are spare room that the next read
/// fills. Buffers keep their length when they are handed on and come back, so their memory is
/// zeroed once, when it is first used, and not again before every read.
fn read_chunks<R: Read>(
    mut input: Input<R>,
    prefix: Vec<u8>,
    opts: &IngestOptions,
    work_tx: Sender<Work>,
    credit_rx: Receiver<Vec<u8>>,
    cancel: &AtomicBool,
) -> (Option<u64>, Option<ReadFailure>) {
    let target = opts.batch_bytes.max(1);
    let max_line = opts.max_record_bytes.max(1);
    let gz = input.is_gzip();
    let pos = |input: &Input<R>| gz.then(|| input.raw_position());
    let mut seq = 0u64;
    let Ok(mut buf) = credit_rx.recv() else {
        return (pos(&input), None);
    };
    let mut filled = put_at_start(&mut buf, &prefix);
    let mut skipping = false;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return (pos(&input), None);
        }
        if buf.len() < filled + READ_STEP {
            buf.resize(filled + READ_STEP, 0);
        }
        let n = match input.read_some(&mut buf[filled..filled + READ_STEP]) {
            Ok(n) => n,
            Err(f) => {
                // Deliver the whole lines read before the failure.
                if !skipping {
                    if let Some(last) = memchr::memrchr(b'\n', &buf[..filled]) {
                        let len = last + 1;
                        let _ = work_tx.send(Work::Lines {
                            seq,
                            data: buf,
                            len,
                        });
                    }
                }
                return (pos(&input), Some(f));
            }
        };
        filled += n;
        if n == 0 {
            // End of input: what is left is the last line, without a newline.
            if filled > 0 && !skipping {
                let _ = work_tx.send(Work::Lines {
                    seq,
                    data: buf,
                    len: filled,
                });
            }
            return (pos(&input), None);
        }
        if skipping {
            match memchr::memchr(b'\n', &buf[..filled]) {
                Some(i) => {
                    buf.copy_within(i + 1..filled, 0);
                    filled -= i + 1;
                    skipping = false;
                }
                None => {
                    filled = 0;
                    continue;
                }
            }
        }
        if filled < target {
            continue;
        }
        match memchr::memrchr(b'\n', &buf[..filled]) {
            Some(last) => {
                let Ok(mut next) = credit_rx.recv() else {
                    return (pos(&input), None);
                };
                let rest = put_at_start(&mut next, &buf[last + 1..filled]);
                let chunk = Work::Lines {
                    seq,
                    data: buf,
                    len: last + 1,
                };
                if work_tx.send(chunk).is_err() {
                    return (pos(&input), None);
                }
                seq += 1;
                buf = next;
                filled = rest;
            }
            None if filled > max_line => {
                if work_tx.send(Work::TooLong { seq }).is_err() {
                    return (pos(&input), None);
                }
                seq += 1;
                filled = 0;
                skipping = true;
            }
            None => {}
        }
    }
}

/// Copies `bytes` to the start of `buf`, growing it if it is shorter; returns their length.
fn put_at_start(buf: &mut Vec<u8>, bytes: &[u8]) -> usize {
    if buf.len() < bytes.len() {
        buf.resize(bytes.len(), 0);
    }
    buf[..bytes.len()].copy_from_slice(bytes);
    bytes.len()
}

/// What a parser thread does with a line.
struct Parse<'a, T, P> {
    parser: &'a P,
    map: &'a (dyn Fn(Vec<Observation>) -> (Vec<Observation>, T) + Sync),
    ctx: &'a Ctx,
}

/// A parser thread.
fn parse_chunks<T, P: ChunkParser>(
    work_rx: &Mutex<Receiver<Work>>,
    done_tx: Sender<Done<T>>,
    how: Parse<'_, T, P>,
    cancel: &AtomicBool,
) {
    loop {
        let work = {
            let Ok(rx) = work_rx.lock() else { return };
            match rx.recv() {
                Ok(w) => w,
                Err(_) => return,
            }
        };
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let done = match work {
            Work::TooLong { seq } => Done {
                seq,
                lines: 1,
                bytes: 0,
                items: vec![Item::Error {
                    rel_line: 0,
                    problem: RecordProblem::TooLong { limit: 0 },
                }],
                buffer: None,
                panicked: false,
            },
            Work::Lines { seq, data, len } => {
                let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    parse_lines(seq, data, len, &how)
                }));
                parsed.unwrap_or(Done {
                    seq,
                    lines: 0,
                    bytes: 0,
                    items: Vec::new(),
                    buffer: None,
                    panicked: true,
                })
            }
        };
        if done_tx.send(done).is_err() {
            return;
        }
    }
}

fn parse_lines<T, P: ChunkParser>(
    seq: u64,
    buffer: Vec<u8>,
    len: usize,
    how: &Parse<'_, T, P>,
) -> Done<T> {
    let data = &buffer[..len.min(buffer.len())];
    let ctx = how.ctx;
    let mut items = Vec::new();
    let mut start = 0usize;
    let mut rel_line = 0u64;
    let mut state = how.parser.start(data);
    let mut handle = |mut line: Range<usize>, rel_line: u64| {
        if line.end > line.start && data[line.end - 1] == b'\r' {
            line.end -= 1;
        }
        if line.len() > ctx.max_record_bytes {
            let problem = RecordProblem::TooLong {
                limit: ctx.max_record_bytes,
            };
            items.push(Item::Error { rel_line, problem });
            return;
        }
        match how.parser.parse(&mut state, line, ctx) {
            Ok(Some(parsed)) => {
                let count = parsed.observations.len();
                let (observations, mapped) = (how.map)(parsed.observations);
                items.push(Item::Record {
                    rel_line,
                    count,
                    time_assumed: parsed.time_assumed,
                    observations,
                    mapped,
                });
            }
            Ok(None) => {}
            Err(problem) => items.push(Item::Error { rel_line, problem }),
        }
    };
    for nl in memchr::memchr_iter(b'\n', data) {
        handle(start..nl, rel_line);
        rel_line += 1;
        start = nl + 1;
    }
    if start < data.len() {
        handle(start..data.len(), rel_line);
        rel_line += 1;
    }
    drop(state);
    Done {
        seq,
        lines: rel_line,
        bytes: data.len() as u64,
        items,
        buffer: Some(buffer),
        panicked: false,
    }
}

/// The caller's ends of the channels: parsed chunks in, empty buffers back.
struct Returns<T> {
    done_rx: Receiver<Done<T>>,
    credit_tx: Sender<Vec<u8>>,
}

/// The caller's side: reorders chunks, hands records to the sink, keeps the report.
fn deliver<T>(
    Returns { done_rx, credit_tx }: Returns<T>,
    sink: &mut dyn FnMut(Record, T) -> ControlFlow<()>,
    opts: &IngestOptions,
    report: &mut IngestReport,
) -> Result<(), IngestError> {
    let mut pending: BTreeMap<u64, Done<T>> = BTreeMap::new();
    let mut next = 0u64;
    while let Ok(done) = done_rx.recv() {
        pending.insert(done.seq, done);
        while let Some(done) = pending.remove(&next) {
            next += 1;
            if done.panicked {
                return Err(IngestError::Worker {
                    file: report.file.clone(),
                    partial: Box::new(report.clone()),
                });
            }
            let base = report.lines;
            report.lines += done.lines;
            report.bytes += done.bytes;
            for item in done.items {
                match item {
                    Item::Record {
                        rel_line,
                        count,
                        time_assumed,
                        observations,
                        mapped,
                    } => {
                        let line = base + rel_line + 1;
                        if time_assumed {
                            report.timestamps_assumed += 1;
                        }
                        if count == 0 {
                            report.records_empty += 1;
                            continue;
                        }
                        report.records += 1;
                        report.observations += count as u64;
                        let record = Record { line, observations };
                        let flow = sink(record, mapped);
                        if flow.is_break() {
                            report.stopped_by_sink = true;
                            return Ok(());
                        }
                    }
                    Item::Error {
                        rel_line,
                        mut problem,
                    } => {
                        if let RecordProblem::TooLong { limit } = &mut problem {
                            *limit = opts.max_record_bytes;
                        }
                        let error = RecordError {
                            file: report.file.clone(),
                            line: base + rel_line + 1,
                            problem,
                        };
                        report.note_error(error.clone(), opts);
                        if opts.on_error == crate::OnError::Stop {
                            return Err(IngestError::Strict {
                                error,
                                partial: Box::new(report.clone()),
                            });
                        }
                    }
                }
            }
            if let Some(buf) = done.buffer {
                // The reader may be gone (end of input); the buffer is then simply dropped.
                let _ = credit_tx.send(buf);
            }
        }
    }
    Ok(())
}
