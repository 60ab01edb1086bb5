//! DIMSE messages (PS3.7): the three requests medsurface may send, the command sets it reads
//! back, and the identifiers of its queries.
//!
//! The requests are C-ECHO-RQ, a Study Root C-FIND-RQ and C-CANCEL-RQ. The C-FIND identifier
//! is one of two [`StudyQuery`] values, both at STUDY level with the Study Instance UID as the
//! only return key: [`StudyQuery::NonMatching`] (a random Patient ID that no record has: it
//! proves query access while retrieving nothing) and [`StudyQuery::CountAll`] (the opt-in
//! universal query of `--count-studies`, whose answers are counted, never read). There is no
//! way to build a query that asks for a patient attribute.
//!
//! A response is read from its command set only ([`CommandSet::parse`]): the status, the
//! command and the message it answers. [`MessageReader`] reassembles command fragments and
//! passes data-set fragments over as lengths, which the pdu reader already reduced them to.

use dicom_dictionary_std::{tags, uids};

use super::pdu::{Pdv, PdvContent, ProposedContext};
use super::{random_hex, EntropyError};

/// Command Field values (PS3.7 E.1).
pub mod command_field {
    pub const C_FIND_RQ: u16 = 0x0020;
    pub const C_FIND_RSP: u16 = 0x8020;
    pub const C_ECHO_RQ: u16 = 0x0030;
    pub const C_ECHO_RSP: u16 = 0x8030;
    pub const C_CANCEL_RQ: u16 = 0x0FFF;
}

/// Command Data Set Type value meaning "no data set follows".
const NO_DATA_SET: u16 = 0x0101;

/// Priority LOW: a scanner's query should not jump ahead of clinical work.
const PRIORITY_LOW: u16 = 0x0002;

/// The most bytes of one reassembled command set we accept. Real command sets are well under
/// 200 bytes.
pub const COMMAND_SET_CAP: usize = 4096;

/// Why a command set could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DimseError {
    #[error("command set element {group:04X},{element:04X} is cut short")]
    Truncated { group: u16, element: u16 },
    #[error("command set holds an element of group {0:04X} (only group 0000 is allowed)")]
    NotACommandSet(u16),
    #[error("command set is larger than {COMMAND_SET_CAP} bytes")]
    TooLarge,
    #[error(
        "a command fragment arrived for context {got} while one for context {expected} was open"
    )]
    InterleavedContexts { expected: u8, got: u8 },
    #[error("transfer syntax {0} is not one we encode queries in")]
    UnsupportedTransferSyntax(String),
}

/// A DIMSE status (PS3.7 Annex C).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status(pub u16);

/// The class of a status, which is what verdicts are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusClass {
    Success,
    Pending,
    Cancel,
    Warning,
    Refused,
    Failure,
}

impl StatusClass {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusClass::Success => "success",
            StatusClass::Pending => "pending",
            StatusClass::Cancel => "cancel",
            StatusClass::Warning => "warning",
            StatusClass::Refused => "refused",
            StatusClass::Failure => "failure",
        }
    }
}

impl Status {
    pub const SUCCESS: Status = Status(0x0000);

    pub fn class(self) -> StatusClass {
        match self.0 {
            0x0000 => StatusClass::Success,
            0xFF00 | 0xFF01 => StatusClass::Pending,
            0xFE00 => StatusClass::Cancel,
            0x0001 | 0x0107 | 0x0116 | 0xB000..=0xBFFF => StatusClass::Warning,
            0xA700..=0xA7FF | 0x0124 => StatusClass::Refused,
            _ => StatusClass::Failure,
        }
    }

    /// A stable name for the status: its meaning where the standard gives one, else its class.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x0000 => "success",
            0xFF00 => "pending",
            0xFF01 => "pending-optional-keys-not-supported",
            0xFE00 => "cancel",
            0xA700 => "refused-out-of-resources",
            0xA701 => "refused-out-of-resources-match-count",
            0xA702 => "refused-out-of-resources-sub-operations",
            0x0124 => "refused-not-authorized",
            0xA900 => "identifier-does-not-match-sop-class",
            0x0122 => "sop-class-not-supported",
            0x0110 => "processing-failure",
            0x0211 => "unrecognized-operation",
            0x0117 => "invalid-object-instance",
            0xC000..=0xCFFF => "unable-to-process",
            _ => self.class().as_str(),
        }
    }

    /// `0xA700`-style text, as logs and conformance statements write statuses.
    pub fn hex(self) -> String {
        format!("0x{:04X}", self.0)
    }
}

