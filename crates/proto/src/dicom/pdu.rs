//! DICOM upper-layer PDUs (PS3.8 §9.3): the ones we send, and the facts of the ones we get.
//!
//! Sending: the A-ASSOCIATE-RQ is encoded by dicom-ul's `write_pdu`, the maintained encoder of
//! dicom-rs, from values that cannot be anything but what [`AssociateRequest`] allows. The
//! fixed PDUs (A-RELEASE-RQ, A-ABORT) and P-DATA-TF, sent several times per association, are
//! written by hand, and the tests check them byte for byte against `write_pdu`.
//!
//! Reading: [`frame`] tells a socket reader how long the next PDU is as soon as its six-byte
//! header is in, after checking the declared length against a limit; [`parse`] reads one PDU.
//! dicom-ul's `read_pdu` is not used for answers, for reasons that matter to a scanner:
//! it turns reject and abort codes the standard does not define into errors (we keep them as
//! facts), it fails a whole A-ASSOCIATE-AC when one item is truncated (we keep what came
//! before it, which is how Shodan's truncated banners still give a fingerprint), and it copies
//! every P-DATA-TF value (we never copy a data-set fragment, so an identifier a server sends
//! cannot reach memory we keep). It remains the reference: the tests and the fuzz target check
//! that both readers agree on every well-formed PDU.

use dicom_dictionary_std::uids;
use dicom_ul::pdu::{
    write_pdu, AbortRQSource, PDataValue, PDataValueType, Pdu as UlPdu,
    PresentationContextProposed, UserVariableItem,
};

use super::{peer_text, AeTitle, IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME};

/// Length of a PDU header: type, reserved byte, 32-bit big-endian length.
pub const HEADER_LEN: usize = 6;

/// The maximum PDU length we announce, and so the most a compliant peer may send us in one PDU.
pub const DEFAULT_MAX_PDU_LENGTH: u32 = 16_384;

/// The limit to use when reading answers to our requests: a compliant peer sends no PDU longer
/// than the maximum we announced; an A-ASSOCIATE-AC or -RJ is far shorter.
pub const DEFAULT_READ_LIMIT: u32 = DEFAULT_MAX_PDU_LENGTH;

/// The DICOM application context name (PS3.7 A.2.1).
pub const APPLICATION_CONTEXT: &str = uids::DICOM_APPLICATION_CONTEXT;

/// A presentation context we propose: its id and abstract syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProposedContext {
    pub id: u8,
    pub abstract_syntax: &'static str,
    /// Short stable name used in observation details.
    pub name: &'static str,
}

/// Verification (C-ECHO).
pub const VERIFICATION: ProposedContext = ProposedContext {
    id: 1,
    abstract_syntax: uids::VERIFICATION,
    name: "verification",
};

/// Study Root Query/Retrieve Information Model - FIND (the non-matching query).
pub const STUDY_ROOT_FIND: ProposedContext = ProposedContext {
    id: 3,
    abstract_syntax: uids::STUDY_ROOT_QUERY_RETRIEVE_INFORMATION_MODEL_FIND,
    name: "study-root-find",
};

/// Patient Root Query/Retrieve Information Model - FIND (proposed to learn whether it is
/// supported; never queried).
pub const PATIENT_ROOT_FIND: ProposedContext = ProposedContext {
    id: 5,
    abstract_syntax: uids::PATIENT_ROOT_QUERY_RETRIEVE_INFORMATION_MODEL_FIND,
    name: "patient-root-find",
};

/// Every context of our A-ASSOCIATE-RQ, in order.
pub const PROPOSED_CONTEXTS: [ProposedContext; 3] =
    [VERIFICATION, STUDY_ROOT_FIND, PATIENT_ROOT_FIND];

/// The transfer syntaxes proposed for each context, preferred first.
pub const PROPOSED_TRANSFER_SYNTAXES: [&str; 2] = [
    uids::EXPLICIT_VR_LITTLE_ENDIAN,
    uids::IMPLICIT_VR_LITTLE_ENDIAN,
];

/// The A-ASSOCIATE-RQ medsurface sends. Defaults: calling AE `MEDSURFACE`, called AE `ANY-SCP`,
/// our implementation class UID and version name, [`PROPOSED_CONTEXTS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociateRequest {
    calling_ae: AeTitle,
    called_ae: AeTitle,
    max_pdu_length: u32,
}

impl Default for AssociateRequest {
    fn default() -> Self {
        AssociateRequest {
            calling_ae: AeTitle::default(),
            called_ae: AeTitle(super::DEFAULT_CALLED_AE.to_string()),
            max_pdu_length: DEFAULT_MAX_PDU_LENGTH,
        }
    }
}

impl AssociateRequest {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn calling_ae(mut self, ae: AeTitle) -> Self {
        self.calling_ae = ae;
        self
    }

    pub fn called_ae(mut self, ae: AeTitle) -> Self {
        self.called_ae = ae;
        self
    }

