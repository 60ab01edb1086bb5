//! The crate's one error type: every variant names the file and the place in it.

use std::path::PathBuf;

/// Why a vulnerability feed, SBOM, end-of-support file or MDS2 workbook could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file or directory could not be read (or decompressed).
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The JSON is malformed or has the wrong shape; line and column are those serde_json
    /// reports (of the decompressed text for `.gz` files).
    #[error("{}: line {line}, column {column}: {message}", path.display())]
    ParseJson {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// The TOML is malformed or has the wrong shape.
    #[error("{}: {message}", path.display())]
    ParseToml { path: PathBuf, message: String },
    /// The document parsed but says something this crate cannot use (wrong `specVersion`, a
    /// component without a name, an unknown feed format…); `place` is a JSON path, a cell or a
    /// line.
    #[error("{}: {place}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        place: String,
        message: String,
    },
    /// The workbook could not be opened as XLSX (corrupt, truncated, not a workbook).
    #[error("{}: not a readable XLSX workbook: {message}", path.display())]
    OpenWorkbook { path: PathBuf, message: String },
}

impl Error {
    pub(crate) fn json(path: &std::path::Path, e: &serde_json::Error) -> Error {
        Error::ParseJson {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        }
    }

    pub(crate) fn invalid(
        path: &std::path::Path,
        place: impl Into<String>,
        message: impl Into<String>,
    ) -> Error {
        Error::Invalid {
            path: path.to_path_buf(),
            place: place.into(),
            message: message.into(),
        }
    }
}

/// serde_json appends " at line L column C"; the variant prints those itself.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}
