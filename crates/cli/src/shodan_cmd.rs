//! `medsurface shodan search QUERY` and `medsurface shodan host IP`: banners from the Shodan API
//! into the same classifier and store as `medsurface ingest shodan`.
//!
//! A banner in an API answer (an element of a search's `matches`, or of a host's `data`) is the
//! very JSON object a Shodan export holds on one line. So each page is written back as
//! newline-delimited JSON and handed to `ingest_cmd::import` with `Format::Shodan`: one mapping,
//! one classifier, one store path, and the source is `shodan` whether the banner came from a
//! file or from the API, so both merge into one service with its history. A malformed banner
//! is reported as "page P, banner N", like a bad line of a file.
//!
//! The client is deliberately small and sequential (ureq, blocking): Shodan allows about one
//! request per second, so there is nothing to gain from concurrency, and the pacing is a plain
//! `Pacer` that every request — retries and `/api-info` included — waits on. Every request has
//! a connect timeout and an end-to-end timeout, every answer a size cap; redirects are not
//! followed (the key travels in the query string and must not be sent elsewhere), and the key
//! never appears in a message. Each page is stored before the next is asked for, so an error on
//! page 3 keeps pages 1 and 2.
//!
//! Errors of the API (a refused key, exhausted credits, a rate limit that does not lift, an
//! answer that is not JSON or breaks off, no answer in time) are typed (`ApiError`) and end
//! the command with exit status 2 and Shodan's own message, escaped as peer text.

use std::io::Cursor;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::Result;
use medsurface_ingest::{Format, IngestOptions, IngestReport, Named, OnError};
use medsurface_model::text::printable;
use medsurface_store::SqliteStore;
use serde_json::Value;

use crate::analysis::Analysis;
use crate::cli::{ShodanApiArgs, ShodanArgs, ShodanCommand, ShodanHostArgs, ShodanSearchArgs};
use crate::config::Config;
use crate::exit::{Exit, InputError};
use crate::ingest_cmd::{import, Failure, Target};
use crate::scan_cmd::db_path;

const DEFAULT_URL: &str = "https://api.shodan.io";
const USER_AGENT: &str = concat!(
    "medsurface/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/medsurface/medsurface)"
);
/// Shodan's documented pace: one request per second.
const PACE: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A page of 100 banners with page bodies is a few MB; a host with its history more.
const MAX_ANSWER_BYTES: u64 = 64 * 1024 * 1024;
/// Retries after HTTP 429 (rate limited) or a gateway error (502, 503, 504).
const RETRIES: u32 = 3;
/// Longest pause before a retry, whatever `Retry-After` says.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);
/// Peer text kept in a message.
const SNIPPET: usize = 300;
/// Malformed banners listed per page (all are counted).
const ERRORS_SHOWN: usize = 20;

pub fn run(args: ShodanArgs) -> Result<Exit> {
    match args.command {
        ShodanCommand::Search(a) => search(a),
        ShodanCommand::Host(a) => host(a),
    }
}

// ---------------------------------------------------------------------------------------------
// Commands

