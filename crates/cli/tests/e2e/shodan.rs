//! `medsurface shodan search|host` against a stub of the Shodan API on 127.0.0.1: the stub
//! answers in Shodan's documented JSON (`{"matches": [...], "total": N}`, the host object with
//! its `data` banners, `{"error": "..."}` on failure), checks the key and the parameters, and
//! records when each request arrived. The real service is never contacted.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::*;

const KEY: &str = "synthetic-key-0123456789";
const QUERY: &str = "\"DICOM Server Response\" port:104";

/// A request as the stub saw it.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    params: BTreeMap<String, String>,
    at: Instant,
    user_agent: String,
}

/// What the stub sends back.
enum Reply {
    Json(u16, Value),
    /// Status, extra headers, raw body.
    Raw(u16, Vec<(&'static str, String)>, Vec<u8>),
    /// A Content-Length larger than the body, then the connection closes.
    CutShort(Vec<u8>),
    /// Reads the request and never answers (until the client gives up).
    Silence,
}

type Handler = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

struct Stub {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Stub {
    /// Serves `handler` (given the request and how many came before it) on 127.0.0.1.
    fn start(handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Stub {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind stub");
        let addr = l.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let handler: Arc<Handler> = Arc::new(handler);
        std::thread::spawn(move || {
            for stream in l.incoming() {
                let Ok(stream) = stream else { continue };
                let log = log.clone();
                let handler = handler.clone();
                std::thread::spawn(move || serve(stream, &log, &*handler));
            }
        });
        Stub { addr, seen }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn searches(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path == "/shodan/host/search")
            .collect()
    }
}

fn serve(stream: TcpStream, log: &Mutex<Vec<Seen>>, handler: &Handler) {
    let at = Instant::now();
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut user_agent = String::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            if name.eq_ignore_ascii_case("user-agent") {
                user_agent = value.trim().to_string();
            }
        }
    }
    let target = request_line.split(' ').nth(1).unwrap_or("").to_string();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let params = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    let seen = Seen {
        path: path.to_string(),
        params,
        at,
        user_agent,
    };
    let index = {
        let mut log = log.lock().unwrap();
        log.push(seen.clone());
        log.len() - 1
    };
    let mut out = stream;
    let (status, headers, body, declared) = match handler(&seen, index) {
        Reply::Json(status, v) => (status, vec![], v.to_string().into_bytes(), None),
        Reply::Raw(status, headers, body) => (status, headers, body, None),
        Reply::CutShort(body) => (200, vec![], body.clone(), Some(body.len() + 4096)),
        Reply::Silence => {
            std::thread::sleep(Duration::from_secs(20));
            return;
        }
    };
    let mut head = format!(
        "HTTP/1.1 {status} Stub\r\nContent-Type: application/json\r\nConnection: close\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let length = declared.unwrap_or(body.len());
    head.push_str(&format!("Content-Length: {length}\r\n"));
    head.push_str("\r\n");
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&body);
    let _ = out.flush();
    let _ = out.shutdown(std::net::Shutdown::Both);
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
}

/// Percent-decoding of a query component (`+` is a space in forms).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Synthetic banners, shaped like lines of a Shodan export (../shared/data/shodan-sample.jsonl).

fn orthanc_http(ip: &str) -> Value {
    json!({
        "_shodan": {"module": "http", "id": "synthetic-1"},
        "asn": "AS64500", "data": "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n",
        "domains": [], "hash": 1, "hostnames": [], "ip_str": ip, "isp": "Example Cloud",
        "location": {"country_code": "DE", "city": "Munich"}, "org": "Example Clinic",
        "port": 8042, "transport": "tcp", "timestamp": "2026-10-02T03:41:17.009311",
        "http": {"status": 200, "title": "Orthanc Explorer", "server": null,
                  "html": "<html><head><title>Orthanc Explorer</title></head><body>SYNTHETIC</body></html>",
                  "location": "/app/explorer.html"},
        "tags": ["medical"]
    })
}

fn dcmtk_dicom(ip: &str) -> Value {
    json!({
        "_shodan": {"module": "dicom", "id": "synthetic-2"},
        "asn": "AS64496",
        "data": "DICOM Server Response\nAE Title: ANY-SCP\nImplementation Class UID: 1.2.276.0.7230010.3.0.3.6.7\nImplementation Version Name: OFFIS_DCMTK_367\n",
        "domains": ["hosp.example"], "hash": 2, "hostnames": ["pacs.hosp.example"], "ip_str": ip,
        "isp": "Example Research Network", "location": {"country_code": "US", "city": "Boston"},
        "org": "Example University Hospital", "port": 104, "transport": "tcp",
        "timestamp": "2026-10-01T10:15:02.481920", "opts": {}, "tags": ["medical"]
    })
}

fn api_info(credits: i64) -> Value {
    json!({"scan_credits": 100, "usage_limits": {"scan_credits": 100, "query_credits": 100},
           "plan": "dev", "https": false, "unlocked": true, "query_credits": credits,
           "monitored_ips": 0, "unlocked_left": credits, "telnet": false})
}

fn error(msg: &str) -> Value {
    json!({ "error": msg })
}

/// The stub's common rules: a wrong key is refused like Shodan does (401 with a JSON error).
fn keyed(s: &Seen, then: impl FnOnce() -> Reply) -> Reply {
    if s.params.get("key").map(String::as_str) != Some(KEY) {
        return Reply::Json(401, error("Invalid API key"));
    }
    then()
}

// ---------------------------------------------------------------------------------------------
// Running the binary

/// The binary with a clean environment: no key, no proxy, no user config.
fn shodan_cmd(home: &TempDb) -> Command {
    let mut c = bin();
    for var in [
        "SHODAN_API_KEY",
        "MEDSURFACE_SHODAN_URL",
        "MEDSURFACE_CONFIG",
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        c.env_remove(var);
    }
    c.env("XDG_CONFIG_HOME", home.dir.path().join("config"));
    c.env("HOME", home.dir.path());
    c
}

fn shodan(db: &TempDb, stub: &Stub, args: &[&str]) -> Output {
    let mut c = shodan_cmd(db);
    c.env("SHODAN_API_KEY", KEY);
    c.arg("shodan").args(args);
    c.args(["--api-url", &stub.url(), "--db", &db.arg()]);
    c.output().expect("run medsurface shodan")
}

fn products(db: &TempDb) -> BTreeMap<String, u64> {
    let o = run(&["stats", "--by", "product", "--json", "--db", &db.arg()]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|r| {
            (
                r["product"].as_str().unwrap_or("?").to_string(),
                r["services"].as_u64().unwrap(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn search_stores_two_paced_pages_classified_and_merges_with_the_file_import() {
    let stub = Stub::start(|s, _| {
        keyed(s, || {
            match (s.path.as_str(), s.params.get("page").map(String::as_str)) {
                ("/api-info", _) => Reply::Json(200, api_info(100)),
                ("/shodan/host/search", Some("1")) => Reply::Json(
                    200,
                    json!({"matches": [orthanc_http("198.51.100.7"), dcmtk_dicom("192.0.2.10")],
                       "total": 250}),
                ),
                ("/shodan/host/search", Some("2")) => Reply::Json(
                    200,
                    json!({"matches": [dcmtk_dicom("192.0.2.11")], "total": 250}),
                ),
                _ => Reply::Json(404, error("No such page in this stub")),
            }
        })
    });
    let db = TempDb::new();
    let o = shodan(&db, &stub, &["search", QUERY, "--pages", "2"]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("2 pages, 3 banners fetched of 250 matching, 3 stored, 0 malformed"),
        "{err}"
    );
    assert!(err.contains("query credits left: 100"), "{err}");
    assert!(!err.contains(KEY), "the key must never be printed: {err}");

    // Key, query and pages as Shodan expects them; one request per second at most.
    let searches = stub.searches();
    assert_eq!(searches.len(), 2, "{searches:?}");
    for (i, s) in searches.iter().enumerate() {
        assert_eq!(s.params["key"], KEY);
        assert_eq!(s.params["query"], QUERY);
        assert_eq!(s.params["page"], (i + 1).to_string());
        assert!(s.user_agent.starts_with("medsurface/"), "{}", s.user_agent);
    }
    let all = stub.seen();
    assert_eq!(all.first().map(|s| s.path.as_str()), Some("/api-info"));
    for pair in all.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(
            gap >= Duration::from_millis(900),
            "requests {:?} and {:?} only {gap:?} apart",
            pair[0].path,
            pair[1].path
        );
    }

    let before = products(&db);
    assert_eq!(
        before.get("Orthanc project Orthanc"),
        Some(&1),
        "{before:?}"
    );
    assert_eq!(before.get("OFFIS DCMTK"), Some(&2), "{before:?}");

    // The same banners from an export file are the same services (source `shodan` both ways).
    let file = db.dir.path().join("export.jsonl");
    let lines = [orthanc_http("198.51.100.7"), dcmtk_dicom("192.0.2.10")]
        .map(|v| v.to_string())
        .join("\n");
    std::fs::write(&file, lines + "\n").unwrap();
    let o = run(&[
        "ingest",
        "shodan",
        &file.display().to_string(),
        "--db",
        &db.arg(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(products(&db), before);
}

#[test]
fn search_stops_when_the_results_run_out() {
    let stub = Stub::start(|s, _| {
        keyed(s, || match s.path.as_str() {
            "/api-info" => Reply::Json(200, api_info(5)),
            _ => Reply::Json(
                200,
                json!({"matches": [dcmtk_dicom("192.0.2.20")], "total": 1}),
            ),
        })
    });
    let db = TempDb::new();
    let o = shodan(&db, &stub, &["search", "DICOM", "--pages", "5"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stub.searches().len(), 1, "no credits spent on empty pages");
    assert!(
        stderr(&o).contains("1 page, 1 banners fetched of 1 matching"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_bad_key_is_exit_2_before_anything_is_spent() {
    let stub = Stub::start(|s, _| keyed(s, || Reply::Json(200, api_info(100))));
    let db = TempDb::new();
    let mut c = shodan_cmd(&db);
    c.env("SHODAN_API_KEY", "wrong-key-42");
    c.args([
        "shodan",
        "search",
        QUERY,
        "--api-url",
        &stub.url(),
        "--db",
        &db.arg(),
    ]);
    let o = c.output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("refused the API key (HTTP 401): Invalid API key"),
        "{err}"
    );
    assert!(!err.contains("wrong-key-42"), "{err}");
    assert!(stub.searches().is_empty(), "no search after a refused key");
}

#[test]
fn exhausted_credits_are_exit_2_with_shodans_message() {
    const NO_CREDITS: &str = "Insufficient query credits, please upgrade your API plan or wait \
                              for the monthly limit to reset";
    let stub = Stub::start(|s, _| {
        keyed(s, || match s.path.as_str() {
            "/api-info" => Reply::Json(200, api_info(0)),
            _ => Reply::Json(402, error(NO_CREDITS)),
        })
    });
    let db = TempDb::new();
    let o = shodan(&db, &stub, &["search", QUERY, "--pages", "3"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("may need up to 3 query credits"), "{err}");
    assert!(
        err.contains("page 1: Shodan refused the request (HTTP 402)"),
        "{err}"
    );
    assert!(err.contains(NO_CREDITS), "{err}");
    assert_eq!(stub.searches().len(), 1, "a refusal is not retried");
}

#[test]
fn rate_limit_is_retried_after_a_pause() {
    let stub = Stub::start(|s, n| {
        keyed(s, || match s.path.as_str() {
            "/api-info" => Reply::Json(200, api_info(100)),
            // The first search is rate-limited, the second answers.
            _ if n == 1 => Reply::Raw(
                429,
                vec![("Retry-After", "2".into())],
                error("Rate limit reached").to_string().into_bytes(),
            ),
            _ => Reply::Json(
                200,
                json!({"matches": [orthanc_http("198.51.100.9")], "total": 1}),
            ),
        })
    });
    let db = TempDb::new();
    let o = shodan(&db, &stub, &["search", "orthanc"]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("HTTP 429 (Rate limit reached); retry 1 of 3 in 2 s"),
        "{err}"
    );
    let searches = stub.searches();
    assert_eq!(searches.len(), 2);
    let gap = searches[1].at.duration_since(searches[0].at);
    assert!(
        gap >= Duration::from_millis(1900),
        "Retry-After not honoured: {gap:?}"
    );
    assert_eq!(products(&db).get("Orthanc project Orthanc"), Some(&1));
}

#[test]
fn a_rate_limit_that_does_not_lift_is_exit_2() {
    let stub = Stub::start(|s, _| {
        keyed(s, || match s.path.as_str() {
            "/api-info" => Reply::Json(200, api_info(100)),
            _ => Reply::Raw(
                429,
                vec![("Retry-After", "1".into())],
                error("Rate limit reached").to_string().into_bytes(),
            ),
        })
    });
    let db = TempDb::new();
    let o = shodan(&db, &stub, &["search", "orthanc"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("still answers HTTP 429 after 4 tries"),
        "{err}"
    );
    assert_eq!(stub.searches().len(), 4, "bounded retries");
}

#[test]
fn a_failing_page_two_keeps_page_one() {
    let stub = Stub::start(|s, _| {
        keyed(s, || {
            match (s.path.as_str(), s.params.get("page").map(String::as_str)) {
                ("/api-info", _) => Reply::Json(200, api_info(100)),
                (_, Some("1")) => Reply::Json(
                    200,
                    json!({"matches": [orthanc_http("198.51.100.30"), dcmtk_dicom("192.0.2.30")],
                       "total": 300}),
                ),
                // Page 2 breaks off in the middle of its body.
                _ => Reply::CutShort(br#"{"matches": [{"ip_str": "192.0.2.31", "po"#.to_vec()),
            }
        })
    });
    let db = TempDb::new();
    let o = shodan(&db, &stub, &["search", QUERY, "--pages", "3"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("page 2: the answer broke off"), "{err}");
    assert!(err.contains("1 page, 2 banners fetched"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let p = products(&db);
    assert_eq!(p.get("Orthanc project Orthanc"), Some(&1), "{p:?}");
    assert_eq!(p.get("OFFIS DCMTK"), Some(&1), "{p:?}");
    assert_eq!(stub.searches().len(), 2, "no page 3 after page 2 failed");
}

#[test]
fn garbage_and_truncated_answers_are_clear_errors() {
    let html = Stub::start(|s, _| {
        keyed(s, || {
            Reply::Raw(
                200,
                vec![],
                b"<html><body>Service temporarily \x1b[31munavailable</body></html>".to_vec(),
            )
        })
    });
    let db = TempDb::new();
    let o = shodan(&db, &html, &["search", "orthanc"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot read the query credits"), "{err}");
    assert!(err.contains("page 1: the answer (HTTP 200, "), "{err}");
    assert!(err.contains("is not JSON"), "{err}");
    assert!(
        !err.contains('\x1b'),
        "peer text reaches the terminal escaped: {err}"
    );

    // A complete HTTP answer whose JSON stops half-way.
    let cut = Stub::start(|s, _| {
        keyed(s, || match s.path.as_str() {
            "/api-info" => Reply::Json(200, api_info(100)),
            _ => Reply::Raw(
                200,
                vec![],
                br#"{"matches": [{"ip_str": "192.0.2.40", "#.to_vec(),
            ),
        })
    });
    let o = shodan(&db, &cut, &["search", "orthanc"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("ends in the middle of its JSON: truncated"),
        "{err}"
    );

    // Valid JSON of the wrong shape.
    let shape = Stub::start(|s, _| keyed(s, || Reply::Json(200, json!({"results": []}))));
    let o = shodan(&db, &shape, &["host", "192.0.2.41"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("has no `data` list"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_silent_server_times_out() {
    let stub = Stub::start(|s, _| keyed(s, || Reply::Silence));
    let db = TempDb::new();
    let started = Instant::now();
    let o = shodan(&db, &stub, &["host", "192.0.2.50", "--timeout", "2"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no complete answer within 2 s"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "timeout not applied"
    );
}

#[test]
fn host_imports_its_banners_with_the_hosts_address() {
    let stub = Stub::start(|s, _| {
        keyed(s, || match s.path.as_str() {
            "/shodan/host/192.0.2.60" => {
                let mut dicom = dcmtk_dicom("ignored");
                let b = dicom.as_object_mut().unwrap();
                // Banners of a host answer may leave the address and owner to the host.
                b.remove("ip_str");
                b.remove("org");
                Reply::Json(
                    200,
                    json!({"ip_str": "192.0.2.60", "org": "Example Imaging Center",
                           "ports": [104, 8042], "hostnames": [],
                           "data": [dicom, orthanc_http("192.0.2.60")]}),
                )
            }
            _ => Reply::Json(404, error("No information available for that IP.")),
        })
    });
    let db = TempDb::new();
    let o = shodan(&db, &stub, &["host", "192.0.2.60"]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("2 banners fetched, 2 stored, 0 malformed"),
        "{err}"
    );
    let p = products(&db);
    assert_eq!(p.get("OFFIS DCMTK"), Some(&1), "{p:?}");
    assert_eq!(p.get("Orthanc project Orthanc"), Some(&1), "{p:?}");
    let o = run(&["stats", "--by", "org", "--json", "--db", &db.arg()]);
    assert!(
        stdout(&o).contains("Example Imaging Center"),
        "{}",
        stdout(&o)
    );

    // An address Shodan does not know: nothing to import, not an error.
    let o = shodan(&db, &stub, &["host", "192.0.2.61"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no information on this address"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn key_and_url_come_from_the_config_file_and_the_environment_wins() {
    let stub = Stub::start(|s, _| {
        keyed(s, || {
            Reply::Json(200, json!({"ip_str": "192.0.2.70", "data": []}))
        })
    });
    let db = TempDb::new();
    let config = db.dir.path().join("medsurface.toml");
    std::fs::write(
        &config,
        format!(
            "shodan_api_key = \"{KEY}\"\nshodan_api_url = \"{}\"\n",
            stub.url()
        ),
    )
    .unwrap();
    let mut c = shodan_cmd(&db);
    c.env("MEDSURFACE_CONFIG", &config);
    c.args(["shodan", "host", "192.0.2.70", "--db", &db.arg()]);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stub.seen().len(), 1);

    // SHODAN_API_KEY wins over the file.
    let mut c = shodan_cmd(&db);
    c.env("MEDSURFACE_CONFIG", &config);
    c.env("SHODAN_API_KEY", "env-key-wins");
    c.args(["shodan", "host", "192.0.2.70", "--db", &db.arg()]);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stub.seen().last().unwrap().params["key"], "env-key-wins");

    // The default place: $XDG_CONFIG_HOME/medsurface/config.toml, read strictly.
    let dir = db.dir.path().join("config/medsurface");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "geoip_db = \"g.mmdb\"\nshodan_key = \"x\"\n",
    )
    .unwrap();
    let mut c = shodan_cmd(&db);
    c.args(["shodan", "host", "192.0.2.70", "--db", &db.arg()]);
    let o = c.output().unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("config/medsurface/config.toml:2: "), "{err}");
    assert!(err.contains("shodan_key"), "{err}");
}

#[test]
fn no_key_or_a_cleartext_url_is_refused_before_any_request() {
    let db = TempDb::new();
    let mut c = shodan_cmd(&db);
    c.args(["shodan", "search", "orthanc", "--db", &db.arg()]);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no Shodan API key: set SHODAN_API_KEY"),
        "{}",
        stderr(&o)
    );

    // The documentation range, never contacted: refused on the URL alone.
    let mut c = shodan_cmd(&db);
    c.env("SHODAN_API_KEY", KEY);
    c.args([
        "shodan",
        "host",
        "192.0.2.1",
        "--api-url",
        "http://192.0.2.80:8080",
    ]);
    c.args(["--db", &db.arg()]);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("send the API key in clear"),
        "{}",
        stderr(&o)
    );
}
