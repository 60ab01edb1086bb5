//! Simulated hospital services on loopback, for the demo, the tests and the benchmarks.
//!
//! Each kind behaves like the real thing as far as a read-only probe can tell (a MySQL server
//! greets first, an HL7 listener acknowledges an MLLP frame, an Orthanc answers HTTP), plus a few
//! hostile kinds (floods, terminal escapes, a server that dribbles bytes) that every probe must
//! survive. Nothing here holds or sends patient data. Listeners bind only to loopback addresses:
//! the lab refuses anything else.
//!
//! The two DICOM kinds are real upper-layer peers built on dicom-ul's PDU types (see
//! [`dicom`]): one accepts any AE title and answers C-ECHO and C-FIND (with no matches: it holds
//! no data at all), one checks the called AE title and rejects every other one, as the two
//! families of real PACS do. The benchmarks start a fleet of them from one file
//! (`medsurface lab @FILE`, one `KIND@ADDR:PORT` per line), so the lab is also the load
//! generator of the DICOM fleet benchmark (bench/dicom_fleet.sh).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::cli::LabArgs;
use crate::exit::{Exit, InputError};

/// A kind of simulated service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Silent,
    DicomOpen,
    DicomStrict,
    Mysql,
    Hl7,
    HttpOrthanc,
    HttpOpenEmr,
    Escape,
    Flood,
    Drip,
}

/// Every kind with its name and what it does (the `--list` text).
pub const KINDS: &[(Kind, &str, &str)] = &[
    (
        Kind::Silent,
        "silent",
        "accepts and says nothing (DICOM, PostgreSQL and HTTP wait for the client)",
    ),
    (
        Kind::DicomOpen,
        "dicom-open",
        "DICOM SCP that accepts any AE title; C-ECHO success, C-FIND success with no matches",
    ),
    (
        Kind::DicomStrict,
        "dicom-strict",
        "DICOM SCP that checks the called AE title (LAB-PACS): others get A-ASSOCIATE-RJ reason 7",
    ),
    (
        Kind::Mysql,
        "mysql",
        "greets with a MySQL protocol-10 handshake, as MySQL and MariaDB do",
    ),
    (
        Kind::Hl7,
        "hl7",
        "HL7 v2 over MLLP: answers each framed message with an ACK (MSA|AA)",
    ),
    (
        Kind::HttpOrthanc,
        "http-orthanc",
        "HTTP like Orthanc Explorer: / redirects to app/explorer.html",
    ),
    (
        Kind::HttpOpenEmr,
        "http-openemr",
        "HTTP like an OpenEMR login page",
    ),
    (
        Kind::Escape,
        "escape",
        "hostile: a banner full of terminal escape sequences",
    ),
    (
        Kind::Flood,
        "flood",
        "hostile: sends 10 MB of garbage at once",
    ),
    (
        Kind::Drip,
        "drip",
        "hostile: one byte every 100 ms, for a minute",
    ),
];

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        KINDS.iter().find(|(_, n, _)| *n == s).map(|(k, _, _)| *k)
    }

    pub fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _, _)| *k == self)
            .map(|(_, n, _)| *n)
            .unwrap_or("?")
    }
}

/// One service to serve.
#[derive(Debug, Clone, Copy)]
pub struct LabService {
    pub kind: Kind,
    pub addr: SocketAddr,
}

impl LabService {
    /// `KIND@ADDR:PORT`, loopback addresses only.
    pub fn parse(s: &str) -> Result<LabService> {
        let (kind, addr) = s
            .split_once('@')
            .ok_or_else(|| InputError(format!("{s:?}: expected KIND@ADDR:PORT")))?;
        let kind = Kind::parse(kind)
            .ok_or_else(|| InputError(format!("{s:?}: unknown kind {kind:?} (see --list)")))?;
        let addr: SocketAddr = addr
            .parse()
            .map_err(|_| InputError(format!("{s:?}: {addr:?} is not ADDR:PORT")))?;
        if !addr.ip().is_loopback() {
            return Err(
                InputError(format!("{s:?}: the lab serves on loopback addresses only")).into(),
            );
        }
        Ok(LabService { kind, addr })
    }
}

/// Reads the services of the command line: each argument is `KIND@ADDR:PORT`, or `@FILE` with
/// one such line per service (blank lines and `#` comments allowed), the form a benchmark uses
/// to start a fleet of a thousand servers.
pub fn services(args: &[String]) -> Result<Vec<LabService>> {
    let mut out = Vec::new();
    for arg in args {
        let Some(path) = arg.strip_prefix('@') else {
            out.push(LabService::parse(arg)?);
            continue;
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError(format!("cannot read {path}: {e}")))?;
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let service = LabService::parse(line)
                .map_err(|e| InputError(format!("{path}:{}: {e:#}", i + 1)))?;
            out.push(service);
        }
    }
    if out.is_empty() {
        return Err(InputError("no services to serve".into()).into());
    }
    Ok(out)
}