    /// The maximum PDU length we announce (what the peer may send us). Clamped to
    /// 1 KiB..=1 MiB: a reader must be able to hold one PDU.
    pub fn max_pdu_length(mut self, len: u32) -> Self {
        self.max_pdu_length = len.clamp(1024, 1 << 20);
        self
    }

    pub fn calling(&self) -> &AeTitle {
        &self.calling_ae
    }

    pub fn called(&self) -> &AeTitle {
        &self.called_ae
    }

    pub fn announced_max_pdu_length(&self) -> u32 {
        self.max_pdu_length
    }

    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let rq = UlPdu::AssociationRQ(dicom_ul::pdu::AssociationRQ {
            protocol_version: 1,
            calling_ae_title: self.calling_ae.as_str().to_string(),
            called_ae_title: self.called_ae.as_str().to_string(),
            application_context_name: APPLICATION_CONTEXT.to_string(),
            presentation_contexts: PROPOSED_CONTEXTS
                .iter()
                .map(|c| PresentationContextProposed {
                    id: c.id,
                    abstract_syntax: c.abstract_syntax.to_string(),
                    transfer_syntaxes: PROPOSED_TRANSFER_SYNTAXES
                        .iter()
                        .map(|ts| ts.to_string())
                        .collect(),
                })
                .collect(),
            user_variables: vec![
                UserVariableItem::MaxLength(self.max_pdu_length),
                UserVariableItem::ImplementationClassUID(IMPLEMENTATION_CLASS_UID.to_string()),
                UserVariableItem::ImplementationVersionName(
                    IMPLEMENTATION_VERSION_NAME.to_string(),
                ),
            ],
        });
        encode(&rq, "A-ASSOCIATE-RQ")
    }
}

/// Whether a P-DATA-TF value carries (part of) a command set or a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PdvKind {
    Command,
    DataSet,
}

/// One message part (a command set or a data set) as P-DATA-TF PDUs, fragmented so that no PDU
/// exceeds the peer's maximum PDU length (`0` or `None`: no limit announced).
pub fn p_data(
    context_id: u8,
    kind: PdvKind,
    bytes: &[u8],
    peer_max_pdu_length: Option<u32>,
) -> Result<Vec<u8>, EncodeError> {
    // A PDV item adds 6 bytes (length, context id, header) inside the PDU's variable field.
    let max_fragment = match peer_max_pdu_length {
        None | Some(0) => usize::MAX,
        Some(n) => (n as usize).saturating_sub(6).max(64),
    };
    // Written by hand, one allocation for all fragments (dicom-ul builds a value per fragment
    // and a buffer per length field: a measurable share of a DICOM probe's CPU); the tests check
    // the bytes against dicom-ul's encoder. A fragment whose length does not fit the 32-bit
    // length fields (only possible with no peer maximum) is left to dicom-ul, as before.
    let chunk_len = max_fragment.min(bytes.len()).max(1);
    let fragments = bytes.len().div_ceil(chunk_len).max(1);
    let mut out = Vec::with_capacity(bytes.len() + 12 * fragments);
    let mut chunks = bytes.chunks(chunk_len).peekable();
    if bytes.is_empty() {
        write_pdv_pdu(&mut out, context_id, kind, true, bytes)?;
    }
    while let Some(chunk) = chunks.next() {
        write_pdv_pdu(&mut out, context_id, kind, chunks.peek().is_none(), chunk)?;
    }
    Ok(out)
}

/// Appends one P-DATA-TF PDU holding one presentation data value.
fn write_pdv_pdu(
    out: &mut Vec<u8>,
    context_id: u8,
    kind: PdvKind,
    is_last: bool,
    chunk: &[u8],
) -> Result<(), EncodeError> {
    let (Ok(item_len), Ok(pdu_len)) = (
        u32::try_from(chunk.len() + 2),
        u32::try_from(chunk.len() + 6),
    ) else {
        let pdu = UlPdu::PData {
            data: vec![PDataValue {
                presentation_context_id: context_id,
                value_type: match kind {
                    PdvKind::Command => PDataValueType::Command,
                    PdvKind::DataSet => PDataValueType::Data,
                },
                is_last,
                data: chunk.to_vec(),
            }],
        };
        out.extend(encode(&pdu, "P-DATA-TF")?);
        return Ok(());
    };
    let header = match kind {
        PdvKind::Command => 0x01,
        PdvKind::DataSet => 0x00,
    } | if is_last { 0x02 } else { 0x00 };
    out.extend_from_slice(&[0x04, 0x00]);
    out.extend_from_slice(&pdu_len.to_be_bytes());
    out.extend_from_slice(&item_len.to_be_bytes());
    out.extend_from_slice(&[context_id, header]);
    out.extend_from_slice(chunk);
    Ok(())
}

/// A-RELEASE-RQ.
pub fn release_rq() -> Vec<u8> {
    vec![0x05, 0x00, 0, 0, 0, 4, 0, 0, 0, 0]
}

