//! Peer text, made fit for a report: control characters removed, size bounded.
//!
//! Everything a peer or an import file said (product names, organisations, host names, evidence
//! sentences) passes through [`clean`] before any renderer sees it. Escaping for the output
//! format (HTML autoescape, Markdown backslashes, CSV quoting and formula neutralisation) comes
//! on top, in the renderer, because each format has its own dangerous characters.

/// Longest text kept in a table cell or a chart label, in characters.
pub const CELL_CHARS: usize = 200;
/// Longest chart label, in characters (longer ones end with an ellipsis).
pub const LABEL_CHARS: usize = 28;

/// `s` without control characters (C0, C1, DEL) or bidirectional overrides, whitespace runs
/// folded to one space, trimmed, and cut to `max` characters (an ellipsis marks the cut).
pub fn clean(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut count = 0usize;
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
            // Tabs, newlines and other controls separate words; they never reach the output.
            if c.is_whitespace() || c == '\u{0}' {
                pending_space = !out.is_empty();
            }
            continue;
        }
        if is_invisible(c) {
            continue;
        }
        if pending_space {
            if count + 1 >= max {
                out.push('…');
                return out;
            }
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        if count + 1 > max {
            out.pop();
            out.push('…');
            return out;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// Characters that reorder or hide text (Trojan Source), dropped like control characters.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}'..='\u{200F}' | '\u{FEFF}')
}

/// [`clean`] for an optional field; empty results become `None`.
pub fn clean_opt(s: Option<&str>, max: usize) -> Option<String> {
    s.map(|s| clean(s, max)).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_overrides_are_removed() {
        assert_eq!(clean("a\x1b[2Jb\x07c", 50), "a[2Jbc");
        assert_eq!(clean("x\u{202E}y\u{200B}z", 50), "xyz");
        assert_eq!(clean("  two\n\tlines \r\n", 50), "two lines");
        assert_eq!(clean("nul\0byte", 50), "nul byte");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        let s = clean(&"x".repeat(500), 10);
        assert_eq!(s.chars().count(), 10);
        assert!(s.ends_with('…'));
        assert_eq!(clean("short", 10), "short");
        assert_eq!(clean("exactly10!", 10), "exactly10!");
        assert_eq!(clean("Größe über", 6).chars().count(), 6);
    }
}
