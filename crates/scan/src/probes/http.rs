//! The web probe: HTTP and HTTPS front ends, and the FHIR and DICOMweb APIs behind them.
//!
//! What it sends, in order, all `GET` with medsurface's User-Agent, `Accept-Encoding: identity`
//! and keep-alive (so most services cost one connection):
//! 1. `GET /`, following at most [`WebSettings::max_redirects`] redirects that stay on the same
//!    scheme and port (the probe only ever talks to the address it was given; a redirect loop
//!    ends at the first target seen twice);
//! 2. the favicon: the page's `<link rel=icon>` when it stays on the service, else `/favicon.ico`;
//! 3. the FHIR checks of [`super::fhir`] and the DICOMweb checks of [`super::dicomweb`].
//!
//! One port gets one probe (the registry's rule), so FHIR and DICOMweb are stages of this probe
//! rather than probes of their own; they fill their own `fhir.*` and `dicomweb.*` keys.
//!
//! # TLS policy
//! Ports whose profile service is `https`/`https-alt` (443, 8443, 9443) and 4443 start with a
//! TLS handshake ([`super::tls`], any certificate accepted); the others start in clear text.
//! The answer corrects the guess once: a TLS record, nginx's "plain HTTP request was sent to
//! HTTPS port" or a silent close in answer to clear text switches to TLS on a new connection;
//! a failed handshake is followed by the legacy TLS 1.0 hello, and when that gets no TLS
//! either, by clear text. A server that speaks TLS 1.0/1.1 only is recorded with its `tls.*`
//! facts and no HTTP (rustls cannot speak HTTP to it). 2762 is the DICOM probe's, 9200 the
//! database probe's.
//!
//! # Why not a client library
//! The probe speaks HTTP/1.1 itself over the stream the engine connected (plain or TLS): it
//! must run on a stream it was handed, send exactly the requests listed above, and cap every
//! byte it reads — the head at [`MAX_HEAD`], chunk lines and trailers, the body at
//! [`WebSettings::body_cap`]. `httparse` reads heads ([`medsurface_proto::http`]); reqwest's
//! connection pool and hyper's body machinery would add weight without removing any of that.
//!
//! # Bounds
//! Every exchange has one deadline (twice `read_timeout`); the whole probe has a budget below
//! the engine's `probe_timeout`, so it returns what it saw before the engine's safety net fires.
//! Follow-up connections go to the same address and port, one at a time, through `ctx.dialer`
//! (the scan's rate limiter and connect timeout) and after [`WebSettings::follow_up_gap`];
//! keep-alive makes them rare. The page body is kept only as the transient
//! `_http.body` (capped at [`WebSettings::kept_body_cap`]; raw text, like the importers' copy),
//! which `fields::strip_transient` removes before an observation is stored or shown.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use medsurface_model::Details;
use medsurface_proto::favicon;
use medsurface_proto::http::{
    self as wire, html, parse_head, Chunked, Framing, Get, Head, HttpError, Origin, Resolved,
    MAX_HEAD,
};
use medsurface_proto::tls::{self as tls_wire, TlsFacts};
use serde_json::{json, Map, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout_at, Instant};

use super::{dicomweb, fhir, tls, Probe, ProbeContext, ProbeFuture, ProbeOutput};
use crate::ports::MEDICAL_PROFILE;

/// Time kept in reserve below `probe_timeout`, so a probe returns before the engine cancels it.
pub(super) const BUDGET_RESERVE: Duration = Duration::from_millis(250);

/// Profile services the web probe speaks to.
const WEB_SERVICES: &[&str] = &[
    "http",
    "https",
    "http-alt",
    "https-alt",
    "orthanc-http",
    "iris-web",
];
/// Profile services that start with TLS.
const TLS_SERVICES: &[&str] = &["https", "https-alt"];
/// Common web ports outside the medical profile (used with `--ports`).
pub const EXTRA_WEB_PORTS: &[u16] = &[81, 3000, 4443, 5000, 8000, 8008, 8081, 8088, 8888, 9090];
/// Of those, the ones that start with TLS.
const EXTRA_TLS_PORTS: &[u16] = &[4443];

const ACCEPT_HTML: &str = "text/html,application/xhtml+xml,*/*;q=0.8";
const ACCEPT_ICON: &str = "image/*,*/*;q=0.8";

