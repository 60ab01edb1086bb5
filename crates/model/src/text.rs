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
    // Most peer text (header names and values, titles) is printable ASCII without a backslash,
    // which is kept as it is: one check and one copy instead of a loop over characters.
    if bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\')
    {
        if let Ok(text) = std::str::from_utf8(bytes) {
            return text.to_owned();
        }
    }
    escaped(bytes)
}

/// [`printable`] character by character, for text that is not all plain ASCII.
fn escaped(bytes: &[u8]) -> String {
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

    /// The plain-ASCII shortcut gives what the character loop gives: every byte value alone and
    /// amid ASCII, and many mostly-ASCII strings (xorshift, so the cases are reproducible).
    #[test]
    fn the_ascii_shortcut_agrees_with_the_loop() {
        for b in 0..=255u8 {
            for s in [
                vec![b],
                vec![b'a', b, b'z'],
                [b"Server: ".to_vec(), vec![b]].concat(),
            ] {
                assert_eq!(printable(&s, 64), super::escaped(&s), "{s:?}");
            }
        }
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let s: Vec<u8> = (0..len)
                .map(|_| match next() % 16 {
                    0 => (next() % 256) as u8,
                    1 => b"\\\t\r\n\x7f\x1f"[(next() % 6) as usize],
                    _ => 0x20 + (next() % 95) as u8,
                })
                .collect();
            let cap = (next() % 48) as usize;
            let cut = &s[..s.len().min(cap)];
            assert_eq!(printable(&s, cap), super::escaped(cut), "{s:?} {cap}");
        }
    }
}
