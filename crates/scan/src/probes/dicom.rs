//! The DICOM probe: is it DICOM, who made it, does it accept any AE title, does it answer
//! C-ECHO, does it allow queries without authentication — without retrieving a record.
//!
//! One session is an association and what follows on it:
//! A-ASSOCIATE-RQ (ours, naming medsurface) → the answer's facts (A-ASSOCIATE-AC, -RJ or
//! A-ABORT; anything else is `not-dicom`, silence is `no-answer`) → C-ECHO → a Study Root
//! C-FIND whose only key is a random Patient ID that cannot match (success proves query access
//! and returns nothing) → the opt-in study count (a universal query whose answers are counted
//! and dropped) → A-RELEASE, or A-ABORT when anything went wrong. Every read has a deadline
//! and a byte cap ([`pdu::frame`] checks a declared PDU length as soon as its header is in,
//! and at most one read of `READ_CHUNK` bytes past it is ever made),
//! every write a deadline, and the whole probe a budget below the engine's `probe_timeout`.
//!
//! The session on the engine's connection is followed, when it tells us something, by short
//! extra associations: a random called AE title and a random calling AE title (does the
//! server check titles at all?), and, opt-in, the titles of a known list until one passes the
//! called-AE check, in which case the session is run again under that title. Those extra
//! connections are dialled here, sequentially and paced by [`DicomSettings::follow_up_gap`]:
//! they go through `ctx.dialer`, the engine's dialer, so they pass the same rate limiter as
//! every other connection of the scan (at most two per service by default). The gap is waited
//! out with no socket open (the engine's connection is closed as soon as the main session is
//! over) and without the engine's probe slot ([`Slot::pause`]), so a fleet of servers is not
//! verified in waves of sleeping probes; time spent queueing for the slot afterwards moves the
//! probe's budget, so a busy scan does not cut follow-ups short.
//!
//! Answers are read from command sets only; data sets are reduced to their length by the
//! parser before they reach this module, so no identifier a server sends is ever kept. All
//! facts go through `medsurface_proto::dicom::details`, the same writer the Shodan importer
//! uses.

use std::borrow::{BorrowMut, Cow};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use medsurface_model::text::printable;
use medsurface_model::Details;
use medsurface_proto::dicom::details::{self, keys, AssociationAnswer, Verdict};
use medsurface_proto::dicom::dimse::{
    self, CommandSet, Event, MessageReader, NonMatchingPatientId, StatusClass, StudyQuery,
};
use medsurface_proto::dicom::pdu::{
    self, AssociateAccept, AssociateRequest, EncodeError, Pdu, PduError, PdvKind,
    PROPOSED_CONTEXTS, STUDY_ROOT_FIND, VERIFICATION,
};
use medsurface_proto::dicom::{AeTitle, DEFAULT_CALLED_AE};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, timeout_at, Instant};

use super::{Probe, ProbeContext, ProbeFuture, ProbeOutput};
use crate::outcome::classify_io_error;
use crate::ports::MEDICAL_PROFILE;
use crate::slot::{Resume, Slot};

/// Options of the DICOM probe (part of [`ProbeContext`]). The calling AE title is
/// `ProbeContext::ae_title`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DicomSettings {
    /// Called AE title of the main association (`--called-ae`; default `ANY-SCP`).
    pub called_ae: String,
    /// Whether to try a random called and a random calling AE title in extra associations.
    pub ae_checks: AeChecks,
    /// Opt-in (`--ae-titles FILE`): titles tried as the called AE when the main association
    /// is rejected, in order, until one is accepted. Empty: off.
    pub ae_titles: Vec<String>,
    /// Opt-in (`--count-studies`): count the studies a universal query matches.
    pub study_count: StudyCount,
    /// When to speak DICOM inside TLS (`--dicom-tls`).
    pub tls: DicomTls,
    /// Pause between two associations with the same service.
    pub follow_up_gap: Duration,
}

/// Whether the probe opens extra associations to test AE title checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeChecks {
    Off,
    RandomTitles,
}

/// The opt-in study count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StudyCount {
    Off,
    /// Count up to `cap` matches, then cancel the query.
    Count {
        cap: u32,
    },
}

/// When DICOM runs inside TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DicomTls {
    /// TLS on 2762 (DICOM TLS, IANA) only.
    Port2762,
    /// TLS on every port the DICOM probe runs on (`--dicom-tls`).
    Always,
    Never,
}

impl Default for DicomSettings {
    fn default() -> Self {
        DicomSettings {
            called_ae: DEFAULT_CALLED_AE.to_string(),
            ae_checks: AeChecks::RandomTitles,
            ae_titles: Vec::new(),
            study_count: StudyCount::Off,
            tls: DicomTls::Port2762,
            follow_up_gap: Duration::from_millis(100),
        }
    }
}

