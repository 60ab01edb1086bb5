//! The `dicom.*` observation details: every key in one place, and the functions that write the
//! facts of an association answer and of a fingerprint under them.
//!
//! The live probe and the Shodan importer both call these, so the same server seen live and in
//! an export carries the same keys with the same values (product.md: one classifier, one
//! scorer, one schema).

use medsurface_model::Details;
use serde_json::{json, Map, Value};

use super::fingerprint::Identification;
use super::pdu::{Abort, AssociateAccept, AssociateReject, ProposedContext};

/// Every `dicom.*` key medsurface writes.
pub mod keys {
    /// `accepted`, `rejected`, `aborted`, `not-dicom`, `no-answer` (see [`super::Verdict`]).
    pub const ASSOCIATION: &str = "dicom.association";
    /// Why the association or a later step could not be read (a protocol fault, by kind).
    pub const ERROR: &str = "dicom.error";
    pub const CALLING_AE: &str = "dicom.calling_ae";
    pub const CALLED_AE: &str = "dicom.called_ae";
    /// The server accepted an association to a random called AE title.
    pub const ACCEPTS_ANY_AE: &str = "dicom.accepts_any_ae";
    /// The server accepted an association from a random calling AE title.
    pub const ACCEPTS_ANY_CALLING_AE: &str = "dicom.accepts_any_calling_ae";
    /// The first title of the opt-in list that the server accepted.
    pub const ACCEPTED_AE_TITLE: &str = "dicom.accepted_ae_title";
    /// How many titles of the opt-in list were tried.
    pub const AE_TITLES_TRIED: &str = "dicom.ae_titles_tried";
    pub const REJECT_RESULT: &str = "dicom.reject_result";
    pub const REJECT_SOURCE: &str = "dicom.reject_source";
    pub const REJECT_REASON: &str = "dicom.reject_reason";
    pub const ABORT_SOURCE: &str = "dicom.abort_source";
    pub const ABORT_REASON: &str = "dicom.abort_reason";
    pub const IMPLEMENTATION_CLASS_UID: &str = "dicom.implementation_class_uid";
    pub const IMPLEMENTATION_VERSION_NAME: &str = "dicom.implementation_version_name";
    pub const MAX_PDU_LENGTH: &str = "dicom.max_pdu_length";
    /// Object: proposed context name → result name.
    pub const CONTEXTS: &str = "dicom.contexts";
    /// The C-ECHO status name (`success`, `refused-out-of-resources`, …).
    pub const ECHO_STATUS: &str = "dicom.echo_status";
    /// True when a query that cannot match ended in Success: queries need no authentication.
    pub const QUERY_WITHOUT_AUTH: &str = "dicom.query_without_auth";
    /// The final status name of the non-matching C-FIND.
    pub const QUERY_STATUS: &str = "dicom.query_status";
    /// The server answered a query that cannot match with records (they were discarded).
    pub const QUERY_IGNORES_KEYS: &str = "dicom.query_ignores_keys";
    /// Opt-in: number of studies a universal query matched (capped; see `STUDY_COUNT_CAPPED`).
    pub const STUDY_COUNT: &str = "dicom.study_count";
    pub const STUDY_COUNT_CAPPED: &str = "dicom.study_count_capped";
    /// Whether DICOM ran inside TLS (its version, cipher and certificate are the `tls.*` keys
    /// of `crate::tls::write_details`).
    pub const TLS: &str = "dicom.tls";
    pub const VENDOR: &str = "dicom.vendor";
    pub const PRODUCT: &str = "dicom.product";
    pub const VERSION: &str = "dicom.version";
    /// Id of the matching entry of knowledge/dicom-implementations.toml.
    pub const FINGERPRINT: &str = "dicom.fingerprint";
    /// The A-ASSOCIATE-AC was cut short (a truncated banner); facts before the cut are kept.
    pub const TRUNCATED: &str = "dicom.truncated";