/// The hidden `medsurface lab` command: serve until killed. Prints `ready KIND ADDR` for each
/// service once it listens, then `serving N` once all do, so a caller can wait on a pipe.
pub fn run(args: LabArgs) -> Result<Exit> {
    if args.list {
        for (_, name, what) in KINDS {
            println!("{name:14} {what}");
        }
        return Ok(Exit::Ok);
    }
    let services = services(&args.services)?;
    // A listener each, and a few connections each at a time while a scanner visits them.
    let wanted = 4 * services.len() as u64 + 256;
    let limit = medsurface_scan::engine::raise_nofile_limit(wanted)?;
    if limit < services.len() as u64 + 64 {
        return Err(InputError(format!(
            "{} services need more open files than the limit of {limit}",
            services.len()
        ))
        .into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        for s in &services {
            let bound = serve(*s).await?;
            writeln!(stdout, "ready {} {bound}", s.kind.name())?;
        }
        writeln!(stdout, "serving {}", services.len())?;
        stdout.flush()?;
        drop(stdout);
        let _ = tokio::signal::ctrl_c().await;
        anyhow::Ok(())
    })?;
    Ok(Exit::Ok)
}

/// Binds one service and serves it in the background; returns the bound address.
pub async fn serve(service: LabService) -> Result<SocketAddr> {
    if !service.addr.ip().is_loopback() {
        bail!(
            "the lab serves on loopback addresses only, not {}",
            service.addr
        );
    }
    let listener = TcpListener::bind(service.addr).await.with_context(|| {
        format!(
            "cannot listen on {} for {}",
            service.addr,
            service.kind.name()
        )
    })?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                // A client that goes away mid-answer is normal for a scanner's peer.
                let _ = tokio::time::timeout(Duration::from_secs(60), handle(service.kind, stream))
                    .await;
            });
        }
    });
    Ok(bound)
}