/// The most pending responses read for one query before it is abandoned (a server that
/// ignores C-CANCEL and streams records forever is cut off here or at the deadline).
const MAX_PENDING_READ: u32 = 100_000;

/// The most bytes one read of a session asks for: more than the answers a probe expects
/// (an A-ASSOCIATE-AC or a response command is a few hundred bytes), small enough that a
/// thousand sessions in flight keep little memory.
const READ_CHUNK: usize = 1024;

/// After a non-DICOM answer, how long a pause ends its banner (as in the banner probe).
const BANNER_QUIET_GAP: Duration = Duration::from_millis(150);

/// Time kept in reserve below `probe_timeout` so the probe returns what it saw before the
/// engine's safety net cancels it.
const BUDGET_RESERVE: Duration = Duration::from_millis(250);

/// Talks DICOM to the ports of the medical profile whose service is DICOM.
#[derive(Debug, Clone, Copy, Default)]
pub struct DicomProbe;

impl Probe for DicomProbe {
    fn name(&self) -> &'static str {
        "dicom"
    }

    fn wants(&self, port: u16) -> bool {
        MEDICAL_PROFILE
            .iter()
            .any(|p| p.port == port && p.service.starts_with("dicom"))
    }

    fn run<'a>(&'a self, stream: &'a mut TcpStream, ctx: &'a ProbeContext) -> ProbeFuture<'a> {
        Box::pin(probe(stream, ctx))
    }

    fn run_in_slot<'a>(
        &'a self,
        stream: TcpStream,
        slot: Slot,
        ctx: &'a ProbeContext,
    ) -> ProbeFuture<'a> {
        Box::pin(probe_in_slot(stream, slot, ctx))
    }
}

/// Runs the DICOM probe on a connected stream (the entry point tests use directly). The
/// stream stays open until the caller drops it; the pauses before follow-up connections are
/// plain sleeps, cut short when the scan of `ctx.dialer` stops.
pub async fn probe(stream: &mut TcpStream, ctx: &ProbeContext) -> ProbeOutput {
    probe_in_slot(stream, Slot::unbounded(ctx.dialer.stop_signal()), ctx).await
}

/// The probe as the engine runs it: `stream` is closed when the main session is over (when
/// owned), and `slot` is lent back during each pause before a follow-up connection.
pub async fn probe_in_slot<S>(mut stream: S, slot: Slot, ctx: &ProbeContext) -> ProbeOutput
where
    S: BorrowMut<TcpStream>,
{
    let budget_end = Instant::now() + ctx.probe_timeout.saturating_sub(BUDGET_RESERVE);
    let peer = stream.borrow_mut().peer_addr().ok();
    let port = peer.map_or(0, |p| p.port());
    let settings = &ctx.dicom;
    let mut details = Details::new();

    let (calling, called) = match (
        AeTitle::new(&ctx.ae_title),
        AeTitle::new(&settings.called_ae),
    ) {
        (Ok(calling), Ok(called)) => (calling, called),
        _ => {
            // The plan validates titles; a bad one here is a wiring error, recorded not panicked.
            details.insert(keys::ERROR.into(), json!("invalid-ae-title-setting"));
            return ProbeOutput {
                protocol: None,
                details,
            };
        }
    };
    details.insert(keys::CALLING_AE.into(), json!(calling.as_str()));
    details.insert(keys::CALLED_AE.into(), json!(called.as_str()));

    let use_tls = match settings.tls {
        DicomTls::Always => true,
        DicomTls::Port2762 => port == 2762,
        DicomTls::Never => false,
    };
    let plan = Session {
        calling: calling.clone(),
        called: called.clone(),
        queries: Queries::All,
    };
    let main = if use_tls {
        match tls::connect(stream.borrow_mut(), ctx, budget_end).await {
            Ok((mut tls_stream, facts)) => {
                tls::write_facts(&mut details, &facts);
                run_session(&mut tls_stream, ctx, &plan, budget_end).await
            }
            Err(why) => {
                details.insert(keys::TLS.into(), json!(false));
                details.insert(keys::ERROR.into(), json!(format!("tls-{why}")));
                return ProbeOutput {
                    protocol: None,
                    details,
                };
            }
        }
    } else {
        details.insert(keys::TLS.into(), json!(false));
        run_session(stream.borrow_mut(), ctx, &plan, budget_end).await
    };
    // Done with the engine's connection: closed now, not after the follow-ups (when owned).
    drop(stream);
    main.write(&mut details);
    let verdict = main.answer.verdict();
    let is_dicom = matches!(
        verdict,
        Verdict::Accepted | Verdict::Rejected | Verdict::Aborted
    );

    if let Some(peer) = peer.filter(|_| is_dicom) {
        let mut dialer = Dialer {
            peer,
            tls: use_tls,
            ctx,
            budget_end,
            slot,
        };
        follow_ups(&mut dialer, &plan, &main, &mut details).await;
    }
    ProbeOutput {
        protocol: is_dicom.then(|| "dicom".to_string()),
        details,
    }
}

