//! HL7 version 2 over MLLP: the one harmless message medsurface sends, and the reader of the
//! answer (MSH-3/4/9/10/11/12 and MSA-1/2/3), as pure functions over bytes.
//!
//! # The message we send, and why it is that one
//! product.md: "HL7: never a clinical message — an MLLP-framed message with processing ID `T`
//! that a receiver answers with an ACK or NAK and does not act on". We send one segment:
//!
//! ```text
//! MSH|^~\&|MEDSURFACE|MEDSURFACE|||20261128120000||NMQ^N01^NMQ_N01|MS3F9A0C2B7D41E6A5|T|2.5
//! ```
//!
//! * **`NMQ^N01` (application management query).** HL7 v2.4–v2.8 chapter 14 ("Application
//!   Management", formerly "Network Management") defines NMQ/N01 as one application asking
//!   another about *itself* — its clock (NCK), statistics (NST) or status (NSC). It has no
//!   patient, visit, order, result or schedule segment and no clinical trigger. We send the MSH
//!   alone: no NSC (the segment through which a query can ask for an *action*, such as a
//!   start or stop), no NCK (so nobody is invited to compare or set clocks), no NST. v2.4
//!   §14.3.1 asks for at least one of the three segments, and v2.5's structure makes the
//!   group required though each segment in it is optional, so a strictly validating receiver
//!   rejects our message — which is fine: a reject is an answer, and proves HL7 just as well.
//!   The alternatives were worse: every ADT/ORM/ORU/SIU/QRY event is clinical by definition
//!   (an A01 admits a patient, a QRY^A19 asks for one); an unsolicited `ACK` gets no answer in
//!   original mode (acknowledgements are never acknowledged, or messages would loop), so
//!   silence would not tell an MLLP listener from a dead port, and an engine may match its
//!   MSA-2 against messages it is waiting on.
//! * **Processing ID `T` (training, MSH-11).** HL7 v2.x chapter 2 (Control), original-mode
//!   processing rules: the responding side's protocol software first validates the message —
//!   MSH-9 message type acceptable, MSH-12 version acceptable, MSH-11 processing ID
//!   appropriate — and when a check fails it answers `MSA|AR` itself, without passing the
//!   message to the application. Most receivers do not handle NMQ at all, so the usual answer
//!   is an AR; a production receiver that checks MSH-11 rejects `T` too; an engine that
//!   acknowledges everything answers AA (python-hl7's `create_ack` does; hl7apy's MLLP server
//!   routes by MSH-9 and, with an error handler, rejects what it has no handler for).
//! * **Sending application and facility `MEDSURFACE`**, so the hospital sees who asked;
//!   receiving application and facility are left empty (we do not pretend to be anyone's
//!   partner); a random message control ID (MSH-10) so an answer can be matched to this probe
//!   and no two probes look alike; version 2.5, the most widely accepted 2.x.
//!
//! Residual risk, said plainly: an interface engine (Mirth Connect, Rhapsody, …) may log and
//! route whatever it accepts to its channel destinations. The message above is what such a
//! destination would see: no patient, no order, labelled training, labelled MEDSURFACE.
//!
//! # MLLP
//! A frame is `0x0B`, the message, `0x1C 0x0D` (HL7 v2.x appendix C, "Lower Layer
//! Protocols", minimal lower layer protocol; MLLP Release 2 keeps the same block format). [`read_frame`] follows the house parser shape: a byte slice and a
//! limit in, `Ok(None)` while the frame is incomplete, a typed error when the bytes cannot be
//! MLLP or the frame exceeds the limit. A lone `0x1C` with no `0x0D` ends a frame too
//! (tolerated, as several receivers send that). [`parse_message`] reads an HL7 ER7 message
//! (segments separated by `\r`, `\n` or `\r\n`; any field separator MSH-1 declares).
//!
//! Values are capped ([`FIELD_CAP`] bytes) and escaped with
//! [`medsurface_model::text::printable`] before they leave this module. Only MSH and MSA are
//! read: an answer cannot make us keep anything else, whatever it contains.

use medsurface_model::text::printable;
use medsurface_model::{Details, Timestamp};
use serde_json::Value;

/// Start of an MLLP block.
pub const START_BLOCK: u8 = 0x0B;
/// End of an MLLP block, followed by [`CARRIAGE_RETURN`].
pub const END_BLOCK: u8 = 0x1C;
pub const CARRIAGE_RETURN: u8 = 0x0D;

/// The largest answer frame we read. An ACK or NAK is a few hundred bytes; 16 KiB leaves room
/// for ERR segments and long diagnostic texts without letting a peer feed us megabytes.
pub const FRAME_LIMIT: usize = 16 * 1024;