fn search(args: ShodanSearchArgs) -> Result<Exit> {
    let query = args.query.join(" ");
    if query.trim().is_empty() {
        return Err(InputError("the search query is empty".into()).into());
    }
    let settings = Settings::resolve(&args.api)?;
    let db = db_path(args.store.db.clone())?;
    let mut store = SqliteStore::open(&db)?;
    let analysis = Analysis::load(args.signatures.as_deref())?;
    let mut client = Client::new(&settings);
    let what = format!("shodan search {query:?}");

    // /api-info is free: it catches a bad key before anything is spent and tells the credits.
    let credits_before = match client.credits() {
        Ok(c) => c,
        Err(e @ ApiError::BadKey { .. }) => return Err(client.fail(&what, e)),
        Err(e) => {
            eprintln!("medsurface: note: cannot read the query credits (/api-info): {e}");
            None
        }
    };
    if let Some(credits) = credits_before {
        // Shodan charges one credit per page when the query has a filter, and for every page
        // after the first in any case.
        let has_filter = query.contains(':');
        let needed = if has_filter {
            args.pages
        } else {
            args.pages - 1
        };
        eprintln!("medsurface: Shodan query credits left: {credits}");
        if i64::from(needed) > credits {
            eprintln!(
                "medsurface: warning: this search may need up to {needed} query credits; \
                 Shodan will refuse the pages it cannot charge"
            );
        }
    }

    let mut tally = Tally {
        pages: Some(0),
        ..Tally::default()
    };
    let mut total: Option<u64> = None;
    for page in 1..=args.pages {
        let page_text = page.to_string();
        let answer = client.get(
            "/shodan/host/search",
            &[("query", query.as_str()), ("page", page_text.as_str())],
        );
        let answer = match answer.and_then(|v| banners(v, "matches")) {
            Ok(a) => a,
            Err(e) => {
                tally.print(&what, &db);
                return Err(client.fail(&format!("{what}, page {page}"), e));
            }
        };
        total = answer.total.or(total);
        let fetched = answer.banners.len();
        let report = store_banners(
            answer.banners,
            &format!("page {page}"),
            &analysis,
            &mut store,
        )?;
        tally.add(Some(page), fetched, &report);
        // Past the last result Shodan would still charge for empty pages.
        let done = total.is_some_and(|t| tally.fetched as u64 >= t);
        if fetched == 0 || done {
            break;
        }
    }
    if let Some(t) = total {
        tally.total = Some(t);
    }
    tally.print(&what, &db);
    if credits_before.is_some() {
        if let Ok(Some(left)) = client.credits() {
            eprintln!("medsurface: Shodan query credits left after the search: {left}");
        }
    }
    Ok(Exit::Ok)
}

fn host(args: ShodanHostArgs) -> Result<Exit> {
    let settings = Settings::resolve(&args.api)?;
    let db = db_path(args.store.db.clone())?;
    let mut store = SqliteStore::open(&db)?;
    let analysis = Analysis::load(args.signatures.as_deref())?;
    let mut client = Client::new(&settings);
    let ip = args.ip.to_string();
    let what = format!("shodan host {ip}");

    let answer = match client.get(&format!("/shodan/host/{ip}"), &[]) {
        Ok(v) => v,
        // Shodan answers 404 for an address it knows nothing about: an empty result.
        Err(ApiError::Refused {
            status: 404,
            message,
        }) => {
            eprintln!("medsurface: {what}: Shodan has no information on this address ({message})");
            return Ok(Exit::Ok);
        }
        Err(e) => return Err(client.fail(&what, e)),
    };
    let host_fields = host_level_fields(&answer, args.ip);
    let mut answer = match banners(answer, "data") {
        Ok(a) => a,
        Err(e) => return Err(client.fail(&what, e)),
    };
    for banner in &mut answer.banners {
        fill_from_host(banner, &host_fields);
    }
    let fetched = answer.banners.len();
    let report = store_banners(answer.banners, "host", &analysis, &mut store)?;
    let mut tally = Tally::default();
    tally.add(None, fetched, &report);
    tally.print(&what, &db);
    Ok(Exit::Ok)
}

// ---------------------------------------------------------------------------------------------
// Banners → store

/// The banners of one answer.
struct Banners {
    banners: Vec<Value>,
    /// Results matching the query (search only).
    total: Option<u64>,
}

/// Takes the banner list `key` out of an answer.
fn banners(answer: Value, key: &'static str) -> Result<Banners, ApiError> {
    let Value::Object(mut map) = answer else {
        return Err(ApiError::Shape { missing: key });
    };
    let total = map.get("total").and_then(Value::as_u64);
    match map.remove(key) {
        Some(Value::Array(banners)) => Ok(Banners { banners, total }),
        // A search past the last page may say `"matches": null`, and still gives the total.
        Some(Value::Null) | None if total.is_some() => Ok(Banners {
            banners: Vec::new(),
            total,
        }),
        _ => Err(ApiError::Shape { missing: key }),
    }
}

/// The fields of a host answer that its banners may leave to it.
const HOST_FIELDS: [&str; 8] = [
    "ip_str",
    "ip",
    "org",
    "isp",
    "asn",
    "location",
    "hostnames",
    "domains",
];

fn host_level_fields(answer: &Value, ip: IpAddr) -> serde_json::Map<String, Value> {
    let mut fields = serde_json::Map::new();
    for key in HOST_FIELDS {
        if let Some(v) = answer.get(key).filter(|v| !v.is_null()) {
            fields.insert(key.to_string(), v.clone());
        }
    }
    fields
        .entry("ip_str")
        .or_insert_with(|| Value::String(ip.to_string()));
    fields
}