/// Options of the web probe (part of [`ProbeContext`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSettings {
    /// Most body bytes read from one answer (the page, the favicon, a FHIR document).
    pub body_cap: usize,
    /// Most bytes of the page body kept in the transient `_http.body`.
    pub kept_body_cap: usize,
    /// Redirects followed from `/`.
    pub max_redirects: u8,
    /// When to speak TLS.
    pub tls: WebTls,
    /// Pause before each follow-up connection to the same service.
    pub follow_up_gap: Duration,
    /// Whether to look for FHIR and DICOMweb behind the web server.
    pub api_checks: ApiChecks,
    /// Opt-in (`--count-records`): the FHIR `_summary=count` of Patient, total only.
    pub count_records: RecordCount,
}

/// When the web probe speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebTls {
    /// TLS first on HTTPS ports, clear text first elsewhere; the answer corrects the guess.
    ByPort,
    /// TLS first everywhere.
    Always,
    /// Clear text only.
    Never,
}

/// Whether the FHIR and DICOMweb stages run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiChecks {
    FhirAndDicomweb,
    Off,
}

/// The opt-in FHIR record count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordCount {
    Off,
    /// Ask `_summary=count` and keep only `total`.
    Count,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            body_cap: 256 * 1024,
            kept_body_cap: 64 * 1024,
            max_redirects: 3,
            tls: WebTls::ByPort,
            follow_up_gap: Duration::from_millis(50),
            api_checks: ApiChecks::FhirAndDicomweb,
            count_records: RecordCount::Off,
        }
    }
}

/// Whether `port` is a web port: a web service of the medical profile or a common extra.
pub fn is_web_port(port: u16) -> bool {
    EXTRA_WEB_PORTS.contains(&port)
        || MEDICAL_PROFILE
            .iter()
            .any(|p| p.port == port && WEB_SERVICES.contains(&p.service))
}

/// Whether the web probe starts with TLS on `port` under [`WebTls::ByPort`].
pub fn starts_with_tls(port: u16) -> bool {
    EXTRA_TLS_PORTS.contains(&port)
        || MEDICAL_PROFILE
            .iter()
            .any(|p| p.port == port && TLS_SERVICES.contains(&p.service))
}

/// Speaks HTTP(S) to the web ports.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpProbe;

impl Probe for HttpProbe {
    fn name(&self) -> &'static str {
        "http"
    }

    fn wants(&self, port: u16) -> bool {
        is_web_port(port)
    }

    fn run<'a>(&'a self, stream: &'a mut TcpStream, ctx: &'a ProbeContext) -> ProbeFuture<'a> {
        Box::pin(probe(stream, ctx))
    }
}

/// A byte stream the probe can speak HTTP on (plain or TLS, borrowed or owned).
pub(super) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
type Conn<'a> = Box<dyn Io + 'a>;

/// Why an exchange failed, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Fault {
    /// No time left in the probe's budget.
    Budget,
    Timeout,
    /// The peer closed before sending a byte of the answer.
    Closed,
    /// The peer closed inside the head.
    Truncated,
    Io,
    Connect,
    /// The answer was a TLS record: the service wants TLS.
    TlsAnswer,
    Tls(&'static str),
    Http(HttpError),
}

impl Fault {
    pub(super) fn kind(&self) -> String {
        match self {
            Fault::Budget => "budget".into(),
            Fault::Timeout => "timeout".into(),
            Fault::Closed => "closed".into(),
            Fault::Truncated => "truncated".into(),
            Fault::Io => "io-error".into(),
            Fault::Connect => "connect-failed".into(),
            Fault::TlsAnswer => "tls-required".into(),
            Fault::Tls(why) => (*why).into(),
            Fault::Http(e) => e.kind().into(),
        }
    }
}

/// One answer: its head and its (capped, de-chunked) body.
pub(super) struct Answer {
    pub head: Head,
    pub body: Vec<u8>,
    /// Whether the whole body was read.
    pub complete: bool,
}

/// The probe's HTTP session with one service: the current connection, redialled when the
/// server closes it.
pub(super) struct Web<'a> {
    pub ctx: &'a ProbeContext,
    peer: SocketAddr,
    pub origin: Origin,
    budget_end: Instant,
    conn: Option<Conn<'a>>,
    /// TLS facts of the first handshake.
    tls_facts: Option<TlsFacts>,
}