/// Most bytes of one field kept (before escaping).
pub const FIELD_CAP: usize = 128;

/// Leading whitespace bytes tolerated before the start block (some receivers send a newline).
const LEADING_WHITESPACE_CAP: usize = 4;

/// The observation keys this module fills (all listed in `medsurface_model::fields`).
pub mod keys {
    pub const SPEAKS_MLLP: &str = "hl7.speaks_mllp";
    pub const SENDING_APPLICATION: &str = "hl7.sending_application";
    pub const SENDING_FACILITY: &str = "hl7.sending_facility";
    pub const MESSAGE_TYPE: &str = "hl7.message_type";
    pub const VERSION: &str = "hl7.version";
    pub const ACK_CODE: &str = "hl7.ack_code";
    /// Every key above.
    pub const ALL: &[&str] = &[
        SPEAKS_MLLP,
        SENDING_APPLICATION,
        SENDING_FACILITY,
        MESSAGE_TYPE,
        VERSION,
        ACK_CODE,
    ];
}

/// Why bytes are not (or not yet acceptable as) one MLLP frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The first byte (after a little whitespace) is not 0x0B: not MLLP.
    #[error("not MLLP: the answer starts with byte 0x{0:02x}, not the start block 0x0b")]
    NotMllp(u8),
    /// No end block within the limit.
    #[error("no MLLP end block within {limit} bytes")]
    TooLong { limit: usize },
}

/// One complete MLLP frame found at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The bytes between the start and end blocks.
    pub payload: &'a [u8],
    /// How many bytes of the buffer the frame used (start block to end block and its CR).
    pub consumed: usize,
}

/// Finds the MLLP frame at the start of `buf`. `Ok(None)`: more bytes needed (and the buffer is
/// still below `limit`).
pub fn read_frame(buf: &[u8], limit: usize) -> Result<Option<Frame<'_>>, FrameError> {
    let lead = buf
        .iter()
        .take(LEADING_WHITESPACE_CAP)
        .take_while(|b| matches!(b, b'\r' | b'\n' | b' '))
        .count();
    let Some(&first) = buf.get(lead) else {
        return if buf.len() > LEADING_WHITESPACE_CAP {
            Err(FrameError::NotMllp(buf[LEADING_WHITESPACE_CAP]))
        } else {
            Ok(None)
        };
    };
    if first != START_BLOCK {
        return Err(FrameError::NotMllp(first));
    }
    let body_start = lead + 1;
    let window = &buf[..buf.len().min(limit)];
    // The start block itself may lie at or past the limit: then the body is out of the window.
    let body = window.get(body_start..).unwrap_or_default();
    match body.iter().position(|&b| b == END_BLOCK) {
        Some(at) => {
            let end = body_start + at;
            let consumed = if window.get(end + 1) == Some(&CARRIAGE_RETURN) {
                end + 2
            } else {
                end + 1
            };
            Ok(Some(Frame {
                payload: &buf[body_start..end],
                consumed,
            }))
        }
        None if buf.len() >= limit => Err(FrameError::TooLong { limit }),
        None => Ok(None),
    }
}

/// `message` in an MLLP frame.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 3);
    out.push(START_BLOCK);
    out.extend_from_slice(message);
    out.push(END_BLOCK);
    out.push(CARRIAGE_RETURN);
    out
}

/// A message control ID (MSH-10): `MS` and 16 upper-case hex digits from the OS's random
/// source (18 characters; the ST type of MSH-10 allows 20).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlId(String);

/// The OS random source failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random source failed")]
pub struct EntropyError;

