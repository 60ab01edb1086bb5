//! DICOM: the upper layer (association PDUs), DIMSE command sets, Shodan's DICOM banners, and
//! the tables that name an implementation.
//!
//! What we send is fixed by medsurface's safety rules (product.md): an A-ASSOCIATE-RQ that
//! names us honestly ([`IMPLEMENTATION_CLASS_UID`], [`IMPLEMENTATION_VERSION_NAME`], calling AE
//! [`DEFAULT_CALLING_AE`]), a C-ECHO-RQ, and a Study Root C-FIND-RQ whose only key is a random
//! Patient ID that cannot match and whose only return key is the Study Instance UID. Nothing
//! here can build a query that asks for a patient attribute.
//!
//! What we read is hostile: [`pdu::parse`] frames and reads an answer under a byte limit, keeps
//! the facts of an A-ASSOCIATE-AC/RJ and A-ABORT (including reason codes the standard does
//! not define), and hands P-DATA-TF data-set fragments over as lengths only.
//! [`dimse::CommandSet::parse`] reads a status from a command set and nothing else.
//!
//! `details` turns those facts into the `dicom.*` keys of an observation, so a live probe and a
//! Shodan import say the same thing in the same words.

pub mod ae_titles;
pub mod banner;
pub mod details;
pub mod dimse;
pub mod fingerprint;
pub mod pdu;

use std::fmt;

/// Our implementation class UID: `2.25.` and the decimal value of the fixed (version 4) UUID
/// 6f2b1c3e-8a4d-4e57-9b0c-2d7e5a19c3f4, as PS3.5 B.2 allows. It never changes, so a hospital
/// can write one rule that recognises medsurface in its logs, whatever its version.
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.147768149159460026215590895327865586676";

/// Our implementation version name (at most 16 characters): `MEDSURFACE_` and the digits of the
/// crate version. A test keeps the two in step.
pub const IMPLEMENTATION_VERSION_NAME: &str = "MEDSURFACE_010";

/// The calling AE title we use unless told otherwise: the scanner names itself.
pub const DEFAULT_CALLING_AE: &str = "MEDSURFACE";

/// The called AE title we use unless told otherwise: the de facto "anyone" title that DCMTK
/// tools, nmap's dicom-ping and Shodan use, so our verdict is comparable with theirs.
pub const DEFAULT_CALLED_AE: &str = "ANY-SCP";

/// The most bytes of one peer string (a UID, a version name) that we keep. UIDs are at most 64
/// characters and version names 16; anything longer is cut and the cut is visible.
pub const PEER_TEXT_CAP: usize = 96;

/// An application entity title we are willing to send: 1 to 16 characters of printable ASCII
/// without a backslash, no leading or trailing spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AeTitle(String);

/// Why a string is not an AE title we can send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AeTitleError {
    #[error("an AE title must not be empty or only spaces")]
    Empty,
    #[error("an AE title is at most 16 characters, this one has {0}")]
    TooLong(usize),
    #[error("an AE title may hold printable ASCII except the backslash; found {0:?}")]
    BadCharacter(char),
}

impl AeTitle {
    /// Validates `s` (surrounding spaces are not significant in DICOM and are trimmed).
    pub fn new(s: &str) -> Result<AeTitle, AeTitleError> {
        let t = s.trim_matches(' ');
        if t.is_empty() {
            return Err(AeTitleError::Empty);
        }
        if let Some(c) = t.chars().find(|c| !(' '..='~').contains(c) || *c == '\\') {
            return Err(AeTitleError::BadCharacter(c));
        }
        if t.len() > 16 {
            return Err(AeTitleError::TooLong(t.len()));
        }
        Ok(AeTitle(t.to_string()))
    }