impl<'a> Web<'a> {
    /// `GET target`: the answer, with at most `cap` body bytes.
    pub(super) async fn get(
        &mut self,
        target: &str,
        accept: &str,
        cap: usize,
    ) -> Result<Answer, Fault> {
        let reused = self.conn.is_some();
        match self.exchange(target, accept, cap).await {
            // A kept-alive connection the server had already closed: once more, on a new one.
            Err(Fault::Closed | Fault::Io) if reused => self.exchange(target, accept, cap).await,
            other => other,
        }
    }

    fn left(&self) -> Duration {
        self.budget_end.saturating_duration_since(Instant::now())
    }

    async fn exchange(&mut self, target: &str, accept: &str, cap: usize) -> Result<Answer, Fault> {
        if self.left() < self.ctx.read_timeout / 2 {
            return Err(Fault::Budget);
        }
        let request = Get {
            host: &self.origin.authority(),
            target,
            user_agent: &self.ctx.user_agent,
            accept,
        }
        .encode()
        .map_err(Fault::Http)?;
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self.dial().await?,
        };
        let deadline = (Instant::now() + self.ctx.read_timeout * 2).min(self.budget_end);
        match timeout_at(deadline, conn.write_all(&request)).await {
            Err(_) => return Err(Fault::Timeout),
            Ok(Err(_)) => return Err(Fault::Io),
            Ok(Ok(())) => {}
        }
        let result = read_answer(&mut conn, deadline, cap).await;
        match result {
            Ok((answer, true)) => {
                self.conn = Some(conn);
                Ok(answer)
            }
            other => {
                // Close our side now: the first connection is the engine's and outlives this
                // session, and single-threaded servers serve the next connection only after it.
                close(&mut conn).await;
                other.map(|(answer, _)| answer)
            }
        }
    }

    async fn dial(&mut self) -> Result<Conn<'a>, Fault> {
        sleep(self.ctx.web.follow_up_gap).await;
        // Through the scan's rate limiter (it waits for a turn, then connects within the scan's
        // connect timeout); the probe's budget bounds the whole wait.
        let stream = match timeout_at(self.budget_end, self.ctx.dialer.connect(self.peer)).await {
            Ok(Ok(s)) => s,
            Ok(Err(_)) => return Err(Fault::Connect),
            Err(_) => return Err(Fault::Budget),
        };
        let deadline = (Instant::now() + self.ctx.read_timeout).min(self.budget_end);
        let _ = stream.set_nodelay(true);
        if !self.origin.tls {
            return Ok(Box::new(stream));
        }
        let (tls, facts) = tls::handshake(stream, self.peer.ip(), deadline)
            .await
            .map_err(Fault::Tls)?;
        self.tls_facts.get_or_insert(facts);
        Ok(Box::new(tls))
    }
}