/// Gives a banner of a host answer the host's address, owner and place where it has none.
fn fill_from_host(banner: &mut Value, host: &serde_json::Map<String, Value>) {
    let Value::Object(b) = banner else { return };
    let has_address = ["ip_str", "ipv6", "ip"]
        .iter()
        .any(|k| b.get(*k).is_some_and(|v| !v.is_null()));
    for (key, value) in host {
        let is_address = key == "ip_str" || key == "ip";
        if is_address && has_address {
            continue;
        }
        if b.get(key).is_none_or(Value::is_null) {
            b.insert(key.clone(), value.clone());
        }
    }
}

/// Classifies and stores one answer's banners (one store transaction per page at most
/// `ingest_cmd`'s batch), through the very path of `ingest shodan`.
fn store_banners(
    banners: Vec<Value>,
    name: &str,
    analysis: &Analysis,
    store: &mut SqliteStore,
) -> Result<IngestReport> {
    let mut lines = Vec::new();
    for banner in &banners {
        // Compact JSON has no raw newline, so one banner is one line.
        serde_json::to_writer(&mut lines, banner)?;
        lines.push(b'\n');
    }
    drop(banners);
    let opts = IngestOptions {
        on_error: OnError::Continue,
        errors_kept: ERRORS_SHOWN,
        ..IngestOptions::default()
    };
    let input = Named {
        name,
        reader: Cursor::new(lines),
    };
    match import(Format::Shodan, input, Target { analysis, store }, &opts) {
        Ok(report) => Ok(report),
        Err(Failure::Store(e)) => Err(anyhow::Error::new(e).context("cannot store the banners")),
        // In-memory input cannot fail to read, and the import is not strict.
        Err(Failure::Ingest(e)) => Err(anyhow::Error::new(e).context("cannot import the banners")),
    }
}

/// What a command fetched and stored.
#[derive(Default)]
struct Tally {
    /// Search pages fetched (`None` for a host lookup).
    pages: Option<u32>,
    fetched: usize,
    observations: u64,
    malformed: u64,
    total: Option<u64>,
    problems: Vec<String>,
}

impl Tally {
    fn add(&mut self, page: Option<u32>, fetched: usize, r: &IngestReport) {
        self.pages = page;
        self.fetched += fetched;
        self.observations += r.observations;
        self.malformed += r.error_count;
        for e in &r.errors {
            // The banner's line in the page is its place in the answer's list.
            self.problems
                .push(format!("{}, banner {}: {}", e.file, e.line, e.problem));
        }
        if r.error_count > r.errors.len() as u64 {
            self.problems.push(format!(
                "{}: … and {} more malformed banners",
                r.file,
                r.error_count - r.errors.len() as u64
            ));
        }
    }

    fn print(&self, what: &str, db: &std::path::Path) {
        let of_total = self
            .total
            .map(|t| format!(" of {t} matching"))
            .unwrap_or_default();
        let pages = match self.pages {
            Some(1) => "1 page, ".to_string(),
            Some(n) => format!("{n} pages, "),
            None => String::new(),
        };
        eprintln!(
            "medsurface: {what}: {pages}{} banners fetched{of_total}, {} stored, {} malformed",
            self.fetched, self.observations, self.malformed,
        );
        for p in &self.problems {
            eprintln!("medsurface:   {p}");
        }
        eprintln!("medsurface: stored in {}", db.display());
    }
}

// ---------------------------------------------------------------------------------------------
// Settings

/// Where and how to reach the API.
struct Settings {
    key: String,
    /// Base URL without a trailing slash.
    base: String,
    timeout: Duration,
}