/// What one association should do after it is accepted.
#[derive(Debug, Clone)]
struct Session {
    calling: AeTitle,
    called: AeTitle,
    queries: Queries,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Queries {
    /// Echo, the non-matching query, and the opt-in count.
    All,
    /// Association only (AE title checks): release right after the answer.
    None,
}

/// What one session saw.
#[derive(Debug, Clone)]
struct Outcome {
    answer: AssociationAnswer,
    echo: Option<dimse::Status>,
    query: Option<QueryOutcome>,
    count: Option<CountOutcome>,
    /// Why the session ended early (a protocol fault or a timeout), by kind.
    error: Option<String>,
    /// What a service that does not speak DICOM said instead (capped), kept as its banner.
    banner: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy)]
struct QueryOutcome {
    status: dimse::Status,
    pending: u32,
}

#[derive(Debug, Clone, Copy)]
struct CountOutcome {
    studies: u32,
    capped: bool,
}

impl Outcome {
    fn new(answer: AssociationAnswer) -> Self {
        Outcome {
            answer,
            echo: None,
            query: None,
            count: None,
            error: None,
            banner: None,
        }
    }

    fn write(&self, details: &mut Details) {
        details::write_answer(details, &self.answer, Some(&PROPOSED_CONTEXTS));
        if let Some(status) = self.echo {
            details.insert(keys::ECHO_STATUS.into(), json!(status.name()));
        }
        if let AssociationAnswer::Accepted(ac) = &self.answer {
            // A refused context is an answer too: no query access through it.
            let find_accepted = ac.accepted_transfer_syntax(STUDY_ROOT_FIND.id).is_some();
            match &self.query {
                Some(q) => {
                    let class = q.status.class();
                    let allowed = class == StatusClass::Success
                        || (class == StatusClass::Cancel && q.pending > 0);
                    details.insert(keys::QUERY_WITHOUT_AUTH.into(), json!(allowed));
                    details.insert(keys::QUERY_STATUS.into(), json!(q.status.name()));
                    if q.pending > 0 {
                        details.insert(keys::QUERY_IGNORES_KEYS.into(), json!(true));
                    }
                }
                None if !find_accepted => {
                    details.insert(keys::QUERY_WITHOUT_AUTH.into(), json!(false));
                }
                None => {}
            }
        }
        if let Some(c) = self.count {
            details.insert(keys::STUDY_COUNT.into(), json!(c.studies));
            if c.capped {
                details.insert(keys::STUDY_COUNT_CAPPED.into(), json!(true));
            }
        }
        if let Some(e) = &self.error {
            details.insert(keys::ERROR.into(), json!(e));
        }
        if let Some(banner) = &self.banner {
            // The banner probe's keys: a DICOM port answered by something else is still seen.
            details.insert("banner.bytes".into(), json!(banner.len()));
            details.insert("banner.text".into(), json!(printable(banner, banner.len())));
        }
    }
}