/// What medsurface reads from a response's command set, and nothing more.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandSet {
    pub command_field: Option<u16>,
    pub message_id: Option<u16>,
    pub message_id_being_responded_to: Option<u16>,
    pub status: Option<Status>,
    /// Whether a data set follows this command (Command Data Set Type other than 0x0101).
    pub has_data_set: bool,
}

impl CommandSet {
    /// Reads a complete command set (always Implicit VR Little Endian, PS3.7 6.3.1).
    pub fn parse(mut bytes: &[u8]) -> Result<CommandSet, DimseError> {
        if bytes.len() > COMMAND_SET_CAP {
            return Err(DimseError::TooLarge);
        }
        let mut cmd = CommandSet {
            has_data_set: true,
            ..CommandSet::default()
        };
        while !bytes.is_empty() {
            if bytes.len() < 8 {
                return Err(DimseError::Truncated {
                    group: 0,
                    element: 0,
                });
            }
            let group = u16::from_le_bytes([bytes[0], bytes[1]]);
            let element = u16::from_le_bytes([bytes[2], bytes[3]]);
            if group != 0 {
                return Err(DimseError::NotACommandSet(group));
            }
            let len = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
            if bytes.len() - 8 < len {
                return Err(DimseError::Truncated { group, element });
            }
            let value = &bytes[8..8 + len];
            let us = (len == 2).then(|| u16::from_le_bytes([value[0], value[1]]));
            match element {
                e if e == tags::COMMAND_FIELD.1 => cmd.command_field = us,
                e if e == tags::MESSAGE_ID.1 => cmd.message_id = us,
                e if e == tags::MESSAGE_ID_BEING_RESPONDED_TO.1 => {
                    cmd.message_id_being_responded_to = us
                }
                e if e == tags::STATUS.1 => cmd.status = us.map(Status),
                e if e == tags::COMMAND_DATA_SET_TYPE.1 => {
                    cmd.has_data_set = us.is_some_and(|t| t != NO_DATA_SET)
                }
                _ => {}
            }
            bytes = &bytes[8 + len..];
        }
        Ok(cmd)
    }
}

/// C-ECHO-RQ command set.
pub fn c_echo_rq(message_id: u16) -> Vec<u8> {
    command_set(&[
        (
            tags::AFFECTED_SOP_CLASS_UID.1,
            uid_value(uids::VERIFICATION),
        ),
        (tags::COMMAND_FIELD.1, us(command_field::C_ECHO_RQ)),
        (tags::MESSAGE_ID.1, us(message_id)),
        (tags::COMMAND_DATA_SET_TYPE.1, us(NO_DATA_SET)),
    ])
}

/// C-FIND-RQ command set for the information model of `context` (priority LOW; an identifier
/// follows).
pub fn c_find_rq(message_id: u16, context: ProposedContext) -> Vec<u8> {
    command_set(&[
        (
            tags::AFFECTED_SOP_CLASS_UID.1,
            uid_value(context.abstract_syntax),
        ),
        (tags::COMMAND_FIELD.1, us(command_field::C_FIND_RQ)),
        (tags::MESSAGE_ID.1, us(message_id)),
        (tags::PRIORITY.1, us(PRIORITY_LOW)),
        (tags::COMMAND_DATA_SET_TYPE.1, us(0x0000)),
    ])
}

/// C-CANCEL-RQ for the request `message_id` (sent when a server answers a query that cannot
/// match with records anyway, or when a study count reaches its cap).
pub fn c_cancel_rq(message_id: u16) -> Vec<u8> {
    command_set(&[
        (tags::COMMAND_FIELD.1, us(command_field::C_CANCEL_RQ)),
        (tags::MESSAGE_ID_BEING_RESPONDED_TO.1, us(message_id)),
        (tags::COMMAND_DATA_SET_TYPE.1, us(NO_DATA_SET)),
    ])
}

