//! Fuzzes the reader of a DICOM peer's answers: the PDU framer and parser, the DIMSE command
//! reader, and the Shodan banner reader. Invariants: no panic, reported lengths within the
//! input and the limit, and agreement with dicom-ul's reference reader on every complete
//! A-ASSOCIATE-AC or P-DATA-TF both accept whose text is plain printable ASCII.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medsurface_proto::dicom::{banner, dimse, pdu};

fuzz_target!(|data: &[u8]| {
    let limit = pdu::DEFAULT_READ_LIMIT;
    if let Ok(Some((ours, used))) = pdu::parse(data, limit) {
        assert!(used <= data.len() && used <= limit as usize + pdu::HEADER_LEN);
        if let pdu::Pdu::PData(p) = &ours {
            let mut reader = dimse::MessageReader::new();
            for v in p.values.clone() {
                let _ = reader.push(v);
            }
        }
        let printable = data[..used].iter().all(|b| *b < 0x80);
        if printable {
            if let Ok(Some(reference)) = dicom_ul::pdu::read_pdu(&data[..used], limit, false) {
                if let Some(theirs) = pdu::from_reference(&reference) {
                    if matches!(theirs, pdu::Pdu::PData(_)) {
                        assert_eq!(Some(ours), Some(theirs));
                    }
                }
            }
        }
    }
    let _ = dimse::CommandSet::parse(data);
    let _ = banner::parse(data);
});