    /// Every key, for tests and for consumers that list the fields.
    pub const ALL: &[&str] = &[
        ASSOCIATION,
        ERROR,
        CALLING_AE,
        CALLED_AE,
        ACCEPTS_ANY_AE,
        ACCEPTS_ANY_CALLING_AE,
        ACCEPTED_AE_TITLE,
        AE_TITLES_TRIED,
        REJECT_RESULT,
        REJECT_SOURCE,
        REJECT_REASON,
        ABORT_SOURCE,
        ABORT_REASON,
        IMPLEMENTATION_CLASS_UID,
        IMPLEMENTATION_VERSION_NAME,
        MAX_PDU_LENGTH,
        CONTEXTS,
        ECHO_STATUS,
        QUERY_WITHOUT_AUTH,
        QUERY_STATUS,
        QUERY_IGNORES_KEYS,
        STUDY_COUNT,
        STUDY_COUNT_CAPPED,
        TLS,
        VENDOR,
        PRODUCT,
        VERSION,
        FINGERPRINT,
        TRUNCATED,
    ];
}

/// How the first association attempt ended: the value of `dicom.association`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    Accepted,
    Rejected,
    Aborted,
    /// The peer answered with something that is not a DICOM PDU.
    NotDicom,
    /// The peer closed the connection or did not answer before the timeout.
    NoAnswer,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Rejected => "rejected",
            Verdict::Aborted => "aborted",
            Verdict::NotDicom => "not-dicom",
            Verdict::NoAnswer => "no-answer",
        }
    }
}

/// The answer to an A-ASSOCIATE-RQ, as facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssociationAnswer {
    Accepted(AssociateAccept),
    Rejected(AssociateReject),
    Aborted(Abort),
    NotDicom,
    NoAnswer,
}

impl AssociationAnswer {
    pub fn verdict(&self) -> Verdict {
        match self {
            AssociationAnswer::Accepted(_) => Verdict::Accepted,
            AssociationAnswer::Rejected(_) => Verdict::Rejected,
            AssociationAnswer::Aborted(_) => Verdict::Aborted,
            AssociationAnswer::NotDicom => Verdict::NotDicom,
            AssociationAnswer::NoAnswer => Verdict::NoAnswer,
        }
    }
}

/// Writes the facts of `answer`. `proposed` names the presentation contexts of the request
/// that was answered (ours); without it (an imported banner answered someone else's request)
/// no `dicom.contexts` is written.
pub fn write_association(
    details: &mut Details,
    answer: &AssociationAnswer,
    proposed: Option<&[ProposedContext]>,
) {
    details.insert(keys::ASSOCIATION.into(), json!(answer.verdict().as_str()));
    match answer {
        AssociationAnswer::Accepted(ac) => {
            if let Some(uid) = &ac.implementation_class_uid {
                details.insert(keys::IMPLEMENTATION_CLASS_UID.into(), json!(uid));
            }
            if let Some(name) = &ac.implementation_version_name {
                details.insert(keys::IMPLEMENTATION_VERSION_NAME.into(), json!(name));
            }
            if let Some(max) = ac.max_pdu_length {
                details.insert(keys::MAX_PDU_LENGTH.into(), json!(max));
            }
            if let Some(proposed) = proposed {
                let mut contexts = Map::new();
                for pc in proposed {
                    let result = ac.context(pc.id).map_or("no-answer", |c| c.result_name());
                    contexts.insert(pc.name.into(), json!(result));
                }
                details.insert(keys::CONTEXTS.into(), Value::Object(contexts));
            }
            if ac.truncated {
                details.insert(keys::TRUNCATED.into(), json!(true));
            }
        }
        AssociationAnswer::Rejected(rj) => {
            details.insert(keys::REJECT_RESULT.into(), json!(rj.result_name()));
            details.insert(keys::REJECT_SOURCE.into(), json!(rj.source_name()));
            details.insert(keys::REJECT_REASON.into(), json!(rj.reason_name()));
        }
        AssociationAnswer::Aborted(a) => {
            details.insert(keys::ABORT_SOURCE.into(), json!(a.source_name()));
            details.insert(keys::ABORT_REASON.into(), json!(a.reason_name()));
        }
        AssociationAnswer::NotDicom | AssociationAnswer::NoAnswer => {}
    }
}