async fn handle(kind: Kind, mut s: TcpStream) -> std::io::Result<()> {
    match kind {
        Kind::Silent => {
            let mut buf = [0u8; 1024];
            while s.read(&mut buf).await? > 0 {}
        }
        Kind::DicomOpen => dicom::serve(&mut s, dicom::Policy::AnyTitle).await?,
        Kind::DicomStrict => dicom::serve(&mut s, dicom::Policy::OwnTitleOnly).await?,
        Kind::Mysql => {
            s.write_all(&mysql_greeting("8.0.36-lab")).await?;
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await?;
        }
        Kind::Hl7 => hl7(&mut s).await?,
        Kind::HttpOrthanc => http(&mut s, orthanc_page).await?,
        Kind::HttpOpenEmr => http(&mut s, openemr_page).await?,
        Kind::Escape => {
            s.write_all(b"\x1b[2J\x1b[1;31mPACS-CONSOLE\x1b]0;owned\x07 ready\r\n\x1b[6n")
                .await?
        }
        Kind::Flood => {
            let chunk = vec![b'\xAA'; 64 * 1024];
            for _ in 0..160 {
                s.write_all(&chunk).await?;
            }
        }
        Kind::Drip => {
            for _ in 0..600 {
                s.write_all(b".").await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    Ok(())
}

/// The simulated DICOM servers: a real acceptor of the DICOM upper layer (PS3.8) on dicom-ul's
/// PDU types, with C-ECHO and a C-FIND that never matches.
///
/// An A-ASSOCIATE-RQ is framed with `medsurface_proto::dicom::pdu::frame` (PDU type and declared
/// length checked from the six-byte header, before a byte of the body is read) and decoded with
/// dicom-ul's `read_pdu`; the PDUs after it are read with our own answer parser, which keeps
/// command sets and reduces data sets to their length, so an identifier a client sends is never
/// held here either. Every PDU written is encoded by dicom-ul's `write_pdu`. Every read has a
/// timeout and a byte cap; garbage ends the connection with an A-ABORT (or, for bytes that are
/// not DICOM at all, a plain close), never a panic.
///
/// The server names itself with its own implementation class UID and version name, so that a
/// scan of the lab can never be mistaken for a scan of a real product.
pub mod dicom {
    use std::time::Duration;

    use dicom_ul::pdu::{
        write_pdu, AbortRQServiceProviderReason, AbortRQSource, AssociationAC, AssociationRJ,
        AssociationRJResult, AssociationRJServiceProviderASCEReason,
        AssociationRJServiceUserReason, AssociationRJSource, AssociationRQ, Pdu as UlPdu,
        PresentationContextProposed, PresentationContextResult, PresentationContextResultReason,
        UserVariableItem,
    };
    use medsurface_proto::dicom::dimse::{command_field, CommandSet, Event, MessageReader};
    use medsurface_proto::dicom::pdu::{
        self, Pdu, PduError, PdvKind, APPLICATION_CONTEXT, PATIENT_ROOT_FIND,
        PROPOSED_TRANSFER_SYNTAXES, STUDY_ROOT_FIND, VERIFICATION,
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::time::timeout;

    /// The one called AE title a strict server answers to.
    pub const LAB_AE_TITLE: &str = "LAB-PACS";

    /// `2.25.` and the decimal value of the fixed (version 4) UUID
    /// 3d0c5b7e-91a2-4f6d-8e3b-6a1f0c2d4b58: the lab's own implementation class UID.
    pub const LAB_IMPLEMENTATION_CLASS_UID: &str = "2.25.81147071032276242772758470305757612888";

    /// The lab's implementation version name (at most 16 characters).
    pub const LAB_IMPLEMENTATION_VERSION_NAME: &str = "LAB_SCP_010";

    /// The maximum PDU length the lab announces, and so the most it reads in one PDU after the
    /// association.
    pub const MAX_PDU_LENGTH: u32 = 16_384;

    /// The most an A-ASSOCIATE-RQ may declare (128 contexts with several transfer syntaxes fit).
    pub const REQUEST_LIMIT: u32 = 65_536;

    /// How long the server waits for each PDU (the ARTIM timer of PS3.8, in effect).
    pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

    /// The abstract syntaxes the lab supports: Verification and the two query models.
    const SUPPORTED: [&str; 3] = [
        VERIFICATION.abstract_syntax,
        STUDY_ROOT_FIND.abstract_syntax,
        PATIENT_ROOT_FIND.abstract_syntax,
    ];

    /// Command Data Set Type "no data set follows" (PS3.7 E.1).
    const NO_DATA_SET: u16 = 0x0101;

    /// Status "unable to process" for a C-FIND without an identifier.
    const UNABLE_TO_PROCESS: u16 = 0xC000;

    /// Status "unrecognized operation" for a request the lab does not serve.
    const UNRECOGNIZED_OPERATION: u16 = 0x0211;

    /// Which called AE titles a server accepts.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Policy {
        /// Any called and calling title, as 99.56 % of exposed servers (field notes).
        AnyTitle,
        /// Only [`LAB_AE_TITLE`] as the called title; anything else is rejected with
        /// permanent / service-user / called-AE-title-not-recognized (reason 7), as dcmqrscp does.
        OwnTitleOnly,
    }

    /// Why a connection ended early.
    #[derive(Debug)]
    enum Stop {
        Closed,
        Timeout,
        Io(std::io::Error),
        Pdu(PduError),
    }

    impl From<std::io::Error> for Stop {
        fn from(e: std::io::Error) -> Stop {
            Stop::Io(e)
        }
    }

    /// Serves one connection: one association, its C-ECHO and C-FIND requests, its release.
    pub async fn serve(s: &mut TcpStream, policy: Policy) -> std::io::Result<()> {
        match session(s, policy).await {
            Ok(()) | Err(Stop::Closed) => Ok(()),
            Err(Stop::Io(e)) => Err(e),
            Err(Stop::Pdu(PduError::NotDicom { .. })) => Ok(()), // not DICOM: just close
            Err(Stop::Timeout) => abort(s, AbortRQServiceProviderReason::ReasonNotSpecified).await,
            Err(Stop::Pdu(PduError::TooLarge { .. })) => {
                abort(s, AbortRQServiceProviderReason::InvalidPduParameter).await
            }
            Err(Stop::Pdu(PduError::Malformed { .. })) => {
                abort(s, AbortRQServiceProviderReason::UnrecognizedPduParameter).await
            }
        }
    }

    async fn session(s: &mut TcpStream, policy: Policy) -> Result<(), Stop> {
        let mut buf = Vec::new();
        let total = read_frame(s, &mut buf, REQUEST_LIMIT).await?;
        let rq = match dicom_ul::pdu::read_pdu(&buf[..total], REQUEST_LIMIT, true) {
            Ok(Some(UlPdu::AssociationRQ(rq))) => rq,
            Ok(Some(_)) => {
                return Ok(abort(s, AbortRQServiceProviderReason::UnexpectedPdu).await?);
            }
            Ok(None) | Err(_) => {
                return Ok(abort(s, AbortRQServiceProviderReason::InvalidPduParameter).await?);
            }
        };
        buf.clear();
        let answer = answer(&rq, policy);
        send(s, &answer).await?;
        let UlPdu::AssociationAC(ac) = answer else {
            // PS3.8: after an A-ASSOCIATE-RJ the requestor closes the transport.
            return linger(s).await;
        };
        let peer_max = rq.user_variables.iter().find_map(|v| match v {
            UserVariableItem::MaxLength(n) => Some(*n),
            _ => None,
        });
        // The abstract syntax of a context the lab accepted.
        let accepted = |context_id: u8| -> Option<&str> {
            let ok = ac.presentation_contexts.iter().any(|c| {
                c.id == context_id && c.reason == PresentationContextResultReason::Acceptance
            });
            let pc = rq
                .presentation_contexts
                .iter()
                .find(|p| p.id == context_id)?;
            ok.then_some(pc.abstract_syntax.as_str())
        };
        let mut reader = MessageReader::new();
        // A C-FIND whose identifier has not fully arrived yet: (context, message id).
        let mut find: Option<(u8, u16)> = None;
        loop {
            let total = read_frame(s, &mut buf, MAX_PDU_LENGTH).await?;
            let parsed = pdu::parse(&buf[..total], MAX_PDU_LENGTH);
            buf.clear();
            let values = match parsed {
                Ok(Some((Pdu::PData(p), _))) => p.values,
                Ok(Some((Pdu::ReleaseRq, _))) => {
                    send(s, &UlPdu::ReleaseRP).await?;
                    return linger(s).await;
                }
                Ok(Some((Pdu::Abort(_), _))) => return Ok(()),
                Ok(Some(_)) => {
                    return Ok(abort(s, AbortRQServiceProviderReason::UnexpectedPdu).await?)
                }
                Ok(None) => return Err(Stop::Closed), // cannot happen: the frame is whole
                Err(e) => return Err(Stop::Pdu(e)),
            };
            for value in values {
                let event = match reader.push(value) {
                    Ok(Some(event)) => event,
                    Ok(None) => continue,
                    Err(_) => {
                        return Ok(
                            abort(s, AbortRQServiceProviderReason::InvalidPduParameter).await?
                        );
                    }
                };
                let reply = match event {
                    Event::DataSetFragment {
                        context_id,
                        is_last: true,
                        ..
                    } => match find.take() {
                        Some((ctx, id)) if ctx == context_id => {
                            // No record matches: the lab holds none.
                            accepted(ctx)
                                .map(|sop| (ctx, response(sop, command_field::C_FIND_RSP, id, 0)))
                        }
                        other => {
                            find = other;
                            None
                        }
                    },
                    Event::DataSetFragment { .. } => None,
                    Event::Command {
                        context_id,
                        command,
                    } => {
                        let Some(sop) = accepted(context_id) else {
                            // A command on a context that was not accepted.
                            return Ok(abort(
                                s,
                                AbortRQServiceProviderReason::UnexpectedPduParameter,
                            )
                            .await?);
                        };
                        match reply_to(&command, sop) {
                            Reply::Now(bytes) => Some((context_id, bytes)),
                            Reply::AfterIdentifier(id) => {
                                find = Some((context_id, id));
                                None
                            }
                            Reply::None => None,
                        }
                    }
                };
                if let Some((context_id, command)) = reply {
                    let bytes = pdu::p_data(context_id, PdvKind::Command, &command, peer_max)
                        .map_err(|e| Stop::Io(std::io::Error::other(e)))?;
                    write(s, &bytes).await?;
                }
            }
        }
    }

    /// What to do about one request.
    enum Reply {
        Now(Vec<u8>),
        /// A C-FIND: answer once its identifier is in.
        AfterIdentifier(u16),
        None,
    }

    fn reply_to(command: &CommandSet, sop: &str) -> Reply {
        let (Some(field), Some(id)) = (command.command_field, command.message_id) else {
            return Reply::None; // C-CANCEL-RQ (no message id of its own) or a response: ignore
        };
        match field {
            command_field::C_ECHO_RQ => Reply::Now(response(sop, command_field::C_ECHO_RSP, id, 0)),
            command_field::C_FIND_RQ if command.has_data_set => Reply::AfterIdentifier(id),
            command_field::C_FIND_RQ => Reply::Now(response(
                sop,
                command_field::C_FIND_RSP,
                id,
                UNABLE_TO_PROCESS,
            )),
            command_field::C_CANCEL_RQ => Reply::None,
            f if f & 0x8000 == 0 => {
                Reply::Now(response(sop, f | 0x8000, id, UNRECOGNIZED_OPERATION))
            }
            _ => Reply::None,
        }
    }

    /// The answer to an A-ASSOCIATE-RQ under `policy`: an A-ASSOCIATE-AC, or an A-ASSOCIATE-RJ.
    pub fn answer(rq: &AssociationRQ, policy: Policy) -> UlPdu {
        let reject = |source| {
            UlPdu::AssociationRJ(AssociationRJ {
                result: AssociationRJResult::Permanent,
                source,
            })
        };
        if rq.protocol_version & 1 == 0 {
            return reject(AssociationRJSource::ServiceProviderASCE(
                AssociationRJServiceProviderASCEReason::ProtocolVersionNotSupported,
            ));
        }
        if rq.application_context_name.trim_end_matches('\0') != APPLICATION_CONTEXT {
            return reject(AssociationRJSource::ServiceUser(
                AssociationRJServiceUserReason::ApplicationContextNameNotSupported,
            ));
        }
        if policy == Policy::OwnTitleOnly && rq.called_ae_title.trim() != LAB_AE_TITLE {
            return reject(AssociationRJSource::ServiceUser(
                AssociationRJServiceUserReason::CalledAETitleNotRecognized,
            ));
        }
        UlPdu::AssociationAC(AssociationAC {
            protocol_version: 1,
            calling_ae_title: rq.calling_ae_title.clone(),
            called_ae_title: rq.called_ae_title.clone(),
            application_context_name: APPLICATION_CONTEXT.to_string(),
            presentation_contexts: rq.presentation_contexts.iter().map(negotiate).collect(),
            user_variables: vec![
                UserVariableItem::MaxLength(MAX_PDU_LENGTH),
                UserVariableItem::ImplementationClassUID(LAB_IMPLEMENTATION_CLASS_UID.to_string()),
                UserVariableItem::ImplementationVersionName(
                    LAB_IMPLEMENTATION_VERSION_NAME.to_string(),
                ),
            ],
        })
    }

    /// Accepts a context whose abstract syntax the lab supports, in the first transfer syntax
    /// the requestor proposed that the lab speaks (both little-endian syntaxes).
    fn negotiate(pc: &PresentationContextProposed) -> PresentationContextResult {
        let clean = |s: &str| s.trim_end_matches(['\0', ' ']).to_string();
        let syntax = pc
            .transfer_syntaxes
            .iter()
            .map(|ts| clean(ts))
            .find(|ts| PROPOSED_TRANSFER_SYNTAXES.contains(&ts.as_str()));
        let fallback = PROPOSED_TRANSFER_SYNTAXES[1].to_string();
        let (reason, transfer_syntax) = if !SUPPORTED.contains(&clean(&pc.abstract_syntax).as_str())
        {
            (
                PresentationContextResultReason::AbstractSyntaxNotSupported,
                fallback,
            )
        } else if let Some(ts) = syntax {
            (PresentationContextResultReason::Acceptance, ts)
        } else {
            (
                PresentationContextResultReason::TransferSyntaxesNotSupported,
                fallback,
            )
        };
        PresentationContextResult {
            id: pc.id,
            reason,
            transfer_syntax,
        }
    }

    /// A response command set (Implicit VR Little Endian, group 0000 in ascending order) with
    /// no data set: the lab never sends one.
    pub fn response(sop_class: &str, field: u16, responded_to: u16, status: u16) -> Vec<u8> {
        let mut uid = sop_class.trim_end_matches('\0').as_bytes().to_vec();
        if uid.len() % 2 == 1 {
            uid.push(0);
        }
        let elements: [(u16, Vec<u8>); 5] = [
            (0x0002, uid),                                 // Affected SOP Class UID
            (0x0100, field.to_le_bytes().to_vec()),        // Command Field
            (0x0120, responded_to.to_le_bytes().to_vec()), // Message ID Being Responded To
            (0x0800, NO_DATA_SET.to_le_bytes().to_vec()),  // Command Data Set Type
            (0x0900, status.to_le_bytes().to_vec()),       // Status
        ];
        let mut body = Vec::new();
        for (element, value) in &elements {
            element_to(&mut body, *element, value);
        }
        let mut out = Vec::with_capacity(body.len() + 12);
        element_to(&mut out, 0x0000, &(body.len() as u32).to_le_bytes());
        out.extend(body);
        out
    }

    fn element_to(out: &mut Vec<u8>, element: u16, value: &[u8]) {
        out.extend(0u16.to_le_bytes());
        out.extend(element.to_le_bytes());
        out.extend((value.len() as u32).to_le_bytes());
        out.extend(value);
    }

    /// Reads until `buf` holds one whole PDU of at most `limit` bytes and returns its length.
    /// Only the bytes of that PDU are read, so nothing past it is ever buffered; the header is
    /// checked before the body is read.
    async fn read_frame(s: &mut TcpStream, buf: &mut Vec<u8>, limit: u32) -> Result<usize, Stop> {
        let mut chunk = [0u8; 4096];
        loop {
            let want = match pdu::frame(buf, limit).map_err(Stop::Pdu)? {
                Some(total) if buf.len() >= total => return Ok(total),
                Some(total) => (total - buf.len()).min(chunk.len()),
                None => pdu::HEADER_LEN - buf.len(),
            };
            match timeout(READ_TIMEOUT, s.read(&mut chunk[..want])).await {
                Err(_) => return Err(Stop::Timeout),
                Ok(Ok(0)) => return Err(Stop::Closed),
                Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) => return Err(Stop::Io(e)),
            }
        }
    }

    async fn send(s: &mut TcpStream, pdu: &UlPdu) -> Result<(), Stop> {
        let mut bytes = Vec::new();
        write_pdu(&mut bytes, pdu).map_err(|e| Stop::Io(std::io::Error::other(e)))?;
        write(s, &bytes).await
    }

    async fn write(s: &mut TcpStream, bytes: &[u8]) -> Result<(), Stop> {
        match timeout(READ_TIMEOUT, s.write_all(bytes)).await {
            Err(_) => Err(Stop::Timeout),
            Ok(r) => Ok(r?),
        }
    }

    /// A-ABORT from the service provider (the lab), then close.
    async fn abort(s: &mut TcpStream, reason: AbortRQServiceProviderReason) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        let pdu = UlPdu::AbortRQ {
            source: AbortRQSource::ServiceProvider(reason),
        };
        if write_pdu(&mut bytes, &pdu).is_ok() {
            let _ = timeout(READ_TIMEOUT, s.write_all(&bytes)).await;
        }
        Ok(())
    }

    /// After an A-RELEASE-RP or an A-ASSOCIATE-RJ the requestor closes the transport: wait for
    /// that (briefly, bytes capped), so the answer is never cut off by a reset.
    async fn linger(s: &mut TcpStream) -> Result<(), Stop> {
        let _ = s.shutdown().await;
        let mut chunk = [0u8; 256];
        let mut left = 4096usize;
        while left > 0 {
            match timeout(READ_TIMEOUT, s.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
                _ => break,
            }
        }
        Ok(())
    }
}

/// A MySQL protocol-10 initial handshake packet with the given server version.
fn mysql_greeting(version: &str) -> Vec<u8> {
    let mut p = vec![10u8];
    p.extend_from_slice(version.as_bytes());
    p.push(0);
    p.extend_from_slice(&42u32.to_le_bytes()); // connection id
    p.extend_from_slice(b"abcdefgh\0"); // auth plugin data, part 1
    p.extend_from_slice(&0xf7ffu16.to_le_bytes()); // capabilities (lower)
    p.push(0xff); // charset
    p.extend_from_slice(&2u16.to_le_bytes()); // status
    p.extend_from_slice(&0x81ffu16.to_le_bytes()); // capabilities (upper)
    p.push(21);
    p.extend_from_slice(&[0u8; 10]);
    p.extend_from_slice(b"ijklmnopqrst\0");
    p.extend_from_slice(b"caching_sha2_password\0");
    let len = p.len() as u32;
    let mut packet = len.to_le_bytes()[..3].to_vec();
    packet.push(0); // sequence id
    packet.extend_from_slice(&p);
    packet
}

/// MLLP: 0x0B message 0x1C 0x0D; answers each frame with an ACK naming the lab.
async fn hl7(s: &mut TcpStream) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 1 << 20 {
            return Ok(());
        }
        while let Some(end) = buf.windows(2).position(|w| w == [0x1c, 0x0d]) {
            let frame: Vec<u8> = buf.drain(..end + 2).collect();
            let msg = String::from_utf8_lossy(&frame);
            let control_id = msg
                .split('\r')
                .find(|seg| seg.trim_start_matches('\x0b').starts_with("MSH"))
                .and_then(|msh| msh.split('|').nth(9))
                .unwrap_or("0")
                .to_string();
            let ack = format!(
                "\x0bMSH|^~\\&|LAB-HIS|ST-EXAMPLE|MEDSURFACE|MEDSURFACE|20260101000000||ACK^A01|ACK{control_id}|T|2.5\rMSA|AA|{control_id}\r\x1c\r"
            );
            s.write_all(ack.as_bytes()).await?;
        }
    }
}

