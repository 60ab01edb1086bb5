//! Fuzzes the readers of an HL7/MLLP answer and of the database handshakes: the MLLP framer,
//! the ER7 MSH/MSA reader, and the PostgreSQL, MySQL, Redis, MongoDB (BSON) and HTTP readers.
//! Invariants: no panic, reported lengths within the input and the limit, and text that leaves
//! a reader is escaped (no control characters). The same checks run on stable as property
//! tests in crates/proto/tests/app_garbage.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medsurface_proto::db::{elasticsearch, mongodb, mysql, postgres, redis};
use medsurface_proto::hl7;

fn safe(s: &Option<String>) {
    if let Some(s) = s {
        assert!(!s.chars().any(char::is_control));
    }
}

fuzz_target!(|data: &[u8]| {
    let limit = 1 + usize::from(data.first().copied().unwrap_or(0)) * 64;
    if let Ok(Some(frame)) = hl7::read_frame(data, limit) {
        assert!(frame.consumed <= data.len() && frame.payload.len() < limit);
    }
    if let hl7::Exchange::Answered(a) = hl7::judge(data, limit) {
        for v in [
            &a.sending_application,
            &a.sending_facility,
            &a.message_type,
            &a.version,
            &a.ack_code,
            &a.ack_text,
        ] {
            safe(v);
        }
    }
    if let Ok(Some((_, used))) = postgres::read_message(data, limit) {
        assert!(used <= data.len() && used <= limit + 1);
    }
    if let Ok(Some(g)) = mysql::read_greeting(data, limit) {
        safe(&g.facts().version);
    }
    if let Ok(Some(r)) = redis::read_reply(data, limit) {
        safe(&redis::facts(&r).version);
    }
    if let Ok(Some((r, used))) = mongodb::read_reply(data, limit.max(16)) {
        assert!(used <= data.len());
        let mut s = mongodb::Session::default();
        s.handshake(&r.document);
        s.build_info(&r.document);
        s.list_databases(&r.document);
        safe(&s.facts.version);
    }
    if let Ok(Some(r)) = elasticsearch::read_response(data, limit, true) {
        assert!(r.body.len() <= limit);
    }
});
