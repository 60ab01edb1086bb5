//! Two kinds of failure, kept apart on purpose (habit 4): a bad record is data — counted, kept
//! with its file and line in the [`crate::IngestReport`], and the import goes on — while an
//! [`IngestError`] ends the whole file (it cannot be opened, its gzip stream is corrupt, or the
//! caller asked for strict mode). Variants are named after the operation that failed, and no
//! caller ever needs to read a message to tell them apart.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::IngestReport;

/// Why one record (a line, an XML host, a JSON document element) could not be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordProblem {
    /// Not valid JSON (or XML): the parser's column and its own description.
    Malformed { column: usize, detail: String },
    /// The record ends before it is complete (a cut line, usually the last of a cut file).
    Truncated,
    /// The record is longer than `IngestOptions::max_record_bytes`; it was skipped unread.
    TooLong { limit: usize },
    /// Valid syntax, but a field every observation needs is absent or null.
    Missing { field: &'static str },
    /// Valid syntax, but a needed field holds something unusable (a port of 70000, an address
    /// that is not one).
    Invalid { field: &'static str },
    /// The line is not in any shape this format knows (masscan list lines, nmap elements).
    Unrecognised,
}

impl fmt::Display for RecordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordProblem::Malformed { column, detail } => {
                write!(f, "malformed at column {column}: {detail}")
            }
            RecordProblem::Truncated => f.write_str("truncated record"),
            RecordProblem::TooLong { limit } => {
                write!(f, "record longer than {limit} bytes, skipped")
            }
            RecordProblem::Missing { field } => write!(f, "missing field `{field}`"),
            RecordProblem::Invalid { field } => write!(f, "unusable value in `{field}`"),
            RecordProblem::Unrecognised => f.write_str("unrecognised record"),
        }
    }
}

/// A record that was skipped: where it is and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// The input's name (its path, as given).
    pub file: String,
    /// 1-based line where the record starts (or, for XML and JSON documents, where the parser
    /// noticed the problem).
    pub line: u64,
    pub problem: RecordProblem,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.problem)
    }
}

/// An error that ends the import of one file. Records delivered before it stay delivered;
/// `partial` says how far the import got.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot open {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    /// Reading the (uncompressed) input failed at this byte offset.
    #[error("{file}: read failed at byte {offset}: {source}")]
    Read {
        file: String,
        offset: u64,
        source: io::Error,
        partial: Box<IngestReport>,
    },
    /// The gzip stream is corrupt or cut short; `compressed_offset` is the position in the
    /// compressed file where decompression failed.
    #[error("{file}: corrupt gzip data at compressed byte {compressed_offset}: {source}")]
    Decompress {
        file: String,
        compressed_offset: u64,
        source: io::Error,
        partial: Box<IngestReport>,
    },
    /// Strict mode: the first bad record stops the import.
    #[error("{error} (strict mode)")]
    Strict {
        error: RecordError,
        partial: Box<IngestReport>,
    },
    /// The operating system would not start the reader thread.
    #[error("{file}: cannot start a thread: {source}")]
    Spawn { file: String, source: io::Error },
    /// A parsing thread ended abnormally (a bug: parsers must not panic). Never expected.
    #[error("{file}: a parsing thread failed")]
    Worker {
        file: String,
        partial: Box<IngestReport>,
    },
}

impl IngestError {
    /// What had been delivered when the error happened (`None` when nothing was read).
    pub fn partial(&self) -> Option<&IngestReport> {
        match self {
            IngestError::Open { .. } | IngestError::Spawn { .. } => None,
            IngestError::Read { partial, .. }
            | IngestError::Decompress { partial, .. }
            | IngestError::Strict { partial, .. }
            | IngestError::Worker { partial, .. } => Some(partial),
        }
    }
}