/// A minimal HTTP/1.1 server: reads one request head (capped), answers, closes.
async fn http(s: &mut TcpStream, page: fn(&str) -> Vec<u8>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    s.write_all(&page(&path)).await?;
    s.shutdown().await
}

fn response(status: &str, extra: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\n{extra}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn orthanc_page(path: &str) -> Vec<u8> {
    match path {
        "/" => response("307 Temporary Redirect", "Location: /app/explorer.html\r\n", "text/plain", ""),
        "/app/explorer.html" => response(
            "200 OK",
            "",
            "text/html",
            "<!DOCTYPE html><html><head><title>Orthanc Explorer</title></head><body><div id=\"lookup\">Lab simulation</div></body></html>",
        ),
        _ => response("404 Not Found", "", "text/plain", ""),
    }
}

fn openemr_page(path: &str) -> Vec<u8> {
    match path {
        "/" | "/interface/login/login.php" => response(
            "200 OK",
            "Server: Apache/2.4.57 (Debian)\r\nSet-Cookie: OpenEMR=lab; path=/\r\n",
            "text/html",
            "<html><head><title>OpenEMR Login</title></head><body><form>Username Password</form></body></html>",
        ),
        _ => response("404 Not Found", "Server: Apache/2.4.57 (Debian)\r\n", "text/plain", ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_unique_names_and_parse_back() {
        let mut names: Vec<&str> = KINDS.iter().map(|(_, n, _)| *n).collect();
        for (k, n, what) in KINDS {
            assert_eq!(Kind::parse(n), Some(*k));
            assert!(!what.is_empty());
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), KINDS.len());
    }

    #[test]
    fn lab_refuses_non_loopback_addresses() {
        assert!(LabService::parse("silent@192.0.2.1:80").is_err());
        assert!(LabService::parse("silent@127.3.2.1:80").is_ok());
        assert!(LabService::parse("nope@127.0.0.1:80").is_err());
        assert!(LabService::parse("silent127.0.0.1:80").is_err());
    }

    #[test]
    fn a_fleet_file_lists_services_and_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.txt");
        std::fs::write(
            &path,
            "# a fleet\ndicom-open@127.91.0.1:11112\n\ndicom-strict@127.91.0.2:11112 # strict\n",
        )
        .unwrap();
        let arg = format!("@{}", path.display());
        let got = services(&[arg.clone(), "silent@127.0.0.1:0".into()]).unwrap();
        let kinds: Vec<_> = got.iter().map(|s| (s.kind, s.addr.to_string())).collect();
        assert_eq!(
            kinds,
            [
                (Kind::DicomOpen, "127.91.0.1:11112".to_string()),
                (Kind::DicomStrict, "127.91.0.2:11112".to_string()),
                (Kind::Silent, "127.0.0.1:0".to_string()),
            ]
        );
        std::fs::write(
            &path,
            "dicom-open@127.91.0.1:11112\ndicom-open@192.0.2.1:11112\n",
        )
        .unwrap();
        let err = format!("{:#}", services(&[arg]).unwrap_err());
        assert!(
            err.contains("fleet.txt:2:") && err.contains("loopback"),
            "{err}"
        );
        assert!(services(&["@/nonexistent/fleet".into()]).is_err());
    }

    #[test]
    fn mysql_greeting_length_prefix_matches_payload() {
        let g = mysql_greeting("8.0.36-lab");
        let len = u32::from_le_bytes([g[0], g[1], g[2], 0]) as usize;
        assert_eq!(len, g.len() - 4);
        assert_eq!(g[4], 10);
    }

    /// The lab's DICOM servers, checked with the live probe of `medsurface scan` and with raw
    /// PDUs: the verdicts the demo and the fleet benchmark rely on, and hostile input.
    mod dicom_servers {
        use std::time::Duration;

        use medsurface_proto::dicom::dimse::{command_field, CommandSet};
        use medsurface_scan::probes::dicom::probe;
        use medsurface_scan::ProbeContext;
        use serde_json::json;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio::net::TcpStream;

        use super::super::dicom::{
            response, LAB_AE_TITLE, LAB_IMPLEMENTATION_CLASS_UID, LAB_IMPLEMENTATION_VERSION_NAME,
        };
        use super::super::{serve, Kind, LabService};

        async fn start(kind: Kind) -> std::net::SocketAddr {
            let addr = "127.0.0.1:0".parse().unwrap();
            serve(LabService { kind, addr }).await.unwrap()
        }

        fn context(called_ae: &str) -> ProbeContext {
            let mut ctx = ProbeContext::default();
            ctx.dicom.called_ae = called_ae.to_string();
            ctx.dicom.follow_up_gap = Duration::ZERO;
            ctx
        }

        async fn details(kind: Kind, called_ae: &str) -> medsurface_model::Details {
            let addr = start(kind).await;
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let out = probe(&mut stream, &context(called_ae)).await;
            assert_eq!(out.protocol.as_deref(), Some("dicom"), "{:?}", out.details);
            out.details
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn dicom_open_accepts_any_title_and_answers_queries_with_nothing() {
            let d = details(Kind::DicomOpen, "ANY-SCP").await;
            for (key, want) in [
                ("dicom.association", json!("accepted")),
                ("dicom.accepts_any_ae", json!(true)),
                ("dicom.accepts_any_calling_ae", json!(true)),
                ("dicom.echo_status", json!("success")),
                ("dicom.query_without_auth", json!(true)),
                ("dicom.query_status", json!("success")),
                (
                    "dicom.implementation_class_uid",
                    json!(LAB_IMPLEMENTATION_CLASS_UID),
                ),
                (
                    "dicom.implementation_version_name",
                    json!(LAB_IMPLEMENTATION_VERSION_NAME),
                ),
            ] {
                assert_eq!(d.get(key), Some(&want), "{key} in {d:?}");
            }
            assert!(!d.contains_key("dicom.query_ignores_keys"), "{d:?}");
            assert!(!d.contains_key("dicom.error"), "{d:?}");
            assert_eq!(d["dicom.contexts"]["patient-root-find"], json!("accepted"));
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn dicom_strict_rejects_other_called_titles_with_reason_7() {
            let d = details(Kind::DicomStrict, "ANY-SCP").await;
            for (key, want) in [
                ("dicom.association", json!("rejected")),
                ("dicom.reject_result", json!("rejected-permanent")),
                ("dicom.reject_source", json!("service-user")),
                (
                    "dicom.reject_reason",
                    json!("called-ae-title-not-recognized"),
                ),
                ("dicom.accepts_any_ae", json!(false)),
            ] {
                assert_eq!(d.get(key), Some(&want), "{key} in {d:?}");
            }
            assert!(!d.contains_key("dicom.query_without_auth"), "{d:?}");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn dicom_strict_serves_its_own_title() {
            let d = details(Kind::DicomStrict, LAB_AE_TITLE).await;
            for (key, want) in [
                ("dicom.association", json!("accepted")),
                // The random called title of the follow-up association is refused.
                ("dicom.accepts_any_ae", json!(false)),
                ("dicom.accepts_any_calling_ae", json!(true)),
                ("dicom.echo_status", json!("success")),
                ("dicom.query_without_auth", json!(true)),
            ] {
                assert_eq!(d.get(key), Some(&want), "{key} in {d:?}");
            }
        }

        /// Sends `bytes` and closes its side, then reads what the server says until it closes (capped, with a
        /// deadline so a broken server fails the test instead of hanging it).
        async fn exchange(kind: Kind, bytes: &[u8]) -> Vec<u8> {
            let addr = start(kind).await;
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(bytes).await.unwrap();
            s.shutdown().await.unwrap();
            let mut got = Vec::new();
            let read = async {
                let mut chunk = [0u8; 1024];
                while let Ok(n) = s.read(&mut chunk).await {
                    if n == 0 || got.len() > 64 * 1024 {
                        break;
                    }
                    got.extend_from_slice(&chunk[..n]);
                }
            };
            tokio::time::timeout(Duration::from_secs(10), read)
                .await
                .expect("the server closes the connection");
            got
        }

        const PROVIDER_ABORT: u8 = 2;

        fn is_provider_abort(b: &[u8]) -> bool {
            b.len() == 10 && b[0] == 7 && b[8] == PROVIDER_ABORT
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn dicom_lab_survives_garbage() {
            // Not DICOM at all: closed without a word.
            let got = exchange(Kind::DicomOpen, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
            assert!(got.is_empty(), "{got:?}");
            // A 4 GiB A-ASSOCIATE-RQ: refused from its header.
            let got = exchange(Kind::DicomOpen, &[1, 0, 0xff, 0xff, 0xff, 0xff]).await;
            assert!(is_provider_abort(&got), "{got:?}");
            // A well-framed request full of garbage.
            let mut junk = vec![1, 0, 0, 0, 0, 80];
            junk.extend([0xAB; 80]);
            let got = exchange(Kind::DicomStrict, &junk).await;
            assert!(is_provider_abort(&got), "{got:?}");
            // Data before any association.
            let got = exchange(Kind::DicomOpen, &[4, 0, 0, 0, 0, 6, 0, 0, 0, 2, 1, 3]).await;
            assert!(is_provider_abort(&got), "{got:?}");
            // A request cut short, then the client leaves: closed, no answer.
            let got = exchange(Kind::DicomOpen, &[1, 0, 0, 0, 0, 200, 0, 1]).await;
            assert!(got.is_empty(), "{got:?}");
        }

        /// Mutated association requests (flipped bytes, cut items, lengths that lie inside a
        /// well-framed PDU) through the path of the lab's first read: no panic, and an answer
        /// only for what decodes as an A-ASSOCIATE-RQ.
        #[test]
        fn mutated_requests_never_panic_the_request_reader() {
            use dicom_ul::pdu::{read_pdu, Pdu as UlPdu};
            use medsurface_proto::dicom::pdu::{frame, AssociateRequest};

            use super::super::dicom::{answer, Policy, REQUEST_LIMIT};

            let seed = AssociateRequest::new().encode().unwrap();
            let mut state = 0x9e37_79b9_7f4a_7c15u64;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            for _ in 0..50_000 {
                let mut bytes = seed.clone();
                for _ in 0..1 + next() % 4 {
                    let i = (next() as usize) % bytes.len();
                    bytes[i] = next() as u8;
                }
                if next() % 3 == 0 {
                    let cut = 6 + (next() as usize) % (bytes.len() - 6);
                    bytes.truncate(cut);
                    let len = (cut - 6) as u32;
                    bytes[2..6].copy_from_slice(&len.to_be_bytes());
                }
                let Ok(Some(total)) = frame(&bytes, REQUEST_LIMIT) else {
                    continue;
                };
                if bytes.len() < total {
                    continue;
                }
                if let Ok(Some(UlPdu::AssociationRQ(rq))) =
                    read_pdu(&bytes[..total], REQUEST_LIMIT, true)
                {
                    let _ = answer(&rq, Policy::OwnTitleOnly);
                    let _ = answer(&rq, Policy::AnyTitle);
                }
            }
        }

        #[test]
        fn responses_read_back_as_final_answers_without_data() {
            let rsp = response("1.2.840.10008.1.1", command_field::C_ECHO_RSP, 7, 0x0000);
            let c = CommandSet::parse(&rsp).unwrap();
            assert_eq!(c.command_field, Some(command_field::C_ECHO_RSP));
            assert_eq!(c.message_id_being_responded_to, Some(7));
            assert_eq!(c.status.map(|s| s.0), Some(0));
            assert!(!c.has_data_set);
            assert_eq!(rsp.len() % 2, 0);
            let group_length = u32::from_le_bytes([rsp[8], rsp[9], rsp[10], rsp[11]]) as usize;
            assert_eq!(group_length, rsp.len() - 12);
        }
    }
}