/// Reads one answer. The second value says whether the connection may carry another request.
async fn read_answer(
    conn: &mut Conn<'_>,
    deadline: Instant,
    cap: usize,
) -> Result<(Answer, bool), Fault> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut interim = 0;
    let (head, used) = loop {
        match parse_head(&buf, MAX_HEAD) {
            Ok(Some((head, used))) if (100..200).contains(&head.status) && head.status != 101 => {
                // 100 Continue and friends: skip a few, then the real answer.
                interim += 1;
                if interim > 4 {
                    return Err(Fault::Http(HttpError::NotHttp));
                }
                buf.drain(..used);
                continue;
            }
            Ok(Some(found)) => break found,
            Ok(None) => {}
            Err(HttpError::NotHttp) if looks_like_tls(&buf) => return Err(Fault::TlsAnswer),
            Err(e) => return Err(Fault::Http(e)),
        }
        let room = MAX_HEAD.saturating_sub(buf.len()).clamp(1, chunk.len());
        match timeout_at(deadline, conn.read(&mut chunk[..room])).await {
            Err(_) => return Err(Fault::Timeout),
            Ok(Ok(0)) if buf.is_empty() => return Err(Fault::Closed),
            Ok(Ok(0)) => return Err(Fault::Truncated),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(_)) if buf.is_empty() => return Err(Fault::Io),
            Ok(Err(_)) => return Err(Fault::Truncated),
        }
    };
    let framing = head.framing();
    let mut body = Vec::new();
    let rest = buf.split_off(used);
    // Raw bytes read for the body, bounded even when chunk framing carries little data.
    let raw_cap = cap.saturating_mul(8).max(64 * 1024);
    let complete = match framing {
        Framing::Empty => true,
        Framing::Length(n) => {
            let mut remaining = n;
            let feed = |bytes: &[u8], body: &mut Vec<u8>, remaining: &mut u64| {
                let take = bytes
                    .len()
                    .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                let room = cap.saturating_sub(body.len());
                body.extend_from_slice(&bytes[..take.min(room)]);
                *remaining -= take as u64;
            };
            feed(&rest, &mut body, &mut remaining);
            while remaining > 0 && body.len() < cap {
                match read_some(conn, &mut chunk, deadline).await {
                    Some(n) => feed(&chunk[..n], &mut body, &mut remaining),
                    None => break,
                }
            }
            remaining == 0
        }
        Framing::Chunked => {
            let mut decoder = Chunked::new();
            let mut raw = rest.len();
            let mut ok = decoder.push(&rest, &mut body, cap).is_ok();
            while ok && !decoder.is_done() && body.len() < cap && raw < raw_cap {
                match read_some(conn, &mut chunk, deadline).await {
                    Some(n) => {
                        raw += n;
                        ok = decoder.push(&chunk[..n], &mut body, cap).is_ok();
                    }
                    None => break,
                }
            }
            ok && decoder.is_done()
        }
        Framing::UntilClose => {
            body.extend_from_slice(&rest[..rest.len().min(cap)]);
            let mut closed = false;
            while body.len() < cap {
                match read_some(conn, &mut chunk, deadline).await {
                    Some(n) => {
                        let room = cap - body.len();
                        body.extend_from_slice(&chunk[..n.min(room)]);
                    }
                    None => {
                        closed = true;
                        break;
                    }
                }
            }
            closed
        }
    };
    let reusable = complete && framing != Framing::UntilClose && head.keeps_alive();
    Ok((
        Answer {
            head,
            body,
            complete,
        },
        reusable,
    ))
}

/// Best effort, bounded: TLS close_notify and FIN.
async fn close(conn: &mut Conn<'_>) {
    let _ = tokio::time::timeout(Duration::from_millis(200), conn.shutdown()).await;
}

/// One read before the deadline: `None` on end of stream, error or timeout.
async fn read_some(conn: &mut Conn<'_>, chunk: &mut [u8], deadline: Instant) -> Option<usize> {
    match timeout_at(deadline, conn.read(chunk)).await {
        Ok(Ok(0)) | Ok(Err(_)) | Err(_) => None,
        Ok(Ok(n)) => Some(n),
    }
}

fn looks_like_tls(buf: &[u8]) -> bool {
    buf.len() >= 2 && (buf[0] == 0x15 || buf[0] == 0x16) && buf[1] == 0x03
}

/// nginx and others answer clear text on a TLS port with a 400 that says so.
fn wants_tls(answer: &Answer) -> bool {
    answer.head.status == 400
        && answer
            .body
            .windows(b"HTTPS port".len())
            .any(|w| w.eq_ignore_ascii_case(b"HTTPS port"))
}

