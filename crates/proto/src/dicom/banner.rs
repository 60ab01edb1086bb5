//! Shodan's DICOM banners, read into the same facts as a live answer.
//!
//! Shodan's `dicom` module sends a DCMTK-style association (called `ANY-SCP`, calling
//! `FINDSCU`) and stores one of two forms in `data` (field-notes.md):
//!
//! - text: a first line `DICOM Server Response`, then `Key: Value` lines (AE Title,
//!   Implementation Class UID, Implementation Version Name, …). The layout after the first line
//!   is not documented, so unknown keys are ignored and known keys are matched loosely.
//! - raw: the answer PDU itself (an A-ASSOCIATE-AC, -RJ or A-ABORT), often cut short. A cut
//!   A-ASSOCIATE-AC still gives every item before the cut.
//!
//! Shodan exports `data` as a JSON string; [`bytes_from_json_string`] turns it back into the
//! bytes the raw form needs.

use super::details::AssociationAnswer;
use super::pdu::{self, AssociateAccept, AssociateReject, HEADER_LEN};
use super::peer_text;

/// The first line of the text form.
pub const TEXT_MARKER: &str = "DICOM Server Response";

/// At most this many bytes of a banner are read.
pub const BANNER_CAP: usize = 64 * 1024;

/// Which form a banner had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BannerForm {
    Text,
    RawPdu,
}

/// The facts of a DICOM banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BannerFacts {
    pub form: BannerForm,
    /// The answer, as a live probe would record it (`NoAnswer` when the text form says nothing
    /// about acceptance and carries no implementation facts).
    pub answer: AssociationAnswer,
    /// The AE title the text form names (the one Shodan called, echoed back).
    pub ae_title: Option<String>,
}

/// Reads a DICOM banner; `None` when `data` is neither form.
pub fn parse(data: &[u8]) -> Option<BannerFacts> {
    let data = &data[..data.len().min(BANNER_CAP)];
    let trimmed = trim_leading_space(data);
    if trimmed.starts_with(TEXT_MARKER.as_bytes()) {
        return Some(parse_text(trimmed));
    }
    parse_raw(data)
}

fn trim_leading_space(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}

fn parse_text(data: &[u8]) -> BannerFacts {
    let mut ac = AssociateAccept::default();
    let mut ae_title = None;
    let mut rejected = false;
    let mut saw_fact = false;
    for line in data.split(|b| *b == b'\n').skip(1) {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let key: String = String::from_utf8_lossy(&line[..colon])
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let value = &line[colon + 1..];
        let text = peer_text(trim_leading_space(strip_cr(value)));
        if text.is_empty() {
            continue;
        }
        match key.as_str() {
            "aetitle" | "calledaetitle" | "respondingaetitle" => ae_title = Some(text),
            "implementationclassuid" | "implementationuid" => {
                ac.implementation_class_uid = Some(text);
                saw_fact = true;
            }
            "implementationversionname" | "implementationversion" => {
                ac.implementation_version_name = Some(text);
                saw_fact = true;
            }
            "maxpdulength" | "maximumpdulength" | "maxpdu" => {
                ac.max_pdu_length = text.parse().ok();
            }
            "result" | "association" | "status" => {
                let lower = text.to_ascii_lowercase();
                if lower.contains("reject") {
                    rejected = true;
                } else if lower.contains("accept") {
                    saw_fact = true;
                }
            }
            _ => {}
        }
    }
    let answer = if rejected {
        // The text form names no codes; record the verdict with unknown codes.
        AssociationAnswer::Rejected(AssociateReject {
            result: 0,
            source: 0,
            reason: 0,
        })
    } else if saw_fact {
        AssociationAnswer::Accepted(ac)
    } else {
        AssociationAnswer::NoAnswer
    };
    BannerFacts {
        form: BannerForm::Text,
        answer,
        ae_title,
    }
}

