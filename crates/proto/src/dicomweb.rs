//! DICOMweb facts: where QIDO-RS answers, and whether it answers a query that cannot match
//! without authentication. The answer body is only checked to be a JSON array (its elements are
//! counted and dropped while parsing, never decoded), so nothing a server returns is kept.

use std::fmt;

use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

/// Base paths tried, in order.
pub const BASES: &[&str] = &[
    "/dicom-web",
    "/dicomweb",
    "/wado",
    "/rs",
    "/dcm4chee-arc/aets/DCM4CHEE/rs",
];

/// The media type we ask for.
pub const ACCEPT: &str = "application/dicom+json, application/json;q=0.9";

/// A study query whose only key is a random UID under the 2.25 root: it cannot match.
pub fn non_matching_query(base: &str) -> Option<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    // 2.25 UIDs are the decimal form of a UUID; keep it a valid (non-zero-leading) number.
    let n = u128::from_be_bytes(bytes) | 1 << 120;
    Some(format!("{base}/studies?StudyInstanceUID=2.25.{n}"))
}

/// What an answer to the non-matching query says about access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QidoVerdict {
    /// 200 with a JSON array, or 204: anyone may query.
    Open { matches: usize },
    /// 401 or 403.
    Closed,
    /// Anything else: not QIDO-RS at this base.
    NotHere,
}

/// Judges a QIDO-RS answer by status and body.
pub fn judge(status: u16, body: &[u8]) -> QidoVerdict {
    match status {
        204 => QidoVerdict::Open { matches: 0 },
        200 => match serde_json::from_slice::<Counted>(body) {
            Ok(Counted(n)) => QidoVerdict::Open { matches: n },
            Err(_) => QidoVerdict::NotHere,
        },
        401 | 403 => QidoVerdict::Closed,
        _ => QidoVerdict::NotHere,
    }
}

/// A JSON array, counted and dropped.
struct Counted(usize);

impl<'de> Deserialize<'de> for Counted {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Counted, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Counted;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Counted, A::Error> {
                let mut n = 0;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Counted(n))
            }
        }
        d.deserialize_seq(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        assert_eq!(judge(200, b"[]"), QidoVerdict::Open { matches: 0 });
        assert_eq!(
            judge(200, b" [ {\"0010,0010\":{}} ] "),
            QidoVerdict::Open { matches: 1 }
        );
        assert_eq!(judge(204, b""), QidoVerdict::Open { matches: 0 });
        assert_eq!(judge(401, b""), QidoVerdict::Closed);
        assert_eq!(judge(403, b"x"), QidoVerdict::Closed);
        assert_eq!(judge(200, b"<html>"), QidoVerdict::NotHere);
        assert_eq!(judge(404, b"[]"), QidoVerdict::NotHere);
        let q = non_matching_query("/dicom-web").unwrap();
        assert!(
            q.starts_with("/dicom-web/studies?StudyInstanceUID=2.25."),
            "{q}"
        );
        assert!(
            q.len() - "/dicom-web/studies?StudyInstanceUID=".len() <= 64,
            "a UID is at most 64 characters"
        );
    }
}