/// A-ABORT from the service user (us), reason not significant.
pub fn abort() -> Vec<u8> {
    // Written by hand as well as by dicom-ul (see the test): no error path for a fixed value.
    vec![0x07, 0x00, 0, 0, 0, 4, 0, 0, 0, 0]
}

fn encode(pdu: &UlPdu, what: &'static str) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    write_pdu(&mut out, pdu).map_err(|source| EncodeError { what, source })?;
    Ok(out)
}

/// A PDU of ours could not be encoded (only possible with values dicom-ul rejects).
#[derive(Debug, thiserror::Error)]
#[error("could not encode {what}")]
pub struct EncodeError {
    what: &'static str,
    #[source]
    source: dicom_ul::pdu::WriteError,
}

/// Why bytes a peer sent are not a PDU we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PduError {
    /// The first byte is not a PDU type (1–7): the peer speaks something else (HTTP, TLS, SSH…).
    #[error("not a DICOM PDU (first byte {first_byte:#04x})")]
    NotDicom { first_byte: u8 },
    /// The declared length is above the limit; nothing was read past the header.
    #[error("PDU type {pdu_type} declares {declared} bytes, above the limit of {limit}")]
    TooLarge {
        pdu_type: u8,
        declared: u32,
        limit: u32,
    },
    /// The PDU is complete but its content is inconsistent.
    #[error("malformed {pdu}: {what}")]
    Malformed {
        pdu: &'static str,
        what: &'static str,
    },
}

/// One PDU a peer sent, reduced to the facts we keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pdu {
    AssociateAc(AssociateAccept),
    AssociateRj(AssociateReject),
    PData(PData),
    ReleaseRq,
    ReleaseRp,
    Abort(Abort),
    /// A peer sent us an A-ASSOCIATE-RQ: a protocol oddity (or a mirror), never acted on.
    AssociateRq,
}

impl Pdu {
    pub fn name(&self) -> &'static str {
        match self {
            Pdu::AssociateAc(_) => "A-ASSOCIATE-AC",
            Pdu::AssociateRj(_) => "A-ASSOCIATE-RJ",
            Pdu::PData(_) => "P-DATA-TF",
            Pdu::ReleaseRq => "A-RELEASE-RQ",
            Pdu::ReleaseRp => "A-RELEASE-RP",
            Pdu::Abort(_) => "A-ABORT",
            Pdu::AssociateRq => "A-ASSOCIATE-RQ",
        }
    }
}

/// The facts of an A-ASSOCIATE-AC: who the peer says it is and what it accepted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AssociateAccept {
    pub protocol_version: u16,
    pub application_context: Option<String>,
    pub implementation_class_uid: Option<String>,
    pub implementation_version_name: Option<String>,
    /// The peer's maximum PDU length (`0`: unlimited).
    pub max_pdu_length: Option<u32>,
    pub contexts: Vec<ContextResult>,
    /// An item ran past the end of the PDU (or of a truncated banner); the facts before it are
    /// kept.
    pub truncated: bool,
}

impl AssociateAccept {
    /// The result for presentation context `id`, if the peer answered it.
    pub fn context(&self, id: u8) -> Option<&ContextResult> {
        self.contexts.iter().find(|c| c.id == id)
    }

    /// The transfer syntax of context `id` if the peer accepted it.
    pub fn accepted_transfer_syntax(&self, id: u8) -> Option<&str> {
        self.context(id).filter(|c| c.is_accepted()).map(|c| {
            c.transfer_syntax
                .as_deref()
                .unwrap_or(uids::IMPLICIT_VR_LITTLE_ENDIAN)
        })
    }
}

/// The answer to one proposed presentation context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextResult {
    pub id: u8,
    /// 0 acceptance, 1 user-rejection, 2 no-reason, 3 abstract-syntax-not-supported,
    /// 4 transfer-syntaxes-not-supported; other values are kept as sent.
    pub result: u8,
    pub transfer_syntax: Option<String>,
}

impl ContextResult {
    pub fn is_accepted(&self) -> bool {
        self.result == 0
    }

    pub fn result_name(&self) -> &'static str {
        match self.result {
            0 => "accepted",
            1 => "user-rejection",
            2 => "no-reason",
            3 => "abstract-syntax-not-supported",
            4 => "transfer-syntaxes-not-supported",
            _ => "unknown",
        }
    }
}

/// The facts of an A-ASSOCIATE-RJ, codes as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssociateReject {
    pub result: u8,
    pub source: u8,
    pub reason: u8,
}