/// The extra associations: random titles, then the opt-in list.
async fn follow_ups(
    dialer: &mut Dialer<'_>,
    plan: &Session,
    main: &Outcome,
    details: &mut Details,
) {
    let settings = &dialer.ctx.dicom;
    let main_accepted = main.answer.verdict() == Verdict::Accepted;
    if settings.ae_checks == AeChecks::RandomTitles {
        if main_accepted {
            let answer = match AeTitle::random("MSX") {
                Ok(called) => dialer.associate(&plan.calling, &called).await,
                Err(_) => None,
            };
            if let Some(verdict) = answer {
                details.insert(
                    keys::ACCEPTS_ANY_AE.into(),
                    json!(verdict == Verdict::Accepted),
                );
            }
            let answer = match AeTitle::random("MSC") {
                Ok(calling) => dialer.associate(&calling, &plan.called).await,
                Err(_) => None,
            };
            if let Some(verdict) = answer {
                details.insert(
                    keys::ACCEPTS_ANY_CALLING_AE.into(),
                    json!(verdict == Verdict::Accepted),
                );
            }
        } else if let AssociationAnswer::Rejected(rj) = &main.answer {
            // A server that refuses the de facto "anyone" title checks the called title (the
            // same conclusion as nmap's dicom-ping); a reject about the calling title says the
            // calling title is checked.
            details.insert(keys::ACCEPTS_ANY_AE.into(), json!(false));
            if rj.source == 1 && rj.reason == 3 {
                details.insert(keys::ACCEPTS_ANY_CALLING_AE.into(), json!(false));
            }
        }
    }
    if !main_accepted && !settings.ae_titles.is_empty() {
        let mut tried = 0u32;
        for title in &settings.ae_titles {
            let Ok(called) = AeTitle::new(title) else {
                continue;
            };
            if called == plan.called {
                continue;
            }
            tried += 1;
            let session = Session {
                called: called.clone(),
                ..plan.clone()
            };
            let Some(outcome) = dialer.session(&session).await else {
                break;
            };
            if outcome.answer.verdict() == Verdict::Accepted {
                // What the server does for someone who knows a title from the manual: its
                // fingerprint, echo and query facts. `dicom.association` stays the verdict for
                // the configured called title, comparable with nmap's dicom-ping.
                let main_verdict = details.get(keys::ASSOCIATION).cloned();
                outcome.write(details);
                if let Some(v) = main_verdict {
                    details.insert(keys::ASSOCIATION.into(), v);
                }
                details.insert(keys::ACCEPTED_AE_TITLE.into(), json!(called.as_str()));
                break;
            }
        }
        details.insert(keys::AE_TITLES_TRIED.into(), json!(tried));
    }
}

/// Opens the follow-up connections to the same service, one at a time, each after a pause
/// without a socket or the probe's slot.
struct Dialer<'a> {
    peer: SocketAddr,
    tls: bool,
    ctx: &'a ProbeContext,
    /// The probe's own deadline; moved by the time spent queueing for the slot.
    budget_end: Instant,
    slot: Slot,
}

impl Dialer<'_> {
    /// An association only: its verdict, or `None` when there was no time or no connection.
    async fn associate(&mut self, calling: &AeTitle, called: &AeTitle) -> Option<Verdict> {
        let plan = Session {
            calling: calling.clone(),
            called: called.clone(),
            queries: Queries::None,
        };
        Some(self.session(&plan).await?.answer.verdict())
    }

    /// One session on a new connection after the gap, or `None` when the scan stops, there is
    /// no time left or no connection.
    async fn session(&mut self, plan: &Session) -> Option<Outcome> {
        match self.slot.pause(self.ctx.dicom.follow_up_gap).await {
            Resume::Stopped => return None,
            Resume::Resumed { waited } => self.budget_end += waited,
        }
        let left = self.budget_end.saturating_duration_since(Instant::now());
        if left < self.ctx.read_timeout {
            return None;
        }
        // Through the scan's rate limiter (it waits for its turn, then connects within the
        // scan's connect timeout); the probe's own budget bounds the whole wait.
        let mut stream = timeout(left, self.ctx.dialer.connect(self.peer))
            .await
            .ok()?
            .ok()?;
        let _ = stream.set_nodelay(true);
        let outcome = if self.tls {
            let (mut tls_stream, _) = tls::connect(&mut stream, self.ctx, self.budget_end)
                .await
                .ok()?;
            run_session(&mut tls_stream, self.ctx, plan, self.budget_end).await
        } else {
            run_session(&mut stream, self.ctx, plan, self.budget_end).await
        };
        let _ = stream.set_zero_linger();
        Some(outcome)
    }
}