fn us(v: u16) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

fn uid_value(uid: &str) -> Vec<u8> {
    let mut v = uid.as_bytes().to_vec();
    if v.len() % 2 == 1 {
        v.push(0);
    }
    v
}

/// Group 0000 elements in ascending order, prefixed by the group length.
fn command_set(elements: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (element, value) in elements {
        implicit_element(&mut body, (0, *element), value);
    }
    let mut out = Vec::with_capacity(body.len() + 12);
    implicit_element(&mut out, (0, 0), &(body.len() as u32).to_le_bytes());
    out.extend(body);
    out
}

fn implicit_element(out: &mut Vec<u8>, (group, element): (u16, u16), value: &[u8]) {
    out.extend(group.to_le_bytes());
    out.extend(element.to_le_bytes());
    out.extend((value.len() as u32).to_le_bytes());
    out.extend(value);
}

/// A Patient ID no record has: 32 random upper-case hex digits (128 bits), fresh per query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonMatchingPatientId(String);

impl NonMatchingPatientId {
    pub fn random() -> Result<Self, EntropyError> {
        Ok(NonMatchingPatientId(random_hex::<16>()?))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The identifier of a Study Root C-FIND at STUDY level. The only return key is the Study
/// Instance UID, and no patient attribute is ever asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StudyQuery {
    /// Patient ID = a random value: proves query access, matches nothing.
    NonMatching(NonMatchingPatientId),
    /// No key at all: every study matches. Opt-in (`--count-studies`); answers are counted and
    /// discarded.
    CountAll,
}

impl StudyQuery {
    /// The identifier encoded in `transfer_syntax` (the one the peer accepted for the context).
    pub fn encode(&self, transfer_syntax: &str) -> Result<Vec<u8>, DimseError> {
        let explicit = match transfer_syntax {
            uids::EXPLICIT_VR_LITTLE_ENDIAN => true,
            uids::IMPLICIT_VR_LITTLE_ENDIAN => false,
            other => return Err(DimseError::UnsupportedTransferSyntax(other.to_string())),
        };
        let mut out = Vec::new();
        let mut put = |tag: (u16, u16), vr: &[u8; 2], value: &[u8]| {
            out.extend(tag.0.to_le_bytes());
            out.extend(tag.1.to_le_bytes());
            if explicit {
                out.extend(vr);
                out.extend((value.len() as u16).to_le_bytes());
            } else {
                out.extend((value.len() as u32).to_le_bytes());
            }
            out.extend(value);
        };
        let (qr_level, patient_id, study_uid) = (
            tags::QUERY_RETRIEVE_LEVEL,
            tags::PATIENT_ID,
            tags::STUDY_INSTANCE_UID,
        );
        put((qr_level.0, qr_level.1), b"CS", b"STUDY ");
        if let StudyQuery::NonMatching(id) = self {
            put((patient_id.0, patient_id.1), b"LO", id.as_str().as_bytes());
        }
        put((study_uid.0, study_uid.1), b"UI", b"");
        Ok(out)
    }
}

/// What one P-DATA value meant once reassembled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete command set.
    Command { context_id: u8, command: CommandSet },
    /// A data-set fragment, already discarded; only its length is known.
    DataSetFragment {
        context_id: u8,
        len: usize,
        is_last: bool,
    },
}

/// Reassembles command sets from P-DATA values (a command may arrive in several fragments).
#[derive(Debug, Default)]
pub struct MessageReader {
    command: Vec<u8>,
    open_context: Option<u8>,
}