impl AssociateReject {
    pub fn result_name(&self) -> &'static str {
        match self.result {
            1 => "rejected-permanent",
            2 => "rejected-transient",
            _ => "unknown",
        }
    }

    pub fn source_name(&self) -> &'static str {
        match self.source {
            1 => "service-user",
            2 => "service-provider-acse",
            3 => "service-provider-presentation",
            _ => "unknown",
        }
    }

    /// The reason's name, which depends on the source (PS3.8 Table 9-21).
    pub fn reason_name(&self) -> &'static str {
        match (self.source, self.reason) {
            (1, 1) => "no-reason-given",
            (1, 2) => "application-context-name-not-supported",
            (1, 3) => "calling-ae-title-not-recognized",
            (1, 7) => "called-ae-title-not-recognized",
            (1, 4..=6) | (1, 8..=10) => "reserved",
            (2, 1) => "no-reason-given",
            (2, 2) => "protocol-version-not-supported",
            (3, 1) => "temporary-congestion",
            (3, 2) => "local-limit-exceeded",
            (3, 0) | (3, 3..=7) => "reserved",
            _ => "unknown",
        }
    }

    /// Whether the reject is about AE titles (the called-AE check nmap's dicom-ping reports).
    pub fn is_ae_title_check(&self) -> bool {
        self.source == 1 && matches!(self.reason, 3 | 7)
    }
}

/// The facts of an A-ABORT, codes as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abort {
    pub source: u8,
    pub reason: u8,
}

impl Abort {
    pub fn source_name(&self) -> &'static str {
        match self.source {
            0 => "service-user",
            1 => "reserved",
            2 => "service-provider",
            _ => "unknown",
        }
    }

    pub fn reason_name(&self) -> &'static str {
        if self.source != 2 {
            return "not-significant";
        }
        match self.reason {
            0 => "reason-not-specified",
            1 => "unrecognized-pdu",
            2 => "unexpected-pdu",
            4 => "unrecognized-pdu-parameter",
            5 => "unexpected-pdu-parameter",
            6 => "invalid-pdu-parameter",
            _ => "unknown",
        }
    }
}

/// A P-DATA-TF PDU: its values, with data-set fragments reduced to their length.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PData {
    pub values: Vec<Pdv>,
}

/// One presentation data value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdv {
    pub context_id: u8,
    pub is_last: bool,
    pub content: PdvContent,
}

/// What a PDV held. A data-set fragment is never copied: only its length is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PdvContent {
    Command(Vec<u8>),
    DataSet { len: usize },
}

/// The total length (header included) of the PDU at the start of `buf`, once its header is in.
///
/// `Ok(None)`: fewer than six bytes so far (a first byte that is not a PDU type is reported at
/// once). The declared length is checked against `limit` before anything is read past the
/// header, so a reader can size its buffer from the answer.
pub fn frame(buf: &[u8], limit: u32) -> Result<Option<usize>, PduError> {
    let Some(&pdu_type) = buf.first() else {
        return Ok(None);
    };
    if !(1..=7).contains(&pdu_type) {
        return Err(PduError::NotDicom {
            first_byte: pdu_type,
        });
    }
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let declared = u32::from_be_bytes([buf[2], buf[3], buf[4], buf[5]]);
    if declared > limit {
        return Err(PduError::TooLarge {
            pdu_type,
            declared,
            limit,
        });
    }
    Ok(Some(HEADER_LEN + declared as usize))
}

/// Reads one PDU from the start of `buf`: `Ok(None)` if more bytes are needed, else the PDU
/// and the number of bytes it took.
pub fn parse(buf: &[u8], limit: u32) -> Result<Option<(Pdu, usize)>, PduError> {
    let Some(total) = frame(buf, limit)? else {
        return Ok(None);
    };
    if buf.len() < total {
        return Ok(None);
    }
    let body = &buf[HEADER_LEN..total];
    let pdu = match buf[0] {
        0x01 => Pdu::AssociateRq,
        0x02 => Pdu::AssociateAc(parse_accept_body(body)?),
        0x03 => Pdu::AssociateRj(parse_reject_body(body)?),
        0x04 => Pdu::PData(parse_p_data_body(body)?),
        0x05 => Pdu::ReleaseRq,
        0x06 => Pdu::ReleaseRp,
        _ => Pdu::Abort(parse_abort_body(body)?),
    };
    Ok(Some((pdu, total)))
}

/// The fixed part of an A-ASSOCIATE-AC before its items: version, reserved, two AE titles and
/// 32 reserved bytes.
const AC_FIXED_LEN: usize = 68;

/// At most this many presentation context results are kept (a peer may answer at most 128).
const MAX_CONTEXTS: usize = 128;