/// Why a step of a session stopped.
#[derive(Debug)]
enum Fault {
    Timeout,
    Closed,
    Io(String),
    Pdu(PduError),
    Command,
    Unexpected(&'static str),
    Encode,
}

impl Fault {
    fn kind(&self) -> String {
        match self {
            Fault::Timeout => "timeout".into(),
            Fault::Closed => "closed".into(),
            Fault::Io(reason) => format!("io-{reason}"),
            Fault::Pdu(PduError::NotDicom { .. }) => "not-dicom".into(),
            Fault::Pdu(PduError::TooLarge { .. }) => "pdu-too-large".into(),
            Fault::Pdu(PduError::Malformed { .. }) => "malformed-pdu".into(),
            Fault::Command => "malformed-command".into(),
            Fault::Unexpected(pdu) => format!("unexpected-{}", pdu.to_ascii_lowercase()),
            Fault::Encode => "encode".into(),
        }
    }
}

/// A DICOM connection: a stream, the bytes read past the last PDU, the read limit.
struct Wire<'s, S> {
    stream: &'s mut S,
    buf: Vec<u8>,
    limit: u32,
    step: Duration,
    budget_end: Instant,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire<'_, S> {
    fn deadline(&self) -> Instant {
        (Instant::now() + self.step).min(self.budget_end)
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), Fault> {
        let deadline = self.deadline();
        match timeout_at(deadline, self.stream.write_all(bytes)).await {
            Err(_) => Err(Fault::Timeout),
            Ok(Err(e)) => Err(io_fault(&e)),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// The next PDU, read under the step deadline and the byte limit.
    ///
    /// Each read asks for up to [`READ_CHUNK`] bytes, so the header and body of a small PDU
    /// (every answer a DICOM probe expects) come in one system call, not two; what follows the
    /// PDU stays in `buf` for the next call. The bytes land in `buf`'s spare capacity: no
    /// zeroed scratch buffer, and no chunk-sized array in the probe's future (which is moved
    /// when it is boxed).
    async fn next(&mut self) -> Result<Pdu, Fault> {
        let deadline = self.deadline();
        loop {
            // `parse` checks the declared length against `limit` as soon as the header is in,
            // so a read only happens while the PDU at the front is incomplete and allowed:
            // never more than one PDU (<= limit + header) plus one chunk in memory.
            match pdu::parse(&self.buf, self.limit) {
                Ok(Some((pdu, used))) => {
                    self.buf.drain(..used);
                    return Ok(pdu);
                }
                Ok(None) => {}
                Err(e) => return Err(Fault::Pdu(e)),
            }
            self.buf.reserve(READ_CHUNK);
            let mut limited = (&mut *self.stream).take(READ_CHUNK as u64);
            match timeout_at(deadline, limited.read_buf(&mut self.buf)).await {
                Err(_) => return Err(Fault::Timeout),
                Ok(Ok(0)) => return Err(Fault::Closed),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(io_fault(&e)),
            }
        }
    }

    /// Best effort: tell the peer we are leaving.
    async fn abort(&mut self) {
        let _ = timeout(
            Duration::from_millis(200),
            self.stream.write_all(&pdu::abort()),
        )
        .await;
    }

    /// After a non-DICOM answer: what the peer said, up to `cap` bytes, read until a short
    /// pause (the banner probe's rule) or the step deadline.
    async fn banner(&mut self, cap: usize) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        out.truncate(cap);
        let deadline = self.deadline();
        let mut chunk = [0u8; 1024];
        while out.len() < cap {
            let until = deadline.min(Instant::now() + BANNER_QUIET_GAP);
            let want = (cap - out.len()).min(chunk.len());
            match timeout_at(until, self.stream.read(&mut chunk[..want])).await {
                Ok(Ok(n)) if n > 0 => out.extend_from_slice(&chunk[..n]),
                _ => break,
            }
        }
        out
    }

    /// Best effort: close our side of the transport (FIN, or TLS close_notify and FIN).
    async fn close(&mut self) {
        let _ = timeout(Duration::from_millis(200), self.stream.shutdown()).await;
    }
}

fn io_fault(e: &std::io::Error) -> Fault {
    Fault::Io(
        classify_io_error(e)
            .reason
            .map_or_else(|| "error".to_string(), |r| r.into_owned()),
    )
}

/// One association from request to release.
async fn run_session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    ctx: &ProbeContext,
    plan: &Session,
    budget_end: Instant,
) -> Outcome {
    let request = AssociateRequest::new()
        .calling_ae(plan.calling.clone())
        .called_ae(plan.called.clone());
    let encoded = match plan.queries {
        Queries::All => encoded_main_request(&request),
        // Random titles: a new request every time, not worth keeping.
        Queries::None => request.encode().map(Arc::from),
    };
    let mut wire = Wire {
        stream,
        buf: Vec::new(),
        limit: request.announced_max_pdu_length(),
        step: ctx.read_timeout,
        budget_end,
    };
    let Ok(rq) = encoded else {
        let mut o = Outcome::new(AssociationAnswer::NoAnswer);
        o.error = Some(Fault::Encode.kind());
        return o;
    };
    if let Err(f) = wire.send(&rq).await {
        let mut o = Outcome::new(AssociationAnswer::NoAnswer);
        o.error = Some(f.kind());
        return o;
    }
    let ac = match wire.next().await {
        Ok(Pdu::AssociateAc(ac)) => ac,
        Ok(Pdu::AssociateRj(rj)) => {
            wire.close().await;
            return Outcome::new(AssociationAnswer::Rejected(rj));
        }
        Ok(Pdu::Abort(a)) => {
            wire.close().await;
            return Outcome::new(AssociationAnswer::Aborted(a));
        }
        Ok(other) => {
            // A PDU, but not an answer to a request: DICOM-shaped, not a DICOM acceptor.
            let mut o = Outcome::new(AssociationAnswer::NotDicom);
            o.error = Some(Fault::Unexpected(other.name()).kind());
            wire.abort().await;
            return o;
        }
        Err(Fault::Pdu(PduError::NotDicom { .. })) => {
            let mut o = Outcome::new(AssociationAnswer::NotDicom);
            o.error = Some("not-dicom".into());
            o.banner = Some(wire.banner(ctx.banner_cap).await);
            return o;
        }
        Err(f @ Fault::Pdu(_)) => {
            // A PDU type byte, then a lie (a 4 GiB length) or garbage: a protocol fault.
            let mut o = Outcome::new(AssociationAnswer::NotDicom);
            o.error = Some(f.kind());
            return o;
        }
        Err(f) => {
            let mut o = Outcome::new(AssociationAnswer::NoAnswer);
            o.error = Some(f.kind());
            return o;
        }
    };
    // The answer goes in once the steps are done (they read it): no copy of the AC.
    let mut outcome = Outcome::new(AssociationAnswer::NoAnswer);
    let result = match plan.queries {
        Queries::None => Ok(()),
        Queries::All => dimse_steps(&mut wire, ctx, &ac, &mut outcome).await,
    };
    outcome.answer = AssociationAnswer::Accepted(ac);
    match result {
        Ok(()) => {
            if release(&mut wire).await.is_err() {
                wire.abort().await;
            }
        }
        Err(f) => {
            outcome.error = Some(f.kind());
            wire.abort().await;
        }
    }
    // After A-RELEASE-RP the acceptor waits for the requestor to close the transport (PS3.8
    // state Sta13); a single-threaded server (DCMTK storescp) serves no one else until then.
    wire.close().await;
    outcome
}