fn strip_cr(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// Whether `data` starts like an answer PDU of the kinds a DICOM banner holds, judged by its
/// header alone (and the protocol version of an A-ASSOCIATE-AC, when present): an A-ASSOCIATE-AC
/// declares at least its 68 fixed bytes and speaks protocol version 1; an A-ASSOCIATE-RJ and an
/// A-ABORT declare exactly their 4 bytes.
///
/// This is what keeps other binary banners out. Many protocols begin with a byte of 2, 3 or 7
/// followed by a zero: RDP's answer, a TPKT header (`03 00 00 13 0e d0 …`), reads as an
/// A-ASSOCIATE-RJ type and reserved byte, but declares a length no reject has. A banner is a
/// stored copy that may be cut short, so only the header is required to be whole.
pub fn plausible_header(data: &[u8]) -> bool {
    if data.len() < HEADER_LEN || data[1] != 0 {
        return false;
    }
    let declared = u32::from_be_bytes([data[2], data[3], data[4], data[5]]);
    match data[0] {
        0x02 => {
            let version_ok = match data.get(HEADER_LEN..HEADER_LEN + 2) {
                Some(v) => u16::from_be_bytes([v[0], v[1]]) & 1 == 1,
                None => true,
            };
            declared >= AC_FIXED_LEN && version_ok
        }
        0x03 | 0x07 => declared == 4,
        _ => false,
    }
}

/// The fixed part of an A-ASSOCIATE-AC's body (version, reserved, two AE titles, 32 reserved).
const AC_FIXED_LEN: u32 = 68;

fn parse_raw(data: &[u8]) -> Option<BannerFacts> {
    if !plausible_header(data) {
        return None;
    }
    // A complete, well-formed PDU first; the tolerant reader below for a cut A-ASSOCIATE-AC.
    if let Ok(Some((pdu, _))) = pdu::parse(data, BANNER_CAP as u32) {
        let answer = match pdu {
            pdu::Pdu::AssociateAc(ac) => AssociationAnswer::Accepted(ac),
            pdu::Pdu::AssociateRj(rj) => AssociationAnswer::Rejected(rj),
            pdu::Pdu::Abort(a) => AssociationAnswer::Aborted(a),
            _ => return None,
        };
        return Some(BannerFacts {
            form: BannerForm::RawPdu,
            answer,
            ae_title: None,
        });
    }
    // A reject or an abort declaring its 4 bytes is whole once 10 bytes are there, and was read
    // above; fewer bytes say nothing. An A-ASSOCIATE-AC cut anywhere after its fixed fields
    // still gives every item before the cut.
    if data[0] != 0x02 {
        return None;
    }
    let mut ac = pdu::parse_accept_body(&data[HEADER_LEN..]).ok()?;
    ac.truncated = true;
    Some(BannerFacts {
        form: BannerForm::RawPdu,
        answer: AssociationAnswer::Accepted(ac),
        ae_title: None,
    })
}

/// The bytes of a banner that an export stored as a JSON string. If every character is at most
/// U+00FF the string held bytes one per character (how binary banners survive JSON), else it is
/// text and its UTF-8 encoding is returned.
pub fn bytes_from_json_string(s: &str) -> Vec<u8> {
    if s.chars().all(|c| (c as u32) <= 0xFF) {
        s.chars().map(|c| c as u32 as u8).collect()
    } else {
        s.as_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three DICOM banners of ../data/shodan-sample.jsonl (a synthetic sample with
    /// realistic banners), as their `data` fields.
    const SAMPLE: &str = include_str!("../../tests/data/shodan-dicom-banners.json");

    fn sample() -> Vec<String> {
        serde_json::from_str(SAMPLE).unwrap()
    }

    #[test]
    fn text_form() {
        let facts = parse(sample()[0].as_bytes()).unwrap();
        assert_eq!(facts.form, BannerForm::Text);
        assert_eq!(facts.ae_title.as_deref(), Some("ANY-SCP"));
        let AssociationAnswer::Accepted(ac) = facts.answer else {
            panic!()
        };
        assert_eq!(
            ac.implementation_class_uid.as_deref(),
            Some("1.2.276.0.7230010.3.0.3.6.6")
        );
        assert_eq!(
            ac.implementation_version_name.as_deref(),
            Some("OFFIS_DCMTK_366")
        );
    }

    #[test]
    fn raw_accept_form() {
        let bytes = bytes_from_json_string(&sample()[2]);
        let facts = parse(&bytes).unwrap();
        assert_eq!(facts.form, BannerForm::RawPdu);
        let AssociationAnswer::Accepted(ac) = facts.answer else {
            panic!()
        };
        assert_eq!(
            ac.implementation_class_uid.as_deref(),
            Some("1.2.840.113845.1.1")
        );
        assert_eq!(
            ac.implementation_version_name.as_deref(),
            Some("Syn4,4,0,36")
        );
        assert_eq!(ac.max_pdu_length, Some(16384));
        assert_eq!(ac.contexts.len(), 4);
    }

    #[test]
    fn raw_reject_form() {
        let facts = parse(&bytes_from_json_string(&sample()[3])).unwrap();
        let AssociationAnswer::Rejected(rj) = facts.answer else {
            panic!()
        };
        assert_eq!(rj.reason_name(), "called-ae-title-not-recognized");
    }

    #[test]
    fn truncated_raw_accept_keeps_the_uid() {
        let bytes = bytes_from_json_string(&sample()[2]);
        let cut = &bytes[..bytes.len() - 4];
        let AssociationAnswer::Accepted(ac) = parse(cut).unwrap().answer else {
            panic!()
        };
        assert!(ac.truncated);
        assert_eq!(
            ac.implementation_class_uid.as_deref(),
            Some("1.2.840.113845.1.1")
        );
        assert_eq!(ac.implementation_version_name, None);
    }

    #[test]
    fn hostile_text_is_escaped_and_non_dicom_is_none() {
        let banner =
            b"DICOM Server Response\r\nImplementation Version Name: \x1b[31mEVIL\r\nAE Title: A\n";
        let facts = parse(banner).unwrap();
        let AssociationAnswer::Accepted(ac) = facts.answer else {
            panic!()
        };
        assert_eq!(
            ac.implementation_version_name.as_deref(),
            Some("\\x1b[31mEVIL")
        );
        assert_eq!(parse(b"HTTP/1.1 200 OK\r\n"), None);
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"\x02\x00\x00"), None);
        let text_only = parse(b"DICOM Server Response\n").unwrap();
        assert_eq!(text_only.answer, AssociationAnswer::NoAnswer);
    }

    /// Binary banners of other protocols that start with a PDU type byte and a zero.
    #[test]
    fn other_protocols_are_not_dicom() {
        // RDP's X.224 Connection Confirm in a TPKT (Shodan's `rdp` module stores this).
        let rdp = b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x124\x00\x02\x1f\x08\x00\x02\x00\x00\x00";
        assert_eq!(parse(rdp), None);
        assert!(!plausible_header(rdp));
        // A TPKT of the short form, and headers declaring lengths no reject or abort has.
        assert_eq!(parse(b"\x03\x00\x00\x0b\x06\xd0\x00\x00\x12\x34\x00"), None);
        assert_eq!(parse(b"\x03\x00\x00\x00\x00\x05\x00\x01\x01\x01\x00"), None);
        assert_eq!(parse(b"\x07\x00\x00\x00\x01\x00\x00\x00\x02\x00"), None);
        // An A-ASSOCIATE-AC type declaring less than its fixed part, or another protocol
        // version.
        let mut short_ac = vec![0x02, 0x00, 0x00, 0x00, 0x00, 0x10];
        short_ac.extend_from_slice(&[0x00, 0x01]);
        short_ac.resize(80, b'A');
        assert_eq!(parse(&short_ac), None);
        let ac = bytes_from_json_string(&sample()[2]);
        let mut other_version = ac.clone();
        other_version[6..8].copy_from_slice(&[0x00, 0x02]);
        assert_eq!(parse(&other_version), None);
        assert!(parse(&ac).is_some());
    }

    /// The whole PDUs a banner holds for a reject and an abort are read, with their codes.
    #[test]
    fn whole_reject_and_abort() {
        let rj = parse(b"\x03\x00\x00\x00\x00\x04\x00\x01\x01\x07").unwrap();
        let AssociationAnswer::Rejected(rj) = rj.answer else {
            panic!()
        };
        assert_eq!((rj.result, rj.source, rj.reason), (1, 1, 7));
        let ab = parse(b"\x07\x00\x00\x00\x00\x04\x00\x00\x02\x01").unwrap();
        let AssociationAnswer::Aborted(ab) = ab.answer else {
            panic!()
        };
        assert_eq!((ab.source, ab.reason), (2, 1));
        // Cut before its fourth byte, a reject says nothing.
        assert_eq!(parse(b"\x03\x00\x00\x00\x00\x04\x00\x01"), None);
    }

    #[test]
    fn json_strings_become_bytes() {
        assert_eq!(bytes_from_json_string("\u{2}\u{0}\u{ff}"), vec![2, 0, 0xff]);
        assert_eq!(bytes_from_json_string("é€"), "é€".as_bytes());
    }
}
