//! Hostile input for every DICOM reader, and differential tests against dicom-ul's reference
//! reader. (The cargo-fuzz target in `fuzz/` runs the same checks under libFuzzer where a
//! nightly toolchain is available; these property tests run everywhere, in `cargo test`.)

use dicom_ul::pdu::{
    read_pdu, write_pdu, AssociationAC, PDataValue, PDataValueType, Pdu as UlPdu,
    PresentationContextResult, PresentationContextResultReason, UserVariableItem,
};
use medsurface_proto::dicom::{banner, dimse, pdu};
use proptest::prelude::*;

fn reason(r: u8) -> PresentationContextResultReason {
    match r % 5 {
        0 => PresentationContextResultReason::Acceptance,
        1 => PresentationContextResultReason::UserRejection,
        2 => PresentationContextResultReason::NoReason,
        3 => PresentationContextResultReason::AbstractSyntaxNotSupported,
        _ => PresentationContextResultReason::TransferSyntaxesNotSupported,
    }
}

fn accept_strategy() -> impl Strategy<Value = Vec<u8>> {
    (
        "[0-9]{1,3}(\\.[0-9]{1,5}){1,8}",
        "[A-Za-z0-9_.]{1,16}",
        any::<u32>(),
        prop::collection::vec((0u8..128, any::<u8>()), 0..6),
    )
        .prop_map(|(uid, name, max, contexts)| {
            let ac = UlPdu::AssociationAC(AssociationAC {
                protocol_version: 1,
                calling_ae_title: "MEDSURFACE".into(),
                called_ae_title: "ANY-SCP".into(),
                application_context_name: "1.2.840.10008.3.1.1.1".into(),
                presentation_contexts: contexts
                    .into_iter()
                    .map(|(id, r)| PresentationContextResult {
                        id: id * 2 + 1,
                        reason: reason(r),
                        transfer_syntax: "1.2.840.10008.1.2".into(),
                    })
                    .collect(),
                user_variables: vec![
                    UserVariableItem::MaxLength(max),
                    UserVariableItem::ImplementationClassUID(uid),
                    UserVariableItem::ImplementationVersionName(name),
                ],
            });
            let mut out = Vec::new();
            write_pdu(&mut out, &ac).expect("reference writer");
            out
        })
}

fn p_data_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        (
            any::<u8>(),
            any::<bool>(),
            any::<bool>(),
            prop::collection::vec(any::<u8>(), 0..64),
        ),
        1..5,
    )
    .prop_map(|values| {
        let pdu = UlPdu::PData {
            data: values
                .into_iter()
                .map(|(id, command, last, data)| PDataValue {
                    presentation_context_id: id,
                    value_type: if command {
                        PDataValueType::Command
                    } else {
                        PDataValueType::Data
                    },
                    is_last: last,
                    data,
                })
                .collect(),
        };
        let mut out = Vec::new();
        write_pdu(&mut out, &pdu).expect("reference writer");
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    /// Random bytes never panic any reader, and a reported length is within the input and the
    /// limit.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), limit in 0u32..2048) {
        if let Ok(Some((_, used))) = pdu::parse(&bytes, limit) {
            prop_assert!(used <= bytes.len());
            prop_assert!(used <= limit as usize + pdu::HEADER_LEN);
        }
        if let Ok(Some(total)) = pdu::frame(&bytes, limit) {
            prop_assert!(total <= limit as usize + pdu::HEADER_LEN);
        }
        let _ = banner::parse(&bytes);
        let _ = dimse::CommandSet::parse(&bytes);
    }

    /// Random bytes behind a plausible header (the interesting case for a PDU reader).
    #[test]
    fn random_bodies_never_panic(kind in 1u8..=7, body in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut bytes = vec![kind, 0];
        bytes.extend((body.len() as u32).to_be_bytes());
        bytes.extend(&body);
        if let Ok(Some((parsed, used))) = pdu::parse(&bytes, 1024) {
            prop_assert_eq!(used, bytes.len());
            if let pdu::Pdu::PData(p) = parsed {
                let mut reader = dimse::MessageReader::new();
                for v in p.values {
                    let _ = reader.push(v);
                }
            }
        }
        let _ = banner::parse(&bytes);
    }

    /// Every A-ASSOCIATE-AC the reference writer produces reads the same with our reader and
    /// with dicom-ul's reader; every prefix of it asks for more bytes.
    #[test]
    fn accept_agrees_with_the_reference_reader(bytes in accept_strategy()) {
        let (ours, used) = pdu::parse(&bytes, 1 << 20).unwrap().unwrap();
        prop_assert_eq!(used, bytes.len());
        let reference = read_pdu(&bytes[..], 1 << 20, false).unwrap().unwrap();
        prop_assert_eq!(Some(ours), pdu::from_reference(&reference));
        for cut in [0, 1, 5, 6, bytes.len() / 2, bytes.len() - 1] {
            prop_assert_eq!(pdu::parse(&bytes[..cut], 1 << 20), Ok(None));
        }
    }

    /// P-DATA-TF: same values as the reference reader, data-set fragments as lengths only.
    #[test]
    fn p_data_agrees_with_the_reference_reader(bytes in p_data_strategy()) {
        let (ours, _) = pdu::parse(&bytes, 1 << 20).unwrap().unwrap();
        let reference = read_pdu(&bytes[..], 1 << 20, false).unwrap().unwrap();
        prop_assert_eq!(Some(ours), pdu::from_reference(&reference));
    }

    /// A banner cut anywhere never panics and, if it still reads as an accept, keeps only facts
    /// that were complete before the cut.
    #[test]
    fn cut_banners(bytes in accept_strategy(), cut_at in any::<prop::sample::Index>()) {
        let cut = cut_at.index(bytes.len() + 1);
        let _ = banner::parse(&bytes[..cut]);
    }
}

#[test]
fn the_claimed_4_gib_pdu_is_refused_from_its_header() {
    let header = [0x04, 0x00, 0xFF, 0xFF, 0xFF, 0xFF];
    assert!(matches!(
        pdu::frame(&header, pdu::DEFAULT_READ_LIMIT),
        Err(pdu::PduError::TooLarge {
            declared: u32::MAX,
            ..
        })
    ));
}