/// The encoded A-ASSOCIATE-RQ for a session with queries. Every main association of a scan
/// sends the same request (same titles), and encoding it anew was a measurable share of a
/// probe's CPU, so the last one encoded is kept (one entry: a scan has one pair of titles for
/// its main associations; the opt-in title list only costs a miss). Encoding is a pure
/// function of the request, so a kept request is exactly what encoding would give.
fn encoded_main_request(request: &AssociateRequest) -> Result<Arc<[u8]>, EncodeError> {
    static LAST: Mutex<Option<(AssociateRequest, Arc<[u8]>)>> = Mutex::new(None);
    if let Some((last, bytes)) = LAST.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
        if last == request {
            return Ok(Arc::clone(bytes));
        }
    }
    let bytes: Arc<[u8]> = request.encode()?.into();
    *LAST.lock().unwrap_or_else(PoisonError::into_inner) =
        Some((request.clone(), Arc::clone(&bytes)));
    Ok(bytes)
}

/// C-ECHO, the non-matching C-FIND, and the opt-in count, each when its context was accepted.
async fn dimse_steps<S: AsyncRead + AsyncWrite + Unpin>(
    wire: &mut Wire<'_, S>,
    ctx: &ProbeContext,
    ac: &AssociateAccept,
    outcome: &mut Outcome,
) -> Result<(), Fault> {
    let peer_max = ac.max_pdu_length;
    let mut reader = MessageReader::new();
    if ac.accepted_transfer_syntax(VERIFICATION.id).is_some() {
        let rq = pdu::p_data(VERIFICATION.id, PdvKind::Command, echo_command(), peer_max)
            .map_err(|_| Fault::Encode)?;
        wire.send(&rq).await?;
        let (status, _) = await_final(wire, &mut reader, 1, Cancel::Never).await?;
        outcome.echo = Some(status);
    }
    let Some(ts) = ac.accepted_transfer_syntax(STUDY_ROOT_FIND.id) else {
        return Ok(());
    };
    let ts = ts.to_string();
    let id = NonMatchingPatientId::random().map_err(|_| Fault::Encode)?;
    send_find(wire, 2, &StudyQuery::NonMatching(id), &ts, peer_max).await?;
    // A server that answers a query that cannot match with records ignores the keys: cancel
    // at the first record, and drop what it sends meanwhile.
    let (status, pending) = await_final(wire, &mut reader, 2, Cancel::AtPending(1)).await?;
    outcome.query = Some(QueryOutcome { status, pending });
    if let StudyCount::Count { cap } = ctx.dicom.study_count {
        if status.class() == StatusClass::Success {
            send_find(wire, 3, &StudyQuery::CountAll, &ts, peer_max).await?;
            let (_, studies) =
                await_final(wire, &mut reader, 3, Cancel::AtPending(cap.max(1))).await?;
            outcome.count = Some(CountOutcome {
                studies: studies.min(cap),
                capped: studies >= cap,
            });
        }
    }
    Ok(())
}

