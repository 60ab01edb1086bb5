//! Peer text is hostile. These helpers turn bytes a peer sent into text that is bounded in size
//! and safe to put on a terminal (no escape sequences, no control characters).
//!
//! They live in the model crate because every stage that shows peer text (scan output, reports,
//! the store's exports) must apply the same rule. HTML and CSV escaping belong to the report
//! stage, on top of this.

/// Printable text from untrusted bytes: at most `cap` bytes are read; valid UTF-8 printable
/// characters are kept; tabs, newlines and carriage returns become `\t`, `\n`, `\r`; every other
/// control character or invalid byte becomes `\xNN`. A backslash is doubled so the escaping can
/// be read back without ambiguity.
pub fn printable(bytes: &[u8], cap: usize) -> String {
    let bytes = &bytes[..bytes.len().min(cap)];
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() || is_bidi_control(c) => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Unicode characters that reorder text on a terminal (Trojan Source style) are escaped too.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn escapes_terminal_control_sequences() {
        let hostile = b"220 ok\x1b[2J\x1b]0;pwned\x07\r\n";
        let s = printable(hostile, 1024);
        assert!(!s.chars().any(|c| c.is_control()), "{s}");
        assert_eq!(s, "220 ok\\x1b[2J\\x1b]0;pwned\\x07\\r\\n");
    }

    #[test]
    fn keeps_utf8_and_escapes_invalid_bytes() {
        assert_eq!(printable("Größe".as_bytes(), 64), "Größe");
        assert_eq!(printable(b"a\xffb", 64), "a\\xffb");
        assert_eq!(printable("x\u{202E}y".as_bytes(), 64), "x\\xe2\\x80\\xaey");
    }

    #[test]
    fn caps_input_length() {
        assert_eq!(printable(&[b'a'; 100], 10).len(), 10);
    }
}