/// Reads the variable part of an A-ASSOCIATE-AC, tolerating a truncated tail (`truncated`).
pub(crate) fn parse_accept_body(body: &[u8]) -> Result<AssociateAccept, PduError> {
    const PDU: &str = "A-ASSOCIATE-AC";
    if body.len() < AC_FIXED_LEN {
        return Err(PduError::Malformed {
            pdu: PDU,
            what: "shorter than its fixed fields",
        });
    }
    let mut ac = AssociateAccept {
        protocol_version: u16::from_be_bytes([body[0], body[1]]),
        ..AssociateAccept::default()
    };
    let mut items = Items::new(&body[AC_FIXED_LEN..]);
    for item in items.by_ref() {
        match item.kind {
            0x10 if item.complete => ac.application_context = Some(peer_text(item.value)),
            0x21 => {
                if item.value.len() < 4 {
                    ac.truncated = true;
                    continue;
                }
                let mut sub = Items::new(&item.value[4..]);
                let mut transfer_syntax = None;
                for s in sub.by_ref() {
                    if s.kind == 0x40 && s.complete && transfer_syntax.is_none() {
                        transfer_syntax = Some(peer_text(s.value));
                    }
                }
                ac.truncated |= sub.truncated;
                if ac.contexts.len() < MAX_CONTEXTS {
                    ac.contexts.push(ContextResult {
                        id: item.value[0],
                        result: item.value[2],
                        transfer_syntax,
                    });
                }
            }
            0x50 => {
                let mut sub = Items::new(item.value);
                for s in sub.by_ref() {
                    match s.kind {
                        0x51 if s.complete && s.value.len() == 4 => {
                            ac.max_pdu_length = Some(u32::from_be_bytes([
                                s.value[0], s.value[1], s.value[2], s.value[3],
                            ]));
                        }
                        0x52 if s.complete => {
                            ac.implementation_class_uid = Some(peer_text(s.value))
                        }
                        0x55 if s.complete => {
                            ac.implementation_version_name = Some(peer_text(s.value))
                        }
                        _ => {}
                    }
                }
                ac.truncated |= sub.truncated;
            }
            _ => {}
        }
    }
    ac.truncated |= items.truncated;
    Ok(ac)
}

fn parse_reject_body(body: &[u8]) -> Result<AssociateReject, PduError> {
    match body {
        [_, result, source, reason, ..] => Ok(AssociateReject {
            result: *result,
            source: *source,
            reason: *reason,
        }),
        _ => Err(PduError::Malformed {
            pdu: "A-ASSOCIATE-RJ",
            what: "shorter than 4 bytes",
        }),
    }
}

fn parse_abort_body(body: &[u8]) -> Result<Abort, PduError> {
    match body {
        [_, _, source, reason, ..] => Ok(Abort {
            source: *source,
            reason: *reason,
        }),
        _ => Err(PduError::Malformed {
            pdu: "A-ABORT",
            what: "shorter than 4 bytes",
        }),
    }
}

fn parse_p_data_body(mut body: &[u8]) -> Result<PData, PduError> {
    const PDU: &str = "P-DATA-TF";
    let mut values = Vec::new();
    while !body.is_empty() {
        if body.len() < 6 {
            return Err(PduError::Malformed {
                pdu: PDU,
                what: "a value item header is cut short",
            });
        }
        let len = u32::from_be_bytes([body[0], body[1], body[2], body[3]]) as usize;
        if len < 2 {
            return Err(PduError::Malformed {
                pdu: PDU,
                what: "a value item is shorter than its header",
            });
        }
        if body.len() - 4 < len {
            return Err(PduError::Malformed {
                pdu: PDU,
                what: "a value item runs past the end of the PDU",
            });
        }
        let header = body[5];
        let fragment = &body[6..4 + len];
        values.push(Pdv {
            context_id: body[4],
            is_last: header & 0x02 != 0,
            content: if header & 0x01 != 0 {
                PdvContent::Command(fragment.to_vec())
            } else {
                PdvContent::DataSet {
                    len: fragment.len(),
                }
            },
        });
        body = &body[4 + len..];
    }
    Ok(PData { values })
}

/// Iterates over the items of an A-ASSOCIATE PDU: type, reserved, 16-bit length, value.
struct Items<'a> {
    rest: &'a [u8],
    truncated: bool,
}

struct Item<'a> {
    kind: u8,
    value: &'a [u8],
    /// False for the last item of a truncated run: a container's partial value is still read,
    /// a leaf's (a UID cut in half) is not.
    complete: bool,
}

impl<'a> Items<'a> {
    fn new(rest: &'a [u8]) -> Self {
        Items {
            rest,
            truncated: false,
        }
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        if self.rest.len() < 4 {
            self.truncated = true;
            self.rest = &[];
            return None;
        }
        let kind = self.rest[0];
        let len = u16::from_be_bytes([self.rest[2], self.rest[3]]) as usize;
        if self.rest.len() - 4 < len {
            // The item runs past the end: hand over what is there, so that the sub-items
            // before the cut are still read, and stop.
            self.truncated = true;
            let value = &self.rest[4..];
            self.rest = &[];
            return Some(Item {
                kind,
                value,
                complete: false,
            });
        }
        let value = &self.rest[4..4 + len];
        self.rest = &self.rest[4 + len..];
        Some(Item {
            kind,
            value,
            complete: true,
        })
    }
}