    /// A title no real configuration uses: `prefix` followed by random upper-case hex digits,
    /// 16 characters in all. Used to test whether a server accepts any called or calling AE.
    pub fn random(prefix: &str) -> Result<AeTitle, EntropyError> {
        let prefix: String = prefix
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .take(8)
            .collect();
        let hex = random_hex::<8>()?;
        let mut s = prefix;
        s.push_str(&hex[..16 - s.len()]);
        Ok(AeTitle(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AeTitle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Default for AeTitle {
    /// [`DEFAULT_CALLING_AE`].
    fn default() -> Self {
        AeTitle(DEFAULT_CALLING_AE.to_string())
    }
}

/// The operating system could not give us random bytes.
#[derive(Debug, Clone, thiserror::Error)]
#[error("no random bytes from the operating system: {0}")]
pub struct EntropyError(String);

/// `2 * N` upper-case hex digits of OS randomness.
pub(crate) fn random_hex<const N: usize>() -> Result<String, EntropyError> {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| EntropyError(e.to_string()))?;
    // Not `format!` per byte and an upper-case copy: that was most of a random ID's cost.
    let mut out = String::with_capacity(2 * N);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    Ok(out)
}

/// Text a peer sent, made safe to store and show: NUL padding and surrounding spaces removed,
/// at most [`PEER_TEXT_CAP`] bytes kept, control characters and invalid bytes escaped.
pub(crate) fn peer_text(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .rposition(|b| *b != 0 && *b != b' ')
        .map_or(0, |i| i + 1);
    let start = bytes[..end].iter().position(|b| *b != b' ').unwrap_or(end);
    let text = &bytes[start..end];
    // The usual case (UIDs, names): printable ASCII without a backslash is its own escaped
    // form, so it is copied as is rather than walked character by character.
    let capped = &text[..text.len().min(PEER_TEXT_CAP)];
    if capped
        .iter()
        .all(|b| (0x20..0x7f).contains(b) && *b != b'\\')
    {
        if let Ok(ascii) = std::str::from_utf8(capped) {
            return ascii.to_owned();
        }
    }
    medsurface_model::text::printable(text, PEER_TEXT_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implementation_uid_is_a_valid_uuid_derived_uid() {
        let uid = IMPLEMENTATION_CLASS_UID;
        assert!(uid.len() <= 64);
        let decimal = uid.strip_prefix("2.25.").expect("2.25 root");
        assert!(decimal.bytes().all(|b| b.is_ascii_digit()) && !decimal.starts_with('0'));
        let value: u128 = decimal.parse().expect("fits 128 bits");
        assert_eq!(format!("{value:032x}"), "6f2b1c3e8a4d4e579b0c2d7e5a19c3f4");
        // version 4, RFC 4122 variant
        assert_eq!((value >> 76) & 0xf, 4);
        assert_eq!((value >> 62) & 0x3, 0b10);
    }

    #[test]
    fn version_name_follows_the_crate_version() {
        let digits: String = env!("CARGO_PKG_VERSION")
            .split(['-', '+'])
            .next()
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        assert_eq!(IMPLEMENTATION_VERSION_NAME, format!("MEDSURFACE_{digits}"));
        assert!(IMPLEMENTATION_VERSION_NAME.len() <= 16);
    }

    #[test]
    fn ae_titles_are_validated() {
        assert_eq!(AeTitle::new("  ORTHANC ").unwrap().as_str(), "ORTHANC");
        assert_eq!(AeTitle::new("   "), Err(AeTitleError::Empty));
        assert_eq!(
            AeTitle::new("ABCDEFGHIJKLMNOPQ"),
            Err(AeTitleError::TooLong(17))
        );
        assert_eq!(AeTitle::new("A\\B"), Err(AeTitleError::BadCharacter('\\')));
        assert_eq!(AeTitle::new("A\nB"), Err(AeTitleError::BadCharacter('\n')));
        assert_eq!(AeTitle::new("ÄE"), Err(AeTitleError::BadCharacter('Ä')));
        assert_eq!(AeTitle::default().as_str(), DEFAULT_CALLING_AE);
        AeTitle::new(DEFAULT_CALLED_AE).unwrap();
    }

    #[test]
    fn random_ae_titles_are_valid_and_differ() {
        let a = AeTitle::random("MSX").unwrap();
        let b = AeTitle::random("MSX").unwrap();
        assert_eq!(a.as_str().len(), 16);
        assert!(a.as_str().starts_with("MSX"));
        assert_ne!(a, b);
        assert_eq!(AeTitle::new(a.as_str()).unwrap(), a);
        // A hostile or silly prefix cannot break the title.
        let c = AeTitle::random("\\\u{1b}VERY-LONG-PREFIX-INDEED").unwrap();
        assert_eq!(AeTitle::new(c.as_str()).unwrap(), c);
    }

    #[test]
    fn random_hex_is_upper_case_and_uses_every_digit() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..64 {
            let h = random_hex::<16>().unwrap();
            assert_eq!(h.len(), 32);
            // Two digits per byte, high nibble first: the same text as `{:02X}` of each byte.
            let bytes: Vec<u8> = (0..16)
                .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            let formatted: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
            assert_eq!(h, formatted);
            seen.extend(h.chars());
        }
        // 2,048 random digits: each of the 16 is missing with odds of about 16 * (15/16)^2048.
        assert_eq!(seen.into_iter().collect::<String>(), "0123456789ABCDEF");
    }

    #[test]
    fn peer_text_copies_plain_ascii_as_printable_would_write_it() {
        let reference = |bytes: &[u8]| {
            let end = bytes
                .iter()
                .rposition(|b| *b != 0 && *b != b' ')
                .map_or(0, |i| i + 1);
            let start = bytes[..end].iter().position(|b| *b != b' ').unwrap_or(end);
            medsurface_model::text::printable(&bytes[start..end], PEER_TEXT_CAP)
        };
        let mut samples: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b'A', b, b'Z']).collect();
        samples.push(b"1.2.840.10008.3.1.1.1".to_vec());
        samples.push(b" ORTHANC_1.12  \0\0".to_vec());
        samples.push(b"a\\b".to_vec());
        samples.push(vec![b'7'; PEER_TEXT_CAP + 9]);
        samples.push([vec![b'7'; PEER_TEXT_CAP], vec![0x1b]].concat());
        for bytes in samples {
            assert_eq!(peer_text(&bytes), reference(&bytes), "{bytes:?}");
        }
    }

    #[test]
    fn peer_text_trims_padding_and_escapes() {
        assert_eq!(peer_text(b"1.2.3\0"), "1.2.3");
        assert_eq!(peer_text(b" OFFIS_DCMTK_367 "), "OFFIS_DCMTK_367");
        assert_eq!(peer_text(b"\x1b[2Jx"), "\\x1b[2Jx");
        assert_eq!(peer_text(b""), "");
        assert_eq!(peer_text(&[b'9'; 500]).len(), PEER_TEXT_CAP);
    }
}