/// Runs the web probe on a connected stream (the entry point tests use directly).
pub async fn probe(stream: &mut TcpStream, ctx: &ProbeContext) -> ProbeOutput {
    let budget_end = Instant::now() + ctx.probe_timeout.saturating_sub(BUDGET_RESERVE);
    let mut details = Details::new();
    let Ok(peer) = stream.peer_addr() else {
        return ProbeOutput {
            protocol: None,
            details,
        };
    };
    let host = match peer.ip() {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    };
    let settings = &ctx.web;
    let tls_first = match settings.tls {
        WebTls::Always => true,
        WebTls::Never => false,
        WebTls::ByPort => starts_with_tls(peer.port()),
    };

    // The first connection is the engine's: TLS or clear text on it.
    let mut tls_facts = None;
    let mut origin = Origin {
        tls: tls_first,
        host,
        port: peer.port(),
    };
    let first: Option<Conn<'_>> = if tls_first {
        let deadline = (Instant::now() + ctx.read_timeout).min(budget_end);
        match tls::handshake(&mut *stream, peer.ip(), deadline).await {
            Ok((s, facts)) => {
                tls_facts = Some(facts);
                Some(Box::new(s))
            }
            Err(why) => {
                tls::close_tcp(stream).await;
                match tls::legacy(peer, ctx, budget_end).await {
                    Ok(facts) => {
                        // TLS 1.0/1.1 only: certificate read, no HTTP possible with rustls.
                        tls_wire::write_details(&mut details, &facts);
                        details.insert("http.error".into(), json!("legacy-tls-only"));
                        return ProbeOutput {
                            protocol: Some("tls".into()),
                            details,
                        };
                    }
                    Err("not-tls" | "closed") if settings.tls == WebTls::ByPort => {
                        origin.tls = false;
                        None
                    }
                    Err(_) => {
                        details.insert("tls.error".into(), json!(why));
                        return ProbeOutput {
                            protocol: None,
                            details,
                        };
                    }
                }
            }
        }
    } else {
        Some(Box::new(&mut *stream))
    };
    let mut web = Web {
        ctx,
        peer,
        origin,
        budget_end,
        conn: first,
        tls_facts,
    };

    let mut answer = web.get("/", ACCEPT_HTML, settings.body_cap).await;
    // Clear text answered by TLS, by a 400 that asks for HTTPS, or by a silent close (OpenSSL
    // and others close without a word): once more with TLS; if that fails too, the clear-text
    // answer stands.
    let switch = match &answer {
        Err(Fault::TlsAnswer | Fault::Closed) => true,
        Ok(a) => wants_tls(a),
        Err(_) => false,
    };
    if switch && !web.origin.tls && settings.tls == WebTls::ByPort {
        web.origin.tls = true;
        web.conn = None;
        let retry = web.get("/", ACCEPT_HTML, settings.body_cap).await;
        if retry.is_ok() {
            answer = retry;
        } else {
            web.origin.tls = false;
        }
    }

    // Redirects on the same service.
    let mut target = "/".to_string();
    let mut seen = vec![target.clone()];
    let mut location = None;
    let mut redirects = 0;
    let page = loop {
        let a = match answer {
            Ok(a) => a,
            Err(f) => {
                details.insert("http.error".into(), json!(f.kind()));
                break None;
            }
        };
        let is_redirect = matches!(a.head.status, 301 | 302 | 303 | 307 | 308);
        let Some(loc) = a.head.get("location").filter(|_| is_redirect) else {
            break Some(a);
        };
        match wire::resolve(&web.origin, &target, loc) {
            Resolved::Same(next) if redirects < settings.max_redirects && !seen.contains(&next) => {
                redirects += 1;
                seen.push(next.clone());
                target = next;
                answer = web.get(&target, ACCEPT_HTML, settings.body_cap).await;
            }
            Resolved::Same(next) => {
                location = Some(web.origin.url(&next));
                break Some(a);
            }
            Resolved::Elsewhere(url) => {
                location = Some(url);
                break Some(a);
            }
        }
    };

    if let Some(facts) = &web.tls_facts {
        tls_wire::write_details(&mut details, facts);
    }
    let Some(page) = page else {
        let protocol = web.tls_facts.is_some().then(|| "tls".to_string());
        return ProbeOutput { protocol, details };
    };
    write_page(&mut details, &page, settings);
    details.insert(
        "http.location".into(),
        json!(location.unwrap_or_else(|| web.origin.url(&target))),
    );
    let root_status = page.head.status;
    let icon = html::parse(&page.body).icon_href;
    drop(page);

    favicon_step(&mut web, &target, icon, &mut details).await;

    let mut protocol = if web.origin.tls { "https" } else { "http" };
    if settings.api_checks == ApiChecks::FhirAndDicomweb {
        if fhir::check(&mut web, &mut details).await {
            protocol = "fhir";
        }
        if dicomweb::check(&mut web, root_status, &mut details).await && protocol != "fhir" {
            protocol = "dicomweb";
        }
    }
    // TLS facts of a handshake made on a follow-up connection (after a switch).
    if let Some(facts) = &web.tls_facts {
        tls_wire::write_details(&mut details, facts);
    }
    if let Some(mut conn) = web.conn.take() {
        close(&mut conn).await;
    }
    ProbeOutput {
        protocol: Some(protocol.into()),
        details,
    }
}