impl Settings {
    /// Key: `SHODAN_API_KEY`, else the config file. URL: `--api-url` / `MEDSURFACE_SHODAN_URL`
    /// (clap), else the config file, else Shodan's.
    fn resolve(api: &ShodanApiArgs) -> Result<Settings> {
        let config = Config::load()?;
        let from_env = std::env::var("SHODAN_API_KEY")
            .ok()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty());
        let key = match (from_env, config.shodan_api_key.clone()) {
            (Some(k), _) => k,
            (None, Some(k)) => k,
            (None, None) => {
                let place = Config::path_from_env()
                    .map(|p| format!("shodan_api_key in {}", p.display()))
                    .unwrap_or_else(|| "shodan_api_key in the config file".into());
                return Err(InputError(format!(
                    "no Shodan API key: set SHODAN_API_KEY or {place}"
                ))
                .into());
            }
        };
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InputError(
                "the Shodan API key holds spaces or control characters; check SHODAN_API_KEY or \
                 the config file"
                    .into(),
            )
            .into());
        }
        let url = api
            .api_url
            .clone()
            .filter(|u| !u.trim().is_empty())
            .or(config.shodan_api_url)
            .unwrap_or_else(|| DEFAULT_URL.to_string());
        let base = check_base_url(url.trim()).map_err(InputError)?;
        Ok(Settings {
            key,
            base,
            timeout: Duration::from_secs(api.timeout),
        })
    }
}

/// Accepts `https://…`, and `http://…` only on loopback (the key is in the query string).
fn check_base_url(url: &str) -> Result<String, String> {
    let bad = |why: &str| format!("Shodan API URL {url:?}: {why}");
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("not an http:// or https:// URL"))?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("no host, or a user name in it"));
    }
    if rest.contains(['?', '#']) || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("a base URL has no query, fragment or spaces"));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => {}
        "http" if is_loopback_authority(authority) => {}
        "http" => {
            return Err(bad(
                "plain http would send the API key in clear; use https (http is accepted only \
                 for loopback addresses)",
            ))
        }
        _ => return Err(bad("not an http:// or https:// URL")),
    }
    Ok(url.trim_end_matches('/').to_string())
}