/// Converts dicom-ul's reading of a PDU into ours, for differential tests against the
/// reference reader.
#[doc(hidden)]
pub fn from_reference(pdu: &UlPdu) -> Option<Pdu> {
    Some(match pdu {
        UlPdu::AssociationAC(ac) => {
            let mut out = AssociateAccept {
                protocol_version: ac.protocol_version,
                application_context: Some(ac.application_context_name.clone()),
                ..AssociateAccept::default()
            };
            for pc in &ac.presentation_contexts {
                out.contexts.push(ContextResult {
                    id: pc.id,
                    result: pc.reason.clone() as u8,
                    transfer_syntax: Some(pc.transfer_syntax.clone()),
                });
            }
            for v in &ac.user_variables {
                match v {
                    UserVariableItem::MaxLength(n) => out.max_pdu_length = Some(*n),
                    UserVariableItem::ImplementationClassUID(s) => {
                        out.implementation_class_uid = Some(s.clone())
                    }
                    UserVariableItem::ImplementationVersionName(s) => {
                        out.implementation_version_name = Some(s.clone())
                    }
                    _ => {}
                }
            }
            Pdu::AssociateAc(out)
        }
        UlPdu::PData { data } => Pdu::PData(PData {
            values: data
                .iter()
                .map(|v| Pdv {
                    context_id: v.presentation_context_id,
                    is_last: v.is_last,
                    content: match v.value_type {
                        PDataValueType::Command => PdvContent::Command(v.data.clone()),
                        PDataValueType::Data => PdvContent::DataSet { len: v.data.len() },
                    },
                })
                .collect(),
        }),
        UlPdu::ReleaseRQ => Pdu::ReleaseRq,
        UlPdu::ReleaseRP => Pdu::ReleaseRp,
        UlPdu::AbortRQ { source } => Pdu::Abort(match source {
            AbortRQSource::ServiceUser => Abort {
                source: 0,
                reason: 0,
            },
            _ => return None,
        }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_ul::pdu::{
        read_pdu, AssociationAC, AssociationRJ, AssociationRJResult,
        AssociationRJServiceUserReason, AssociationRJSource, PresentationContextResult,
        PresentationContextResultReason,
    };

    fn reference_ac(impl_uid: &str, version: &str) -> Vec<u8> {
        let ac = UlPdu::AssociationAC(AssociationAC {
            protocol_version: 1,
            calling_ae_title: "MEDSURFACE".into(),
            called_ae_title: "ANY-SCP".into(),
            application_context_name: APPLICATION_CONTEXT.into(),
            presentation_contexts: vec![
                PresentationContextResult {
                    id: 1,
                    reason: PresentationContextResultReason::Acceptance,
                    transfer_syntax: uids::IMPLICIT_VR_LITTLE_ENDIAN.into(),
                },
                PresentationContextResult {
                    id: 3,
                    reason: PresentationContextResultReason::AbstractSyntaxNotSupported,
                    transfer_syntax: uids::IMPLICIT_VR_LITTLE_ENDIAN.into(),
                },
            ],
            user_variables: vec![
                UserVariableItem::MaxLength(32_768),
                UserVariableItem::ImplementationClassUID(impl_uid.into()),
                UserVariableItem::ImplementationVersionName(version.into()),
            ],
        });
        let mut out = Vec::new();
        write_pdu(&mut out, &ac).unwrap();
        out
    }

    #[test]
    fn our_request_reads_back_with_the_reference_reader() {
        let rq = AssociateRequest::new()
            .called_ae(AeTitle::new("ORTHANC").unwrap())
            .encode()
            .unwrap();
        let Some(UlPdu::AssociationRQ(rq)) = read_pdu(&rq[..], DEFAULT_READ_LIMIT, true).unwrap()
        else {
            panic!("not an A-ASSOCIATE-RQ");
        };
        assert_eq!(rq.calling_ae_title, "MEDSURFACE");
        assert_eq!(rq.called_ae_title, "ORTHANC");
        assert_eq!(rq.application_context_name, APPLICATION_CONTEXT);
        let ids: Vec<(u8, &str)> = rq
            .presentation_contexts
            .iter()
            .map(|c| (c.id, c.abstract_syntax.as_str()))
            .collect();
        assert_eq!(
            ids,
            vec![
                (1, "1.2.840.10008.1.1"),
                (3, "1.2.840.10008.5.1.4.1.2.2.1"),
                (5, "1.2.840.10008.5.1.4.1.2.1.1")
            ]
        );
        for c in &rq.presentation_contexts {
            assert_eq!(
                c.transfer_syntaxes,
                ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]
            );
        }
        assert!(rq
            .user_variables
            .contains(&UserVariableItem::ImplementationClassUID(
                IMPLEMENTATION_CLASS_UID.into()
            )));
        assert!(rq
            .user_variables
            .contains(&UserVariableItem::ImplementationVersionName(
                IMPLEMENTATION_VERSION_NAME.into()
            )));
        assert!(rq
            .user_variables
            .contains(&UserVariableItem::MaxLength(DEFAULT_MAX_PDU_LENGTH)));
    }

    #[test]
    fn reads_an_accept_like_the_reference_reader() {
        let bytes = reference_ac("1.2.276.0.7230010.3.0.3.6.7", "OFFIS_DCMTK_367");
        let (pdu, used) = parse(&bytes, DEFAULT_READ_LIMIT).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        let reference = read_pdu(&bytes[..], DEFAULT_READ_LIMIT, true)
            .unwrap()
            .unwrap();
        assert_eq!(Some(pdu.clone()), from_reference(&reference));
        let Pdu::AssociateAc(ac) = pdu else { panic!() };
        assert_eq!(
            ac.implementation_class_uid.as_deref(),
            Some("1.2.276.0.7230010.3.0.3.6.7")
        );
        assert_eq!(
            ac.implementation_version_name.as_deref(),
            Some("OFFIS_DCMTK_367")
        );
        assert_eq!(ac.max_pdu_length, Some(32_768));
        assert_eq!(ac.accepted_transfer_syntax(1), Some("1.2.840.10008.1.2"));
        assert_eq!(ac.accepted_transfer_syntax(3), None);
        assert_eq!(
            ac.context(3).unwrap().result_name(),
            "abstract-syntax-not-supported"
        );
        assert!(!ac.truncated);
    }

    #[test]
    fn needs_more_bytes_until_the_pdu_is_complete() {
        let bytes = reference_ac("1.2.3", "X");
        for cut in 0..bytes.len() {
            assert_eq!(
                parse(&bytes[..cut], DEFAULT_READ_LIMIT),
                Ok(None),
                "cut at {cut}"
            );
        }
        // Two PDUs back to back: the first is read, its length reported.
        let mut two = bytes.clone();
        two.extend(release_rq());
        let (_, used) = parse(&two, DEFAULT_READ_LIMIT).unwrap().unwrap();
        assert_eq!(
            parse(&two[used..], DEFAULT_READ_LIMIT).unwrap().unwrap().0,
            Pdu::ReleaseRq
        );
    }

    #[test]
    fn a_truncated_accept_keeps_what_came_before_the_cut() {
        let bytes = reference_ac("1.2.276.0.7230010.3.0.3.6.7", "OFFIS_DCMTK_367");
        // Cut inside the version name item, as a truncated banner would be.
        let cut = &bytes[HEADER_LEN..bytes.len() - 5];
        let ac = parse_accept_body(cut).unwrap();
        assert!(ac.truncated);
        assert_eq!(
            ac.implementation_class_uid.as_deref(),
            Some("1.2.276.0.7230010.3.0.3.6.7")
        );
        assert_eq!(ac.implementation_version_name, None);
        assert_eq!(ac.contexts.len(), 2);
    }

    #[test]
    fn reject_codes_are_kept_even_when_undefined() {
        let mut bytes = Vec::new();
        write_pdu(
            &mut bytes,
            &UlPdu::AssociationRJ(AssociationRJ {
                result: AssociationRJResult::Permanent,
                source: AssociationRJSource::ServiceUser(
                    AssociationRJServiceUserReason::CalledAETitleNotRecognized,
                ),
            }),
        )
        .unwrap();
        let Pdu::AssociateRj(rj) = parse(&bytes, 1024).unwrap().unwrap().0 else {
            panic!()
        };
        assert_eq!((rj.result, rj.source, rj.reason), (1, 1, 7));
        assert_eq!(rj.reason_name(), "called-ae-title-not-recognized");
        assert!(rj.is_ae_title_check());
        // Codes no standard defines: dicom-ul errors, we keep them.
        let odd = [3, 0, 0, 0, 0, 4, 0, 9, 9, 99];
        assert!(read_pdu(&odd[..], 1024, true).is_err());
        let Pdu::AssociateRj(rj) = parse(&odd, 1024).unwrap().unwrap().0 else {
            panic!()
        };
        assert_eq!(
            (rj.result_name(), rj.source_name(), rj.reason_name()),
            ("unknown", "unknown", "unknown")
        );
    }

    #[test]
    fn abort_and_release_read_back() {
        let mut reference = Vec::new();
        write_pdu(
            &mut reference,
            &UlPdu::AbortRQ {
                source: AbortRQSource::ServiceUser,
            },
        )
        .unwrap();
        assert_eq!(abort(), reference);
        let mut reference = Vec::new();
        write_pdu(&mut reference, &UlPdu::ReleaseRQ).unwrap();
        assert_eq!(release_rq(), reference);
        let provider = [7, 0, 0, 0, 0, 4, 0, 0, 2, 1];
        let Pdu::Abort(a) = parse(&provider, 1024).unwrap().unwrap().0 else {
            panic!()
        };
        assert_eq!(
            (a.source_name(), a.reason_name()),
            ("service-provider", "unrecognized-pdu")
        );
    }

    /// P-DATA-TF as dicom-ul encodes it, fragment by fragment (how `p_data` used to be built).
    fn reference_p_data(id: u8, kind: PdvKind, bytes: &[u8], peer_max: Option<u32>) -> Vec<u8> {
        let max_fragment = match peer_max {
            None | Some(0) => usize::MAX,
            Some(n) => (n as usize).saturating_sub(6).max(64),
        };
        let chunks: Vec<&[u8]> = if bytes.is_empty() {
            vec![bytes]
        } else {
            bytes.chunks(max_fragment.min(bytes.len())).collect()
        };
        let last = chunks.len() - 1;
        let mut out = Vec::new();
        for (i, chunk) in chunks.into_iter().enumerate() {
            let pdu = UlPdu::PData {
                data: vec![PDataValue {
                    presentation_context_id: id,
                    value_type: match kind {
                        PdvKind::Command => PDataValueType::Command,
                        PdvKind::DataSet => PDataValueType::Data,
                    },
                    is_last: i == last,
                    data: chunk.to_vec(),
                }],
            };
            write_pdu(&mut out, &pdu).unwrap();
        }
        out
    }

    #[test]
    fn p_data_is_the_bytes_dicom_ul_writes() {
        let payload: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for len in [0, 1, 2, 63, 64, 65, 94, 100, 128, 129, 257, 999, 1000] {
            for peer_max in [
                None,
                Some(0),
                Some(1),
                Some(70),
                Some(71),
                Some(100),
                Some(16_384),
            ] {
                for kind in [PdvKind::Command, PdvKind::DataSet] {
                    for id in [1, 3, 255] {
                        let bytes = &payload[..len];
                        assert_eq!(
                            p_data(id, kind, bytes, peer_max).unwrap(),
                            reference_p_data(id, kind, bytes, peer_max),
                            "len {len} peer_max {peer_max:?} {kind:?} id {id}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn declared_length_is_checked_before_reading() {
        // A peer that claims a 4 GiB PDU: refused from the header alone.
        let huge = [4, 0, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(
            frame(&huge, DEFAULT_READ_LIMIT),
            Err(PduError::TooLarge {
                pdu_type: 4,
                declared: u32::MAX,
                limit: DEFAULT_READ_LIMIT
            })
        );
        assert_eq!(
            parse(b"HTTP/1.1 400 Bad Request\r\n", DEFAULT_READ_LIMIT),
            Err(PduError::NotDicom { first_byte: b'H' })
        );
        assert_eq!(
            frame(&[0x16, 3, 1], 100),
            Err(PduError::NotDicom { first_byte: 0x16 })
        );
    }

    #[test]
    fn p_data_keeps_commands_and_only_the_length_of_data_sets() {
        let mut bytes = p_data(3, PdvKind::Command, b"CMD!", None).unwrap();
        bytes.extend(p_data(3, PdvKind::DataSet, b"MEDSURFACE^CANARY", None).unwrap());
        let (first, used) = parse(&bytes, 1024).unwrap().unwrap();
        let (second, _) = parse(&bytes[used..], 1024).unwrap().unwrap();
        assert_eq!(
            first,
            Pdu::PData(PData {
                values: vec![Pdv {
                    context_id: 3,
                    is_last: true,
                    content: PdvContent::Command(b"CMD!".to_vec())
                }]
            })
        );
        assert_eq!(
            second,
            Pdu::PData(PData {
                values: vec![Pdv {
                    context_id: 3,
                    is_last: true,
                    content: PdvContent::DataSet { len: 17 }
                }]
            })
        );
        assert!(!format!("{second:?}").contains("CANARY"));
    }

    #[test]
    fn p_data_fragments_to_the_peer_maximum() {
        let payload = vec![0xAB; 300];
        let bytes = p_data(1, PdvKind::Command, &payload, Some(100)).unwrap();
        let mut rest = &bytes[..];
        let mut got = Vec::new();
        let mut lasts = Vec::new();
        while !rest.is_empty() {
            let (pdu, used) = parse(rest, 100).unwrap().unwrap();
            let Pdu::PData(p) = pdu else { panic!() };
            for v in p.values {
                lasts.push(v.is_last);
                let PdvContent::Command(c) = v.content else {
                    panic!()
                };
                got.extend(c);
            }
            rest = &rest[used..];
        }
        assert_eq!(got, payload);
        assert_eq!(lasts.iter().filter(|l| **l).count(), 1);
        assert_eq!(lasts.last(), Some(&true));
    }

    #[test]
    fn malformed_p_data_is_an_error_not_a_panic() {
        let bad_len = [4, 0, 0, 0, 0, 6, 0, 0, 0, 1, 1, 3];
        assert!(matches!(
            parse(&bad_len, 100),
            Err(PduError::Malformed { .. })
        ));
        let past_end = [4, 0, 0, 0, 0, 6, 0, 0, 0, 9, 1, 3];
        assert!(matches!(
            parse(&past_end, 100),
            Err(PduError::Malformed { .. })
        ));
    }
}
