//! Property tests of the HL7/MLLP and database answer readers on hostile input: arbitrary
//! bytes, truncations and oversized length fields never panic, never report more bytes than
//! they were given, respect their limits, and only ever hand out escaped, capped text.
//! (The stable-toolchain counterpart of a fuzz target: `cargo test` runs it everywhere.)

use medsurface_proto::db::{elasticsearch, mongodb, mysql, postgres, redis, DbFacts};
use medsurface_proto::hl7::{self, Answer, Exchange};
use proptest::prelude::*;

fn text_is_safe(s: &str, cap: usize) {
    assert!(
        !s.chars().any(char::is_control),
        "control character in {s:?}"
    );
    // printable() escapes at most 4 output bytes per input byte.
    assert!(s.len() <= 4 * cap, "{} bytes > 4 x {cap}", s.len());
}

fn answer_is_safe(a: &Answer) {
    for v in [
        &a.sending_application,
        &a.sending_facility,
        &a.message_type,
        &a.control_id,
        &a.processing_id,
        &a.version,
        &a.ack_code,
        &a.acknowledged_control_id,
        &a.ack_text,
    ]
    .into_iter()
    .flatten()
    {
        text_is_safe(v, hl7::FIELD_CAP);
    }
}

fn facts_are_safe(f: &DbFacts) {
    if let Some(v) = &f.version {
        text_is_safe(v, medsurface_proto::db::VERSION_CAP);
    }
    if let Some(names) = &f.databases {
        assert!(names.len() <= medsurface_proto::db::NAMES_CAP);
        for n in names {
            text_is_safe(n, medsurface_proto::db::NAME_CAP);
        }
    }
}

/// Bytes that look a little like MLLP/HL7 more often than uniform noise does.
fn hl7ish() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"\x0b".to_vec()),
        Just(b"\x1c\x0d".to_vec()),
        Just(b"\x1c".to_vec()),
        Just(b"MSH|^~\\&|".to_vec()),
        Just(b"MSA|".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"|".to_vec()),
        Just(b"^".to_vec()),
        prop::collection::vec(any::<u8>(), 0..40),
    ];
    prop::collection::vec(token, 0..30).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn mllp_frames_and_hl7_messages_from_anything(data in hl7ish(), limit in 1usize..600) {
        if let Ok(Some(frame)) = hl7::read_frame(&data, limit) {
            prop_assert!(frame.consumed <= data.len());
            prop_assert!(frame.payload.len() < limit);
        }
        if let Ok(answer) = hl7::parse_message(&data) {
            answer_is_safe(&answer);
        }
        if let Exchange::Answered(answer) = hl7::judge(&data, limit) {
            answer_is_safe(&answer);
        }
    }

    #[test]
    fn framed_acks_read_back_their_fields(
        app in "[A-Za-z0-9 ._-]{1,30}",
        facility in "[A-Za-z0-9._-]{1,30}",
        code in prop::sample::select(vec!["AA", "AE", "AR", "CA", "CE", "CR"]),
        text in "[A-Za-z0-9 ]{0,60}",
    ) {
        let app = app.trim().to_string();
        prop_assume!(!app.is_empty());
        let msg = format!("MSH|^~\\&|{app}|{facility}|||20260101||ACK^N01^ACK|1|T|2.5\rMSA|{code}|MS1|{text}\r");
        let framed = hl7::frame(msg.as_bytes());
        // Every strict prefix is incomplete, never an error.
        for cut in 0..framed.len() - 1 {
            prop_assert_eq!(hl7::read_frame(&framed[..cut], hl7::FRAME_LIMIT), Ok(None));
        }
        let Exchange::Answered(a) = hl7::judge(&framed, hl7::FRAME_LIMIT) else {
            return Err(TestCaseError::fail("not answered"));
        };
        prop_assert_eq!(a.sending_application.as_deref(), Some(app.as_str()));
        prop_assert_eq!(a.sending_facility.as_deref(), Some(facility.as_str()));
        prop_assert_eq!(a.ack_code.as_deref(), Some(code));
        let trimmed = text.trim();
        prop_assert_eq!(a.ack_text.as_deref(), (!trimmed.is_empty()).then_some(trimmed));
    }

    #[test]
    fn postgres_messages_from_anything(data in prop::collection::vec(any::<u8>(), 0..300), limit in 4usize..200) {
        let mut at = 0;
        let mut session = postgres::Session::new();
        while let Ok(Some((m, used))) = postgres::read_message(&data[at..], limit) {
            prop_assert!(used >= 5 && used <= limit + 1 && at + used <= data.len());
            at += used;
            session.observe(&m);
        }
        facts_are_safe(&session.facts);
        let _ = postgres::read_ssl_answer(&data);
    }

    #[test]
    fn mysql_greetings_from_anything(data in prop::collection::vec(any::<u8>(), 0..300), limit in 1usize..400) {
        if let Ok(Some(g)) = mysql::read_greeting(&data, limit) {
            facts_are_safe(&g.facts());
            if let mysql::Greeting::Handshake { auth_plugin: Some(p), .. } = &g {
                text_is_safe(p, medsurface_proto::db::VERSION_CAP);
            }
        }
    }

    #[test]
    fn redis_replies_from_anything(data in prop::collection::vec(any::<u8>(), 0..300), limit in 1usize..400) {
        if let Ok(Some(reply)) = redis::read_reply(&data, limit) {
            if let redis::Reply::Text(t) | redis::Reply::Error(t) = &reply {
                prop_assert!(t.len() <= limit);
            }
            facts_are_safe(&redis::facts(&reply));
        }
    }

    #[test]
    fn mongo_replies_and_bson_from_anything(data in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(Some((reply, used))) = mongodb::read_reply(&data, 4096) {
            prop_assert!(used <= data.len());
            let mut s = mongodb::Session::default();
            s.handshake(&reply.document);
            s.build_info(&reply.document);
            s.list_databases(&reply.document);
            facts_are_safe(&s.facts);
        }
        if let Ok((_, used)) = mongodb::read_document(&data, 0) {
            prop_assert!(used <= data.len());
        }
    }

    #[test]
    fn http_responses_from_anything(data in prop::collection::vec(any::<u8>(), 0..400), eof in any::<bool>()) {
        let mut with_head = b"HTTP/1.1 200 OK\r\n".to_vec();
        with_head.extend(&data);
        for buf in [&data, &with_head] {
            if let Ok(Some(r)) = elasticsearch::read_response(buf, 1024, eof) {
                prop_assert!(r.body.len() <= 1024);
                if let Some(f) = elasticsearch::root_facts(&r) {
                    facts_are_safe(&f);
                }
                if let Some(names) = elasticsearch::index_names(&r) {
                    prop_assert!(names.len() <= medsurface_proto::db::NAMES_CAP);
                }
            }
        }
    }
}