impl ControlId {
    pub fn random() -> Result<ControlId, EntropyError> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|_| EntropyError)?;
        let mut id = String::from("MS");
        for b in bytes {
            id.push_str(&format!("{b:02X}"));
        }
        Ok(ControlId(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The one message medsurface sends over MLLP (see the module documentation for the choice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeMessage {
    pub control_id: ControlId,
    /// MSH-7; UTC.
    pub at: Timestamp,
}

/// MSH-3 and MSH-4 of our message: the scanner names itself.
pub const OUR_APPLICATION: &str = "MEDSURFACE";
/// MSH-9: application management query, no patient segment (module documentation).
pub const OUR_MESSAGE_TYPE: &str = "NMQ^N01^NMQ_N01";
/// MSH-11: training.
pub const OUR_PROCESSING_ID: &str = "T";
/// MSH-12.
pub const OUR_VERSION: &str = "2.5";

impl ProbeMessage {
    /// The ER7 text (one MSH segment ending in `\r`), unframed.
    pub fn to_er7(&self) -> Vec<u8> {
        format!(
            "MSH|^~\\&|{app}|{app}|||{at}||{ty}|{id}|{pid}|{ver}\r",
            app = OUR_APPLICATION,
            at = self.at.strftime("%Y%m%d%H%M%S"),
            ty = OUR_MESSAGE_TYPE,
            id = self.control_id.as_str(),
            pid = OUR_PROCESSING_ID,
            ver = OUR_VERSION,
        )
        .into_bytes()
    }

    /// The message in its MLLP frame, ready to write.
    pub fn to_mllp(&self) -> Vec<u8> {
        frame(&self.to_er7())
    }
}

/// Why a frame's payload is not an HL7 v2 message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("the message does not start with an MSH segment")]
    NoMsh,
    #[error("MSH-1 (the field separator) is not a printable ASCII symbol")]
    BadFieldSeparator,
}

/// The facts of an HL7 answer, escaped and capped. Empty fields are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// MSH-3.
    pub sending_application: Option<String>,
    /// MSH-4.
    pub sending_facility: Option<String>,
    /// MSH-9.
    pub message_type: Option<String>,
    /// MSH-10.
    pub control_id: Option<String>,
    /// MSH-11.
    pub processing_id: Option<String>,
    /// MSH-12, first component (the version ID).
    pub version: Option<String>,
    /// MSA-1.
    pub ack_code: Option<String>,
    /// MSA-2: the control ID of the message acknowledged.
    pub acknowledged_control_id: Option<String>,
    /// MSA-3: the text message.
    pub ack_text: Option<String>,
}

impl Answer {
    /// Whether MSA-2 names the message we sent.
    pub fn acknowledges(&self, sent: &ControlId) -> bool {
        self.acknowledged_control_id.as_deref() == Some(sent.as_str())
    }

    /// Writes the answer's facts under the `hl7.*` keys, with `hl7.speaks_mllp = true`.
    pub fn write(&self, details: &mut Details) {
        details.insert(keys::SPEAKS_MLLP.into(), Value::Bool(true));
        let pairs = [
            (keys::SENDING_APPLICATION, &self.sending_application),
            (keys::SENDING_FACILITY, &self.sending_facility),
            (keys::MESSAGE_TYPE, &self.message_type),
            (keys::VERSION, &self.version),
            (keys::ACK_CODE, &self.ack_code),
        ];
        for (key, value) in pairs {
            if let Some(v) = value {
                details.insert(key.into(), Value::String(v.clone()));
            }
        }
    }
}

/// Reads the MSH and MSA segments of an ER7 message. Other segments are skipped unread.
pub fn parse_message(payload: &[u8]) -> Result<Answer, MessageError> {
    let mut segments = payload
        .split(|&b| b == b'\r' || b == b'\n')
        .filter(|s| !s.is_empty());
    let msh = segments.next().ok_or(MessageError::NoMsh)?;
    if msh.len() < 4 || &msh[..3] != b"MSH" {
        return Err(MessageError::NoMsh);
    }
    let sep = msh[3];
    if !sep.is_ascii_punctuation() {
        return Err(MessageError::BadFieldSeparator);
    }
    // MSH-2: the encoding characters; the first is the component separator.
    let tokens: Vec<&[u8]> = msh.split(|&b| b == sep).take(13).collect();
    let component = tokens
        .get(1)
        .and_then(|enc| enc.first().copied())
        .filter(|&c| c != sep)
        .unwrap_or(b'^');
    // tokens[0] is "MSH" and MSH-1 is the separator itself, so MSH-n is tokens[n - 1].
    let msh_field = |n: usize| tokens.get(n - 1).copied().unwrap_or_default();

    let mut answer = Answer {
        sending_application: value(msh_field(3), component),
        sending_facility: value(msh_field(4), component),
        message_type: value(msh_field(9), component),
        control_id: value(msh_field(10), component),
        processing_id: value(msh_field(11), component),
        version: value(first_component(msh_field(12), component), component),
        ..Answer::default()
    };
    let msa_prefix = [b'M', b'S', b'A', sep];
    if let Some(msa) = segments.find(|s| s.starts_with(&msa_prefix)) {
        let fields: Vec<&[u8]> = msa.split(|&b| b == sep).take(4).collect();
        let msa_field = |n: usize| fields.get(n).copied().unwrap_or_default();
        answer.ack_code = value(msa_field(1), component);
        answer.acknowledged_control_id = value(msa_field(2), component);
        answer.ack_text = value(msa_field(3), component);
    }
    Ok(answer)
}

fn first_component(field: &[u8], component: u8) -> &[u8] {
    field.split(|&b| b == component).next().unwrap_or_default()
}

/// A field as escaped text: capped, trailing empty components dropped (`APP^^` → `APP`),
/// surrounding spaces trimmed; `None` when nothing is left.
fn value(field: &[u8], component: u8) -> Option<String> {
    let field = &field[..field.len().min(FIELD_CAP)];
    let mut end = field.len();
    while end > 0 && (field[end - 1] == component || field[end - 1] == b' ') {
        end -= 1;
    }
    let start = field[..end].iter().take_while(|&&b| b == b' ').count();
    let text = printable(&field[start..end], FIELD_CAP);
    (!text.is_empty()).then_some(text)
}

/// What one MLLP exchange came to: the verdict a probe or an importer records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exchange {
    /// A framed HL7 message came back.
    Answered(Box<Answer>),
    /// A frame came back whose payload is not HL7.
    FramedNotHl7,
    /// Bytes came back that are not MLLP.
    NotMllp,
    /// Nothing came back.
    Silent,
}