/// The facts of the final page.
fn write_page(details: &mut Details, page: &Answer, settings: &WebSettings) {
    let head = &page.head;
    details.insert("http.status".into(), json!(head.status));
    if let Some(s) = head.text("server") {
        details.insert("http.server".into(), json!(s));
    }
    if let Some(s) = head.text("x-powered-by") {
        details.insert("http.powered_by".into(), json!(s));
    }
    if let Some(r) = head.realm() {
        details.insert("http.realm".into(), json!(r));
    }
    let cookies = head.cookie_names();
    if !cookies.is_empty() {
        details.insert("http.cookies".into(), json!(cookies));
    }
    let headers: Map<String, Value> = head
        .kept_headers()
        .into_iter()
        .map(|(n, v)| (n, Value::from(v)))
        .collect();
    details.insert("http.headers".into(), Value::Object(headers));
    let facts = html::parse(&page.body);
    if let Some(t) = facts.title {
        details.insert("http.title".into(), json!(t));
    }
    details.insert(
        "http.body_sha256".into(),
        json!(wire::sha256_hex(&page.body)),
    );
    // The classifier's copy: raw text (as the importers keep it, so that a live scan and an
    // import of the same page classify alike), cut on a character boundary. Transient: removed
    // by `fields::strip_transient` before an observation is stored or shown.
    let body = String::from_utf8_lossy(&page.body);
    if !body.is_empty() {
        let mut end = body.len().min(settings.kept_body_cap);
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        details.insert("_http.body".into(), json!(&body[..end]));
    }
}

/// The favicon: the page's icon link when it stays on the service, else `/favicon.ico`.
async fn favicon_step(web: &mut Web<'_>, page: &str, href: Option<String>, details: &mut Details) {
    let mut targets = Vec::new();
    if let Some(href) = href {
        if let Resolved::Same(t) = wire::resolve(&web.origin, page, href.as_bytes()) {
            targets.push(t);
        }
    }
    if !targets.iter().any(|t| t == "/favicon.ico") {
        targets.push("/favicon.ico".into());
    }
    let cap = web.ctx.web.body_cap.min(favicon::ICON_CAP);
    for target in targets {
        let Ok(icon) = web.get(&target, ACCEPT_ICON, cap).await else {
            continue;
        };
        if icon.head.status == 200 && icon.complete && !icon.body.is_empty() && !is_html(&icon) {
            details.insert(
                "http.favicon_hash".into(),
                json!(favicon::shodan_hash(&icon.body)),
            );
            details.insert("http.favicon_url".into(), json!(web.origin.url(&target)));
            return;
        }
    }
}

/// A catch-all page served for every path is not an icon.
fn is_html(answer: &Answer) -> bool {
    let ct = answer
        .head
        .get("content-type")
        .unwrap_or(b"")
        .to_ascii_lowercase();
    ct.windows(4).any(|w| w == b"html")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_ports_and_tls_policy() {
        for port in [80, 443, 8042, 8080, 8443, 9443, 52773, 8000] {
            assert!(is_web_port(port), "{port}");
        }
        for port in [104, 2762, 9200, 5432, 2575, 11112] {
            assert!(!is_web_port(port), "{port} belongs to another probe");
        }
        for port in [443, 8443, 9443, 4443] {
            assert!(starts_with_tls(port), "{port}");
        }
        for port in [80, 8042, 8080, 52773] {
            assert!(!starts_with_tls(port), "{port}");
        }
    }

    #[test]
    fn the_registry_hands_web_ports_to_this_probe_and_leaves_the_others() {
        use crate::probes::probe_for;
        for port in [80, 443, 8042, 8080, 8443, 9443, 52773] {
            assert_eq!(probe_for(port).name(), "http", "{port}");
        }
        assert_eq!(probe_for(636).name(), "tls");
        assert_eq!(probe_for(2762).name(), "dicom");
        assert_ne!(probe_for(9200).name(), "http");
    }

    #[test]
    fn default_settings_are_bounded_and_gentle() {
        let s = WebSettings::default();
        assert!(s.kept_body_cap <= s.body_cap && s.body_cap <= 1 << 20);
        assert_eq!(s.max_redirects, 3);
        assert_eq!(s.count_records, RecordCount::Off);
        assert!(!s.follow_up_gap.is_zero());
    }

    #[test]
    fn faults_have_stable_kinds() {
        assert_eq!(
            Fault::Http(HttpError::HeadTooLarge { limit: 1 }).kind(),
            "head-too-large"
        );
        assert_eq!(Fault::TlsAnswer.kind(), "tls-required");
    }
}
