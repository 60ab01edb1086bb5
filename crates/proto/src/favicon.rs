//! Shodan's favicon hash, so that public favicon searches (`http.favicon.hash:-478834633`) and
//! medsurface's own observations name an icon by the same number.
//!
//! The recipe is Python's `mmh3.hash(base64.encodebytes(icon))`: MurmurHash3 x86 32-bit, seed 0,
//! read as a signed integer, over the MIME base64 of the icon bytes — a newline after every 76
//! characters and one at the end.

use base64::Engine as _;

/// Most bytes of an icon hashed (the probe reads no more than this).
pub const ICON_CAP: usize = 256 * 1024;

/// The base64 text Python's `base64.encodebytes` produces.
pub fn encodebytes(icon: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(icon);
    let mut out = Vec::with_capacity(b64.len() + b64.len() / 76 + 1);
    for line in b64.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

/// Shodan's favicon hash of `icon`.
pub fn shodan_hash(icon: &[u8]) -> i32 {
    let text = encodebytes(icon);
    // Reading from a slice cannot fail.
    murmur3::murmur3_32(&mut std::io::Cursor::new(&text), 0).unwrap_or(0) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_python_encodebytes_layout() {
        assert_eq!(encodebytes(b""), b"");
        assert_eq!(encodebytes(b"abc"), b"YWJj\n");
        let long = encodebytes(&[0u8; 100]);
        let lines: Vec<&[u8]> = long.split(|&b| b == b'\n').collect();
        assert_eq!(lines[0].len(), 76);
        assert_eq!(lines.last().map(|l| l.len()), Some(0));
    }

    #[test]
    fn known_murmur3_values() {
        // mmh3.hash(b"YWJj\n") == python: mmh3.hash(base64.encodebytes(b"abc"))
        // Reference values of MurmurHash3_x86_32 with seed 0.
        assert_eq!(
            murmur3::murmur3_32(&mut std::io::Cursor::new(b""), 0).unwrap(),
            0
        );
        assert_eq!(
            murmur3::murmur3_32(&mut std::io::Cursor::new(b"hello"), 0).unwrap(),
            0x248bfa47
        );
    }
}