/// Judges everything a peer sent in answer (`buf`, at most `limit` bytes read), once reading
/// has ended (the frame completed, the peer closed, the cap or the deadline was reached): an
/// unfinished frame will not be finished.
pub fn judge(buf: &[u8], limit: usize) -> Exchange {
    if buf.is_empty() {
        return Exchange::Silent;
    }
    match read_frame(buf, limit) {
        Ok(Some(frame)) => match parse_message(frame.payload) {
            Ok(answer) => Exchange::Answered(Box::new(answer)),
            Err(_) => Exchange::FramedNotHl7,
        },
        // A frame that started but never ended: MLLP-looking, but no message came.
        Ok(None) | Err(FrameError::TooLong { .. }) => Exchange::FramedNotHl7,
        Err(FrameError::NotMllp(_)) => Exchange::NotMllp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: leading whitespace pushed the start block to the limit, and the body slice
    /// started past the end of the window (found by the proptest in tests/app_garbage.rs).
    #[test]
    fn start_block_at_the_limit_does_not_panic() {
        assert!(matches!(
            read_frame(&[13, 11], 1),
            Err(FrameError::TooLong { limit: 1 })
        ));
        assert!(matches!(
            read_frame(&[13, 11], 2),
            Err(FrameError::TooLong { limit: 2 })
        ));
        assert!(matches!(read_frame(&[13, 11], 3), Ok(None)));
    }

    fn at() -> Timestamp {
        "2026-11-28T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn our_message_is_one_msh_segment_with_processing_id_t_and_no_patient() {
        let id = ControlId::random().unwrap();
        let msg = ProbeMessage {
            control_id: id.clone(),
            at: at(),
        };
        let er7 = String::from_utf8(msg.to_er7()).unwrap();
        assert_eq!(
            er7,
            format!(
                "MSH|^~\\&|MEDSURFACE|MEDSURFACE|||20261128120000||NMQ^N01^NMQ_N01|{}|T|2.5\r",
                id.as_str()
            )
        );
        // One segment: nothing after the MSH.
        assert_eq!(er7.matches('\r').count(), 1);
        for clinical in ["PID", "PV1", "ORC", "OBR", "OBX", "QRD", "NSC", "EVN"] {
            assert!(!er7.contains(&format!("\r{clinical}|")), "{clinical}");
        }
        let framed = msg.to_mllp();
        assert_eq!(framed[0], START_BLOCK);
        assert_eq!(&framed[framed.len() - 2..], &[END_BLOCK, CARRIAGE_RETURN]);
        // Our own message reads back through our parser.
        let frame = read_frame(&framed, FRAME_LIMIT).unwrap().unwrap();
        assert_eq!(frame.consumed, framed.len());
        let back = parse_message(frame.payload).unwrap();
        assert_eq!(back.processing_id.as_deref(), Some("T"));
        assert_eq!(back.message_type.as_deref(), Some("NMQ^N01^NMQ_N01"));
        assert_eq!(back.control_id.as_deref(), Some(id.as_str()));
        assert_eq!(back.version.as_deref(), Some("2.5"));
    }

    #[test]
    fn control_ids_are_random_and_fit_msh_10() {
        let a = ControlId::random().unwrap();
        let b = ControlId::random().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 18);
        assert!(a.as_str()[2..].bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn reads_an_ack() {
        let ack = b"\x0bMSH|^~\\&|MIRTH^^|ACME HOSP|MEDSURFACE|MEDSURFACE|20261128||ACK^N01^ACK|42|T|2.5^^\rMSA|AR|MS0011|Unsupported message type\rERR|||200^Unsupported message type^HL70357\r\x1c\x0d";
        let frame = read_frame(ack, FRAME_LIMIT).unwrap().unwrap();
        assert_eq!(frame.consumed, ack.len());
        let a = parse_message(frame.payload).unwrap();
        assert_eq!(a.sending_application.as_deref(), Some("MIRTH"));
        assert_eq!(a.sending_facility.as_deref(), Some("ACME HOSP"));
        assert_eq!(a.message_type.as_deref(), Some("ACK^N01^ACK"));
        assert_eq!(a.control_id.as_deref(), Some("42"));
        assert_eq!(a.processing_id.as_deref(), Some("T"));
        assert_eq!(a.version.as_deref(), Some("2.5"));
        assert_eq!(a.ack_code.as_deref(), Some("AR"));
        assert_eq!(a.acknowledged_control_id.as_deref(), Some("MS0011"));
        assert_eq!(a.ack_text.as_deref(), Some("Unsupported message type"));
        let mut d = Details::new();
        a.write(&mut d);
        assert_eq!(d["hl7.speaks_mllp"], Value::Bool(true));
        assert_eq!(d["hl7.ack_code"], "AR");
        for key in d.keys() {
            assert!(keys::ALL.contains(&key.as_str()));
            assert!(medsurface_model::fields::field(key).is_some(), "{key}");
        }
    }

    #[test]
    fn other_separators_and_line_endings() {
        let a = parse_message(b"MSH#:~\\&#APP:X#FAC\r\nMSA#AA#1\n").unwrap();
        assert_eq!(a.sending_application.as_deref(), Some("APP:X"));
        assert_eq!(a.sending_facility.as_deref(), Some("FAC"));
        assert_eq!(a.ack_code.as_deref(), Some("AA"));
        assert_eq!(a.version, None);
    }

    #[test]
    fn incomplete_and_hostile_frames() {
        assert_eq!(read_frame(b"", 64), Ok(None));
        assert_eq!(read_frame(b"\x0bMSH|", 64), Ok(None));
        assert_eq!(
            read_frame(b"HTTP/1.1 400", 64),
            Err(FrameError::NotMllp(b'H'))
        );
        assert_eq!(
            read_frame(b"\n\n\n\n\n\n", 64),
            Err(FrameError::NotMllp(b'\n'))
        );
        assert_eq!(
            read_frame(b"\r\n\x0bMSH\x1c", 64).unwrap().unwrap().payload,
            b"MSH"
        );
        let long = [&[START_BLOCK][..], &[b'A'; 100]].concat();
        assert_eq!(
            read_frame(&long, 64),
            Err(FrameError::TooLong { limit: 64 })
        );
        // An end block beyond the limit does not count.
        let late = [&long[..], &[END_BLOCK, CARRIAGE_RETURN]].concat();
        assert_eq!(
            read_frame(&late, 64),
            Err(FrameError::TooLong { limit: 64 })
        );
        assert_eq!(parse_message(b"PID|1||123"), Err(MessageError::NoMsh));
        assert_eq!(parse_message(b""), Err(MessageError::NoMsh));
        assert_eq!(parse_message(b"MSHA"), Err(MessageError::BadFieldSeparator));
    }

    #[test]
    fn judges_each_kind_of_answer() {
        assert_eq!(judge(b"", FRAME_LIMIT), Exchange::Silent);
        assert_eq!(judge(b"SSH-2.0-x\r\n", FRAME_LIMIT), Exchange::NotMllp);
        assert_eq!(
            judge(b"\x0bgarbage\x1c\x0d", FRAME_LIMIT),
            Exchange::FramedNotHl7
        );
        assert_eq!(judge(b"\x0bMSH|^~", FRAME_LIMIT), Exchange::FramedNotHl7);
        assert!(matches!(
            judge(b"\x0bMSH|^~\\&|A\x1c\x0d", FRAME_LIMIT),
            Exchange::Answered(_)
        ));
    }

    #[test]
    fn peer_text_is_escaped_and_capped() {
        let mut msg = b"MSH|^~\\&|\x1b[2JEVIL\x07|".to_vec();
        msg.extend(std::iter::repeat_n(b'F', 10_000));
        let a = parse_message(&msg).unwrap();
        assert_eq!(a.sending_application.as_deref(), Some("\\x1b[2JEVIL\\x07"));
        assert_eq!(a.sending_facility.as_deref().map(str::len), Some(FIELD_CAP));
    }
}
