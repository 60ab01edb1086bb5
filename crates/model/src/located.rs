//! Errors in data files that name their place: `file:line: what`. Signature, rubric, knowledge,
//! organisation-type and vendor-register files all report this way; each keeps its own `kind`
//! enum (so callers tell failures apart by type) and shares the place and its printing.

use std::fmt;

/// An error of kind `K` at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<K> {
    /// The file, as given (built-in files are named by their path in the repository).
    pub file: String,
    /// 1-based line, 0 when the error is about the whole file.
    pub line: usize,
    pub kind: K,
}

impl<K: fmt::Display> fmt::Display for Located<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file, self.line, self.kind)
        } else {
            write!(f, "{}: {}", self.file, self.kind)
        }
    }
}

impl<K: fmt::Debug + fmt::Display> std::error::Error for Located<K> {}

/// The 1-based line of a byte offset in `text` (offsets past the end count as the last line).
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_the_place_then_the_kind() {
        let e = Located {
            file: "risk/dread.toml".to_owned(),
            line: 7,
            kind: "unknown factor `x`",
        };
        assert_eq!(e.to_string(), "risk/dread.toml:7: unknown factor `x`");
        let whole = Located {
            line: 0,
            ..e.clone()
        };
        assert_eq!(whole.to_string(), "risk/dread.toml: unknown factor `x`");
    }

    #[test]
    fn lines_of_offsets() {
        let text = "a\nbc\n\nd";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 2), 2);
        assert_eq!(line_of(text, 5), 3);
        assert_eq!(line_of(text, 6), 4);
        assert_eq!(line_of(text, 999), 4);
    }
}