/// Writes the facts of `answer` and, for an accepted association, the implementation the
/// shipped fingerprint table names. This is the one call a live probe and an importer make for
/// an association answer, so both say the same thing.
pub fn write_answer(
    details: &mut Details,
    answer: &AssociationAnswer,
    proposed: Option<&[ProposedContext]>,
) {
    write_association(details, answer, proposed);
    if let AssociationAnswer::Accepted(ac) = answer {
        if let Ok(table) = super::fingerprint::Fingerprints::builtin() {
            let id = table.identify(
                ac.implementation_class_uid.as_deref(),
                ac.implementation_version_name.as_deref(),
            );
            if let Some(id) = id {
                write_identification(details, &id);
            }
        }
    }
}

/// Writes vendor, product, version and the fingerprint id of an identification.
pub fn write_identification(details: &mut Details, id: &Identification) {
    details.insert(keys::FINGERPRINT.into(), json!(id.id));
    details.insert(keys::VENDOR.into(), json!(id.vendor));
    if let Some(product) = &id.product {
        details.insert(keys::PRODUCT.into(), json!(product));
    }
    if let Some(version) = &id.version {
        details.insert(keys::VERSION.into(), json!(version));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dicom::pdu::{ContextResult, PROPOSED_CONTEXTS};

    #[test]
    fn keys_are_unique_and_namespaced() {
        let mut all = keys::ALL.to_vec();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), keys::ALL.len());
        assert!(keys::ALL
            .iter()
            .all(|k| k.starts_with("dicom.") && k.len() > 6));
    }

    #[test]
    fn accepted_answer_writes_fingerprint_facts_and_contexts() {
        let ac = AssociateAccept {
            protocol_version: 1,
            implementation_class_uid: Some("1.2.3".into()),
            implementation_version_name: Some("X_1".into()),
            max_pdu_length: Some(16384),
            contexts: vec![
                ContextResult {
                    id: 1,
                    result: 0,
                    transfer_syntax: Some("1.2.840.10008.1.2".into()),
                },
                ContextResult {
                    id: 3,
                    result: 3,
                    transfer_syntax: None,
                },
            ],
            ..AssociateAccept::default()
        };
        let mut d = Details::new();
        write_association(
            &mut d,
            &AssociationAnswer::Accepted(ac),
            Some(&PROPOSED_CONTEXTS),
        );
        assert_eq!(d[keys::ASSOCIATION], "accepted");
        assert_eq!(d[keys::IMPLEMENTATION_CLASS_UID], "1.2.3");
        assert_eq!(d[keys::MAX_PDU_LENGTH], 16384);
        assert_eq!(
            d[keys::CONTEXTS],
            json!({"verification": "accepted", "study-root-find": "abstract-syntax-not-supported",
                   "patient-root-find": "no-answer"})
        );
    }

    #[test]
    fn a_shodan_banner_and_a_live_answer_write_the_same_fingerprint() {
        let banner = b"DICOM Server Response\nAE Title: ANY-SCP\nImplementation Class UID: 1.2.276.0.7230010.3.0.3.6.6\nImplementation Version Name: OFFIS_DCMTK_366\n";
        let facts = crate::dicom::banner::parse(banner).unwrap();
        let mut d = Details::new();
        write_answer(&mut d, &facts.answer, None);
        assert_eq!(d[keys::ASSOCIATION], "accepted");
        assert_eq!(d[keys::FINGERPRINT], "dcmtk");
        assert_eq!(d[keys::VENDOR], "OFFIS");
        assert_eq!(d[keys::VERSION], "3.6.6");
        assert!(!d.contains_key(keys::CONTEXTS));
    }

    #[test]
    fn reject_and_abort_write_their_codes_by_name() {
        let mut d = Details::new();
        let rj = AssociateReject {
            result: 1,
            source: 1,
            reason: 7,
        };
        write_association(&mut d, &AssociationAnswer::Rejected(rj), None);
        assert_eq!(d[keys::ASSOCIATION], "rejected");
        assert_eq!(d[keys::REJECT_REASON], "called-ae-title-not-recognized");
        let mut d = Details::new();
        write_association(
            &mut d,
            &AssociationAnswer::Aborted(Abort {
                source: 2,
                reason: 2,
            }),
            None,
        );
        assert_eq!(d[keys::ABORT_REASON], "unexpected-pdu");
        let mut d = Details::new();
        write_association(&mut d, &AssociationAnswer::NotDicom, None);
        assert_eq!(d.len(), 1);
        assert_eq!(d[keys::ASSOCIATION], "not-dicom");
    }
}