fn is_loopback_authority(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

// ---------------------------------------------------------------------------------------------
// The client

/// Why a request to the API failed. Variants are told apart by what happened (status, timeout,
/// parse failure), never by reading Shodan's message.
#[derive(Debug, thiserror::Error)]
enum ApiError {
    #[error("Shodan refused the API key (HTTP 401): {message}; check SHODAN_API_KEY or shodan_api_key in the config file")]
    BadKey { message: String },
    /// Any other refusal with a status: exhausted credits, access denied, a bad query…
    #[error("Shodan refused the request (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    #[error("Shodan still answers HTTP {status} after {tries} tries: {message}")]
    Busy {
        status: u16,
        tries: u32,
        message: String,
    },
    #[error("Shodan answered with a redirect (HTTP {status}); not followed, so the API key is not sent elsewhere")]
    Redirect { status: u16 },
    #[error("no complete answer within {secs} s")]
    Timeout { secs: u64 },
    #[error("cannot reach {base}: {detail}")]
    Connect { base: String, detail: String },
    #[error("the answer broke off: {detail}")]
    CutShort { detail: String },
    #[error("the answer is larger than {limit} bytes; not read")]
    TooLarge { limit: u64 },
    #[error("the answer (HTTP {status}, {bytes} bytes) ends in the middle of its JSON: truncated")]
    Truncated { status: u16, bytes: usize },
    #[error("the answer (HTTP {status}, {bytes} bytes) is not JSON ({detail} at line {line}, column {column}); it starts: {start}")]
    NotJson {
        status: u16,
        bytes: usize,
        detail: String,
        line: usize,
        column: usize,
        start: String,
    },
    #[error("the answer has no `{missing}` list")]
    Shape { missing: &'static str },
}

/// One answer as it came: status, `Retry-After`, body.
struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

/// What an answer means.
#[derive(Debug)]
enum Reading {
    Json(Value),
    /// Worth another try after a pause (rate limit, gateway trouble).
    Retry {
        status: u16,
        wait: Option<Duration>,
        message: String,
    },
    Error(ApiError),
}

/// Reads an answer: pure, so every status and body shape is tested without a socket.
fn read_answer(a: &Answer) -> Reading {
    let parsed: Result<Value, serde_json::Error> = serde_json::from_slice(&a.body);
    // Shodan's errors are `{"error": "..."}`, whatever the status (even 200).
    let shodan_error = parsed.as_ref().ok().and_then(|v| {
        v.get("error").filter(|e| !e.is_null()).map(|e| match e {
            Value::String(s) => printable(s.as_bytes(), SNIPPET),
            other => printable(other.to_string().as_bytes(), SNIPPET),
        })
    });
    let message = || {
        shodan_error.clone().unwrap_or_else(|| {
            let body = String::from_utf8_lossy(&a.body);
            let start = body.trim_start();
            if start.is_empty() {
                "(empty answer)".to_string()
            } else {
                printable(start.as_bytes(), SNIPPET)
            }
        })
    };
    match a.status {
        200..=299 => {}
        300..=399 => return Reading::Error(ApiError::Redirect { status: a.status }),
        401 => return Reading::Error(ApiError::BadKey { message: message() }),
        429 | 502..=504 => {
            return Reading::Retry {
                status: a.status,
                wait: a.retry_after,
                message: message(),
            }
        }
        status => {
            return Reading::Error(ApiError::Refused {
                status,
                message: message(),
            })
        }
    }
    if shodan_error.is_some() {
        return Reading::Error(ApiError::Refused {
            status: a.status,
            message: message(),
        });
    }
    match parsed {
        Ok(v) => Reading::Json(v),
        Err(e) if e.is_eof() => Reading::Error(ApiError::Truncated {
            status: a.status,
            bytes: a.body.len(),
        }),
        Err(e) => {
            // serde_json's message ends with its own "at line L column C"; keep its first part.
            let detail = e.to_string();
            let detail = detail
                .split(" at line ")
                .next()
                .unwrap_or(&detail)
                .to_string();
            Reading::Error(ApiError::NotJson {
                status: a.status,
                bytes: a.body.len(),
                detail,
                line: e.line(),
                column: e.column(),
                start: printable(a.body.trim_ascii_start(), 80),
            })
        }
    }
}

/// At most one request per `gap`, measured between the starts of requests.
struct Pacer {
    gap: Duration,
    next: Option<Instant>,
}

impl Pacer {
    fn new(gap: Duration) -> Pacer {
        Pacer { gap, next: None }
    }

    /// Waits until the next request may start, and books the slot after it.
    fn wait(&mut self) {
        if let Some(next) = self.next {
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
        }
        self.next = Some(Instant::now() + self.gap);
    }

    /// Makes the next request wait at least `pause` from now.
    fn hold(&mut self, pause: Duration) {
        let at = Instant::now() + pause;
        self.next = Some(self.next.map_or(at, |n| n.max(at)));
    }
}

struct Client {
    agent: ureq::Agent,
    base: String,
    key: String,
    timeout: Duration,
    pacer: Pacer,
}

impl Client {
    fn new(s: &Settings) -> Client {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT.min(s.timeout)))
            .timeout_global(Some(s.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(USER_AGENT)
            .build();
        Client {
            agent: config.into(),
            base: s.base.clone(),
            key: s.key.clone(),
            timeout: s.timeout,
            pacer: Pacer::new(PACE),
        }
    }

    /// GET `path` with the key and `params`, paced, retried after a rate limit or a gateway
    /// error, and read as JSON.
    fn get(&mut self, path: &str, params: &[(&str, &str)]) -> Result<Value, ApiError> {
        let mut tries = 0;
        loop {
            tries += 1;
            self.pacer.wait();
            let answer = self.fetch(path, params)?;
            match read_answer(&answer) {
                Reading::Json(v) => return Ok(v),
                Reading::Error(e) => return Err(e),
                Reading::Retry {
                    status,
                    wait,
                    message,
                } => {
                    if tries > RETRIES {
                        return Err(ApiError::Busy {
                            status,
                            tries,
                            message,
                        });
                    }
                    let pause = wait
                        .unwrap_or(Duration::from_secs(2u64 << (tries - 1)))
                        .clamp(PACE, MAX_RETRY_WAIT);
                    eprintln!(
                        "medsurface: Shodan answered HTTP {status} ({message}); retry {tries} of \
                         {RETRIES} in {} s",
                        pause.as_secs()
                    );
                    self.pacer.hold(pause);
                }
            }
        }
    }

    /// One request, its status and its whole (capped) body.
    fn fetch(&self, path: &str, params: &[(&str, &str)]) -> Result<Answer, ApiError> {
        let mut request = self
            .agent
            .get(format!("{}{path}", self.base))
            .query("key", &self.key);
        for (k, v) in params {
            request = request.query(*k, *v);
        }
        let mut response = request.call().map_err(|e| self.transport_error(e, 0))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(|e| self.transport_error(e, 1))?;
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }

    /// `stage` 0: before the status line; 1: while reading the body.
    fn transport_error(&self, e: ureq::Error, stage: u8) -> ApiError {
        let timed_out = match &e {
            ureq::Error::Timeout(_) => true,
            ureq::Error::Io(io) => matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ),
            _ => false,
        };
        if timed_out {
            return ApiError::Timeout {
                secs: self.timeout.as_secs(),
            };
        }
        if let ureq::Error::BodyExceedsLimit(limit) = e {
            return ApiError::TooLarge { limit };
        }
        let detail = redact_key(&e.to_string());
        if stage == 0 {
            ApiError::Connect {
                base: self.base.clone(),
                detail,
            }
        } else {
            ApiError::CutShort { detail }
        }
    }

    /// Query credits left, from `/api-info` (`None` when the answer does not say).
    fn credits(&mut self) -> Result<Option<i64>, ApiError> {
        let info = self.get("/api-info", &[])?;
        Ok(info.get("query_credits").and_then(Value::as_i64))
    }

    /// The message of a failed request, as an input error (exit 2). Should an answer quote
    /// the key, it is hidden too (real keys are long; a short test key would mangle words).
    fn fail(&self, what: &str, e: ApiError) -> anyhow::Error {
        let mut text = format!("{what}: {e}");
        if self.key.len() >= 16 {
            text = text.replace(&self.key, "<API key>");
        }
        InputError(text).into()
    }
}

/// Hides the value of a `key=` query parameter: the client library may quote the URL it was
/// given in an error, and the URL carries the API key.
fn redact_key(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("key=") {
        out.push_str(&rest[..at + 4]);
        out.push_str("<API key>");
        let after = &rest[at + 4..];
        let end = after
            .find(|c: char| c == '&' || c == '#' || c.is_whitespace() || c == '"')
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            retry_after: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn reads_statuses_and_bodies() {
        assert!(matches!(
            read_answer(&answer(200, r#"{"matches": [], "total": 0}"#)),
            Reading::Json(_)
        ));
        match read_answer(&answer(401, r#"{"error": "Invalid API key"}"#)) {
            Reading::Error(ApiError::BadKey { message }) => assert_eq!(message, "Invalid API key"),
            other => panic!("{other:?}"),
        }
        // nginx's own 401 page: still a bad key, with the page as the message.
        assert!(matches!(
            read_answer(&answer(401, "<html>401</html>")),
            Reading::Error(ApiError::BadKey { .. })
        ));
        match read_answer(&answer(402, r#"{"error": "Insufficient query credits"}"#)) {
            Reading::Error(ApiError::Refused {
                status: 402,
                message,
            }) => {
                assert_eq!(message, "Insufficient query credits")
            }
            other => panic!("{other:?}"),
        }
        // An error object with status 200 is an error too.
        assert!(matches!(
            read_answer(&answer(200, r#"{"error": "Insufficient query credits"}"#)),
            Reading::Error(ApiError::Refused { status: 200, .. })
        ));
        assert!(matches!(
            read_answer(&answer(429, r#"{"error": "Rate limit reached"}"#)),
            Reading::Retry { status: 429, .. }
        ));
        assert!(matches!(
            read_answer(&answer(502, "<html>Bad Gateway</html>")),
            Reading::Retry { status: 502, .. }
        ));
        assert!(matches!(
            read_answer(&answer(301, "")),
            Reading::Error(ApiError::Redirect { status: 301 })
        ));
    }

    #[test]
    fn broken_answers_are_told_apart() {
        assert!(matches!(
            read_answer(&answer(200, r#"{"matches": [{"ip_str": "192.0"#)),
            Reading::Error(ApiError::Truncated { status: 200, .. })
        ));
        assert!(matches!(
            read_answer(&answer(200, "")),
            Reading::Error(ApiError::Truncated { .. })
        ));
        match read_answer(&answer(200, "<html>\n<b>maintenance\x1b[31m</b>")) {
            Reading::Error(e @ ApiError::NotJson { .. }) => {
                let text = e.to_string();
                assert!(text.contains("line 1, column 1"), "{text}");
                assert!(text.contains("\\x1b"), "escape must be escaped: {text}");
                assert!(!text.contains('\x1b'));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_text_from_the_peer_is_escaped_and_capped() {
        let long = format!(r#"{{"error": "bad\u001b[2J{}"}}"#, "x".repeat(5000));
        match read_answer(&answer(403, &long)) {
            Reading::Error(ApiError::Refused { message, .. }) => {
                assert!(message.len() < 2 * SNIPPET, "{}", message.len());
                assert!(!message.contains('\x1b'));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn banner_lists_and_shapes() {
        let a = banners(
            serde_json::json!({"matches": [{}, {}], "total": 7}),
            "matches",
        )
        .unwrap();
        assert_eq!((a.banners.len(), a.total), (2, Some(7)));
        let a = banners(serde_json::json!({"matches": null, "total": 7}), "matches").unwrap();
        assert!(a.banners.is_empty());
        assert!(matches!(
            banners(serde_json::json!({"total": "x"}), "matches"),
            Err(ApiError::Shape { missing: "matches" })
        ));
        assert!(matches!(
            banners(serde_json::json!([1, 2]), "matches"),
            Err(ApiError::Shape { .. })
        ));
        let a = banners(
            serde_json::json!({"ip_str": "192.0.2.1", "data": []}),
            "data",
        )
        .unwrap();
        assert!(a.banners.is_empty());
        assert!(matches!(
            banners(serde_json::json!({"ip_str": "192.0.2.1"}), "data"),
            Err(ApiError::Shape { missing: "data" })
        ));
    }

    #[test]
    fn host_banners_inherit_address_and_owner() {
        let host = serde_json::json!({
            "ip_str": "192.0.2.7", "org": "Example Hospital", "asn": "AS64496",
            "location": {"country_code": "US"}, "data": []
        });
        let fields = host_level_fields(&host, "192.0.2.7".parse().unwrap());
        let mut bare = serde_json::json!({"port": 104, "data": "x"});
        fill_from_host(&mut bare, &fields);
        assert_eq!(bare["ip_str"], "192.0.2.7");
        assert_eq!(bare["org"], "Example Hospital");
        assert_eq!(bare["location"]["country_code"], "US");
        // A banner's own values win, and an IPv6 banner is not given the host's IPv4 address.
        let mut own = serde_json::json!({"port": 104, "ipv6": "2001:db8::1", "org": "Mine"});
        fill_from_host(&mut own, &fields);
        assert_eq!(own["org"], "Mine");
        assert!(own.get("ip_str").is_none());
    }

    #[test]
    fn the_key_is_cut_out_of_quoted_urls() {
        assert_eq!(
            redact_key("bad uri: http://x/shodan/host/search?key=s3cr3t&query=a b"),
            "bad uri: http://x/shodan/host/search?key=<API key>&query=a b"
        );
        assert_eq!(redact_key("?key=s3cr3t"), "?key=<API key>");
        assert_eq!(redact_key("io: broken pipe"), "io: broken pipe");
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            check_base_url("https://api.shodan.io/").unwrap(),
            "https://api.shodan.io"
        );
        assert!(check_base_url("http://127.0.0.1:8080").is_ok());
        assert!(check_base_url("http://[::1]:8080/api").is_ok());
        assert!(check_base_url("http://localhost:9").is_ok());
        let e = check_base_url("http://192.0.2.1:80").unwrap_err();
        assert!(e.contains("in clear"), "{e}");
        assert!(check_base_url("ftp://127.0.0.1").is_err());
        assert!(check_base_url("api.shodan.io").is_err());
        assert!(check_base_url("https://user@api.shodan.io").is_err());
        assert!(check_base_url("https://api.shodan.io/?key=x").is_err());
        assert!(check_base_url("http://127.0.0.1.example:80").is_err());
    }

    #[test]
    fn pacer_spaces_request_starts() {
        let mut p = Pacer::new(Duration::from_millis(60));
        let t0 = Instant::now();
        p.wait();
        assert!(
            t0.elapsed() < Duration::from_millis(60),
            "the first request waits for nothing"
        );
        p.wait();
        p.wait();
        assert!(t0.elapsed() >= Duration::from_millis(120));
        p.hold(Duration::from_millis(100));
        let t1 = Instant::now();
        p.wait();
        assert!(t1.elapsed() >= Duration::from_millis(90));
    }
}
