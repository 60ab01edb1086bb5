//! The errors of this crate: a register that cannot be loaded (which file, which line, what was
//! wrong) and a supply-chain run that cannot finish.
//!
//! Kinds are enums so that callers and tests tell failures apart by type, never by the text of
//! a message (house-style habit 5); the message is for people.

use std::fmt;

/// What was wrong with a register file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterErrorKind {
    /// The file could not be read.
    Read(String),
    /// The file name ends neither in `.toml` nor in `.csv`.
    UnknownFormat,
    /// Not valid TOML or CSV (the parser's message).
    Syntax(String),
    /// A key (TOML) or column (CSV) the format does not know.
    UnknownKey(String),
    /// The same key or column twice.
    DuplicateKey(String),
    /// A required key is absent or empty (`name`).
    Missing(String),
    /// A value of the wrong type or outside its set (`key`, what was expected).
    BadValue { key: String, expected: String },
    /// A date that is not a valid `YYYY-MM-DD` calendar date.
    BadDate { key: String, value: String },
    /// A review interval that is not `N days|weeks|months|years` or a number of days.
    BadInterval(String),
    /// A name or alias that another vendor already uses (after case and punctuation folding);
    /// the first user and its line are named.
    Duplicate {
        name: String,
        first: String,
        first_line: usize,
    },
    /// A referenced SBOM or MDS2 file does not exist (`key`, the path as written).
    MissingFile { key: String, path: String },
    /// A DICOM UID root that is not dot-separated digits.
    BadUidRoot(String),
}

/// A register file that cannot be loaded.
pub type RegisterError = medsurface_model::located::Located<RegisterErrorKind>;

impl fmt::Display for RegisterErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterErrorKind::Read(m) => write!(f, "cannot read: {m}"),
            RegisterErrorKind::UnknownFormat => {
                write!(f, "not a vendor register: the name must end in .toml or .csv")
            }
            RegisterErrorKind::Syntax(m) => write!(f, "{m}"),
            RegisterErrorKind::UnknownKey(k) => write!(
                f,
                "unknown key `{k}` (see docs/vendor-register.md for the keys of a vendor)"
            ),
            RegisterErrorKind::DuplicateKey(k) => write!(f, "`{k}` is given twice"),
            RegisterErrorKind::Missing(k) => write!(f, "`{k}` is required and must not be empty"),
            RegisterErrorKind::BadValue { key, expected } => {
                write!(f, "`{key}`: expected {expected}")
            }
            RegisterErrorKind::BadDate { key, value } => {
                write!(f, "`{key}`: {value:?} is not a calendar date (YYYY-MM-DD)")
            }
            RegisterErrorKind::BadInterval(v) => write!(
                f,
                "`review_interval`: {v:?} is not an interval (e.g. \"12 months\", \"90 days\", \"2 years\", or a number of days; 1 day to 10 years)"
            ),
            RegisterErrorKind::Duplicate {
                name,
                first,
                first_line,
            } => write!(
                f,
                "{name:?} is already used by vendor {first:?} (line {first_line}); names and aliases are compared without case and punctuation"
            ),
            RegisterErrorKind::MissingFile { key, path } => write!(
                f,
                "`{key}`: file {path:?} does not exist (paths are relative to the register file)"
            ),
            RegisterErrorKind::BadUidRoot(r) => write!(
                f,
                "`dicom_uid_roots`: {r:?} is not a UID root (digits separated by dots)"
            ),
        }
    }
}

/// Why vendor summaries could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SupplyError {
    /// The register is invalid.
    #[error(transparent)]
    Register(#[from] RegisterError),
    /// The vendor rubric is invalid (a broken tree or a bad user rubric).
    #[error("vendor rubric: {0}")]
    Rubric(String),
    /// The DICOM implementation table shipped with the binary is invalid (a broken build).
    #[error("DICOM implementation table: {0}")]
    Knowledge(String),
    /// An SBOM, MDS2 form or vulnerability source named by the register or the caller could not
    /// be read (the message names the file and place).
    #[error("{0}")]
    Evidence(String),
}

pub(crate) use medsurface_model::located::line_of;