async fn send_find<S: AsyncRead + AsyncWrite + Unpin>(
    wire: &mut Wire<'_, S>,
    message_id: u16,
    query: &StudyQuery,
    ts: &str,
    peer_max: Option<u32>,
) -> Result<(), Fault> {
    let identifier = query.encode(ts).map_err(|_| Fault::Command)?;
    let mut bytes = pdu::p_data(
        STUDY_ROOT_FIND.id,
        PdvKind::Command,
        &find_command(message_id),
        peer_max,
    )
    .map_err(|_| Fault::Encode)?;
    bytes.extend(
        pdu::p_data(STUDY_ROOT_FIND.id, PdvKind::DataSet, &identifier, peer_max)
            .map_err(|_| Fault::Encode)?,
    );
    wire.send(&bytes).await
}

/// The C-ECHO-RQ command set of every session (message 1): a constant, encoded once.
fn echo_command() -> &'static [u8] {
    static ECHO: OnceLock<Vec<u8>> = OnceLock::new();
    ECHO.get_or_init(|| dimse::c_echo_rq(1))
}

/// The C-FIND-RQ command set for `message_id`: the non-matching query (2) and the count (3)
/// are the same in every session, so they are encoded once.
fn find_command(message_id: u16) -> Cow<'static, [u8]> {
    static KEPT: [OnceLock<Vec<u8>>; 2] = [OnceLock::new(), OnceLock::new()];
    match message_id {
        2 | 3 => Cow::Borrowed(
            KEPT[usize::from(message_id - 2)]
                .get_or_init(|| dimse::c_find_rq(message_id, STUDY_ROOT_FIND)),
        ),
        _ => Cow::Owned(dimse::c_find_rq(message_id, STUDY_ROOT_FIND)),
    }
}

/// When to send C-CANCEL while reading responses.
#[derive(Debug, Clone, Copy)]
enum Cancel {
    Never,
    /// After this many pending responses.
    AtPending(u32),
}

/// Reads responses to `message_id` until a final (non-pending) status; returns it and the
/// number of pending responses seen. Data sets are never looked at.
async fn await_final<S: AsyncRead + AsyncWrite + Unpin>(
    wire: &mut Wire<'_, S>,
    reader: &mut MessageReader,
    message_id: u16,
    cancel: Cancel,
) -> Result<(dimse::Status, u32), Fault> {
    let mut pending = 0u32;
    let mut cancelled = false;
    loop {
        let values = match wire.next().await? {
            Pdu::PData(p) => p.values,
            Pdu::Abort(_) => return Err(Fault::Unexpected("A-ABORT")),
            Pdu::ReleaseRq => return Err(Fault::Unexpected("A-RELEASE-RQ")),
            other => return Err(Fault::Unexpected(other.name())),
        };
        for value in values {
            let Some(Event::Command { command, .. }) =
                reader.push(value).map_err(|_| Fault::Command)?
            else {
                continue; // a data-set fragment: already reduced to its length, dropped
            };
            if !answers(&command, message_id) {
                continue;
            }
            let Some(status) = command.status else {
                // A response without a status cannot be judged.
                return Err(Fault::Command);
            };
            if status.class() != StatusClass::Pending {
                return Ok((status, pending));
            }
            pending += 1;
            if pending > MAX_PENDING_READ {
                return Err(Fault::Unexpected("endless-pending"));
            }
            if let Cancel::AtPending(at) = cancel {
                if pending >= at && !cancelled {
                    cancelled = true;
                    let rq = pdu::p_data(
                        STUDY_ROOT_FIND.id,
                        PdvKind::Command,
                        &dimse::c_cancel_rq(message_id),
                        None,
                    )
                    .map_err(|_| Fault::Encode)?;
                    wire.send(&rq).await?;
                }
            }
        }
    }
}

fn answers(command: &CommandSet, message_id: u16) -> bool {
    command
        .message_id_being_responded_to
        .is_none_or(|m| m == message_id)
}

async fn release<S: AsyncRead + AsyncWrite + Unpin>(wire: &mut Wire<'_, S>) -> Result<(), Fault> {
    wire.send(&pdu::release_rq()).await?;
    loop {
        match wire.next().await? {
            Pdu::ReleaseRp => return Ok(()),
            // Late responses (after a cancel) may still arrive; skip them.
            Pdu::PData(_) => continue,
            other => return Err(Fault::Unexpected(other.name())),
        }
    }
}