impl MessageReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one value; returns an event when a command set is complete or for each data-set
    /// fragment.
    pub fn push(&mut self, pdv: Pdv) -> Result<Option<Event>, DimseError> {
        match pdv.content {
            PdvContent::DataSet { len } => Ok(Some(Event::DataSetFragment {
                context_id: pdv.context_id,
                len,
                is_last: pdv.is_last,
            })),
            PdvContent::Command(bytes) => {
                if let Some(expected) = self.open_context {
                    if expected != pdv.context_id {
                        return Err(DimseError::InterleavedContexts {
                            expected,
                            got: pdv.context_id,
                        });
                    }
                }
                if self.command.len() + bytes.len() > COMMAND_SET_CAP {
                    return Err(DimseError::TooLarge);
                }
                self.command.extend(bytes);
                if !pdv.is_last {
                    self.open_context = Some(pdv.context_id);
                    return Ok(None);
                }
                self.open_context = None;
                let command = CommandSet::parse(&std::mem::take(&mut self.command))?;
                Ok(Some(Event::Command {
                    context_id: pdv.context_id,
                    command,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dicom::pdu::{STUDY_ROOT_FIND, VERIFICATION};

    fn response(field: u16, responded_to: u16, status: u16, data_set: bool) -> Vec<u8> {
        command_set(&[
            (
                tags::AFFECTED_SOP_CLASS_UID.1,
                uid_value(uids::VERIFICATION),
            ),
            (tags::COMMAND_FIELD.1, us(field)),
            (tags::MESSAGE_ID_BEING_RESPONDED_TO.1, us(responded_to)),
            (
                tags::COMMAND_DATA_SET_TYPE.1,
                us(if data_set { 0 } else { NO_DATA_SET }),
            ),
            (tags::STATUS.1, us(status)),
        ])
    }

    #[test]
    fn echo_request_encodes_as_dcmtk_does() {
        // Byte for byte what DCMTK's echoscu sends as message 1 (group length 56).
        let rq = c_echo_rq(1);
        let parsed = CommandSet::parse(&rq).unwrap();
        assert_eq!(parsed.command_field, Some(command_field::C_ECHO_RQ));
        assert_eq!(parsed.message_id, Some(1));
        assert!(!parsed.has_data_set);
        assert_eq!(&rq[..8], &[0, 0, 0, 0, 4, 0, 0, 0]);
        assert_eq!(
            u32::from_le_bytes([rq[8], rq[9], rq[10], rq[11]]) as usize,
            rq.len() - 12
        );
        assert_eq!(rq.len() % 2, 0);
    }

    #[test]
    fn find_request_is_low_priority_with_an_identifier() {
        let rq = c_find_rq(7, STUDY_ROOT_FIND);
        let parsed = CommandSet::parse(&rq).unwrap();
        assert_eq!(parsed.command_field, Some(command_field::C_FIND_RQ));
        assert_eq!(parsed.message_id, Some(7));
        assert!(parsed.has_data_set);
        assert!(rq.windows(27).any(|w| w == b"1.2.840.10008.5.1.4.1.2.2.1"));
        let cancel = CommandSet::parse(&c_cancel_rq(7)).unwrap();
        assert_eq!(cancel.message_id_being_responded_to, Some(7));
        assert_eq!(cancel.command_field, Some(command_field::C_CANCEL_RQ));
        let _ = VERIFICATION;
    }

    #[test]
    fn statuses_are_read_from_the_command_set() {
        for (status, class) in [
            (0x0000, StatusClass::Success),
            (0xFF00, StatusClass::Pending),
            (0xFF01, StatusClass::Pending),
            (0xFE00, StatusClass::Cancel),
            (0xA700, StatusClass::Refused),
            (0x0124, StatusClass::Refused),
            (0xA900, StatusClass::Failure),
            (0xC001, StatusClass::Failure),
            (0xB000, StatusClass::Warning),
        ] {
            let cmd =
                CommandSet::parse(&response(command_field::C_FIND_RSP, 3, status, false)).unwrap();
            assert_eq!(cmd.status, Some(Status(status)));
            assert_eq!(cmd.status.unwrap().class(), class, "{status:04X}");
            assert_eq!(cmd.message_id_being_responded_to, Some(3));
        }
        assert_eq!(Status(0xA700).name(), "refused-out-of-resources");
        assert_eq!(Status(0xC123).name(), "unable-to-process");
        assert_eq!(Status(0x1234).name(), "failure");
        assert_eq!(Status(0xA700).hex(), "0xA700");
    }

    #[test]
    fn hostile_command_sets_are_errors() {
        let mut cut = response(command_field::C_ECHO_RSP, 1, 0, false);
        cut.truncate(cut.len() - 1);
        assert!(matches!(
            CommandSet::parse(&cut),
            Err(DimseError::Truncated { .. })
        ));
        let patient = [0x10, 0, 0x10, 0, 4, 0, 0, 0, b'D', b'O', b'E', b' '];
        assert_eq!(
            CommandSet::parse(&patient),
            Err(DimseError::NotACommandSet(0x0010))
        );
        let huge_len = [0, 0, 0, 9, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            CommandSet::parse(&huge_len),
            Err(DimseError::Truncated { .. })
        ));
        assert_eq!(
            CommandSet::parse(&vec![0; COMMAND_SET_CAP + 2]),
            Err(DimseError::TooLarge)
        );
    }

    #[test]
    fn non_matching_query_asks_for_nothing_about_patients() {
        let id = NonMatchingPatientId::random().unwrap();
        assert_eq!(id.as_str().len(), 32);
        assert!(id
            .as_str()
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
        assert_ne!(id, NonMatchingPatientId::random().unwrap());
        for ts in [
            uids::EXPLICIT_VR_LITTLE_ENDIAN,
            uids::IMPLICIT_VR_LITTLE_ENDIAN,
        ] {
            let bytes = StudyQuery::NonMatching(id.clone()).encode(ts).unwrap();
            let tags_sent = walk_tags(&bytes, ts == uids::EXPLICIT_VR_LITTLE_ENDIAN);
            assert_eq!(
                tags_sent,
                vec![(0x0008, 0x0052), (0x0010, 0x0020), (0x0020, 0x000D)]
            );
            assert!(bytes.windows(32).any(|w| w == id.as_str().as_bytes()));
            let all = StudyQuery::CountAll.encode(ts).unwrap();
            let tags_sent = walk_tags(&all, ts == uids::EXPLICIT_VR_LITTLE_ENDIAN);
            assert_eq!(tags_sent, vec![(0x0008, 0x0052), (0x0020, 0x000D)]);
        }
        assert!(StudyQuery::CountAll.encode("1.2.840.10008.1.2.2").is_err());
    }

    fn walk_tags(mut b: &[u8], explicit: bool) -> Vec<(u16, u16)> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let tag = (
                u16::from_le_bytes([b[0], b[1]]),
                u16::from_le_bytes([b[2], b[3]]),
            );
            let (len, header) = if explicit {
                (u16::from_le_bytes([b[6], b[7]]) as usize, 8)
            } else {
                (u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize, 8)
            };
            assert_eq!(len % 2, 0, "odd length for {tag:?}");
            out.push(tag);
            b = &b[header + len..];
        }
        out
    }

    #[test]
    fn reader_reassembles_fragmented_commands_and_drops_data() {
        let cmd = response(command_field::C_FIND_RSP, 1, 0xFF00, true);
        let (a, b) = cmd.split_at(10);
        let mut r = MessageReader::new();
        let pdv = |bytes: &[u8], last| Pdv {
            context_id: 3,
            is_last: last,
            content: PdvContent::Command(bytes.to_vec()),
        };
        assert_eq!(r.push(pdv(a, false)).unwrap(), None);
        let Some(Event::Command { command, .. }) = r.push(pdv(b, true)).unwrap() else {
            panic!()
        };
        assert_eq!(command.status, Some(Status(0xFF00)));
        assert!(command.has_data_set);
        let ev = r
            .push(Pdv {
                context_id: 3,
                is_last: true,
                content: PdvContent::DataSet { len: 80 },
            })
            .unwrap();
        assert_eq!(
            ev,
            Some(Event::DataSetFragment {
                context_id: 3,
                len: 80,
                is_last: true
            })
        );
        // A fragment for another context while one is open is a protocol error.
        r.push(pdv(a, false)).unwrap();
        assert!(matches!(
            r.push(Pdv {
                context_id: 5,
                is_last: true,
                content: PdvContent::Command(vec![])
            }),
            Err(DimseError::InterleavedContexts {
                expected: 3,
                got: 5
            })
        ));
    }
}