/// DICOM over TLS: a handshake that accepts any certificate (we inspect, we do not trust),
/// recording version, cipher and certificate with the TLS probe's `tls.*` keys (one writer,
/// `medsurface_proto::tls::write_details`).
mod tls {

    use medsurface_model::Details;
    use medsurface_proto::dicom::details::keys;
    use serde_json::json;
    use tokio::net::TcpStream;
    use tokio::time::{timeout_at, Instant};
    use tokio_rustls::client::TlsStream;
    use tokio_rustls::rustls::pki_types::ServerName;

    use crate::probes::inspect_tls::{connector, Alpn};
    use crate::probes::ProbeContext;

    /// What the handshake showed, written with the TLS probe's `tls.*` keys.
    pub(super) type Facts = medsurface_proto::tls::TlsFacts;

    pub(super) async fn connect<'s>(
        stream: &'s mut TcpStream,
        ctx: &ProbeContext,
        budget_end: Instant,
    ) -> Result<(TlsStream<&'s mut TcpStream>, Facts), &'static str> {
        let connector = connector(Alpn::None).ok_or("config")?;
        let name = stream
            .peer_addr()
            .map(|a| ServerName::IpAddress(a.ip().into()))
            .map_err(|_| "peer")?;
        let deadline = (Instant::now() + ctx.read_timeout).min(budget_end);
        let tls = match timeout_at(deadline, connector.connect(name, stream)).await {
            Err(_) => return Err("timeout"),
            Ok(Err(_)) => return Err("handshake-failed"),
            Ok(Ok(tls)) => tls,
        };
        let (_, session) = tls.get_ref();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let facts = Facts {
            version: session
                .protocol_version()
                .map(|v| medsurface_proto::tls::version_name(u16::from(v))),
            cipher: session
                .negotiated_cipher_suite()
                .map(|c| medsurface_proto::tls::cipher_name(u16::from(c.suite()))),
            cert: session
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| medsurface_proto::tls::certificate_facts(c.as_ref(), now).ok()),
        };
        Ok((tls, facts))
    }

    pub(super) fn write_facts(details: &mut Details, facts: &Facts) {
        details.insert(keys::TLS.into(), json!(true));
        medsurface_proto::tls::write_details(details, facts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wants_the_dicom_ports_of_the_medical_profile() {
        for port in [104, 2761, 2762, 4242, 11112] {
            assert!(DicomProbe.wants(port), "{port}");
        }
        for port in [80, 443, 8042, 2575] {
            assert!(!DicomProbe.wants(port), "{port}");
        }
    }

    #[test]
    fn default_settings_are_gentle() {
        let s = DicomSettings::default();
        assert_eq!(s.called_ae, "ANY-SCP");
        assert!(s.ae_titles.is_empty());
        assert_eq!(s.study_count, StudyCount::Off);
        assert_eq!(s.tls, DicomTls::Port2762);
        assert!(!s.follow_up_gap.is_zero());
    }

    #[test]
    fn a_kept_request_is_the_one_encoding_gives() {
        let title = |t: &str| AeTitle::new(t).unwrap();
        let a = AssociateRequest::new()
            .calling_ae(title("MEDSURFACE"))
            .called_ae(title("ANY-SCP"));
        let b = AssociateRequest::new()
            .calling_ae(title("MEDSURFACE"))
            .called_ae(title("ORTHANC"));
        for request in [&a, &a, &b, &b, &a] {
            let kept = encoded_main_request(request).unwrap();
            assert_eq!(&kept[..], &request.encode().unwrap()[..]);
        }
        assert_ne!(
            &encoded_main_request(&a).unwrap()[..],
            &encoded_main_request(&b).unwrap()[..]
        );
    }

    #[test]
    fn kept_command_sets_are_the_ones_encoding_gives() {
        for _ in 0..2 {
            assert_eq!(echo_command(), &dimse::c_echo_rq(1)[..]);
            for id in [1, 2, 3, 4, 0xFFFF] {
                assert_eq!(
                    &find_command(id)[..],
                    &dimse::c_find_rq(id, STUDY_ROOT_FIND)[..],
                    "{id}"
                );
            }
        }
    }

    #[test]
    fn faults_have_stable_kinds() {
        assert_eq!(Fault::Timeout.kind(), "timeout");
        assert_eq!(
            Fault::Pdu(PduError::TooLarge {
                pdu_type: 4,
                declared: u32::MAX,
                limit: 1
            })
            .kind(),
            "pdu-too-large"
        );
        assert_eq!(
            Fault::Unexpected("A-RELEASE-RQ").kind(),
            "unexpected-a-release-rq"
        );
    }
}
