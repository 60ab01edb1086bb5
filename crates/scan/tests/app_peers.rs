//! The HL7 and database probes against real peers (python-hl7 and hl7apy MLLP servers,
//! PostgreSQL, Redis, MariaDB) and faithful synthetic ones (MongoDB, Elasticsearch: not in
//! Debian), and against hostile imitations; everything on 127.0.0.1.
//!
//! The real peers are started by `scripts/peers/apps/start` (installed by
//! `scripts/peers/apps/install`, which `scripts/install-test-deps` runs); one test drives them
//! all, because they are one lab to start and stop, and asserts each peer's details exactly —
//! the whole map, so a key that should be absent (a version a locked server did not give, an
//! `auth_required` the MySQL greeting cannot tell) is checked too — and its exact
//! classification by the shipped signatures, then reads what the peers
//! recorded they were sent (one MSH-only NMQ with processing ID `T` per HL7 peer, only the
//! documented MongoDB commands and HTTP requests, no SQL statement in PostgreSQL's log, one
//! `INFO` in Redis's command statistics), and finally scans the peers through the engine on
//! their usual ports (forwarded from a loopback address) to prove the registry routes each
//! port to its probe.
//!
//! The hostile peers are in-process listeners, one test each: silence, slow drip, oversized
//! length fields, floods and garbage must all end in a bounded outcome that claims no
//! protocol. Nothing sleeps to synchronise: readiness is polled by the start script, and
//! PostgreSQL's log is polled (bounded) for the line it writes after a client has gone; the
//! hostile peers sleep only to be slow on purpose.

mod common;

use common::*;

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use medsurface_analyze::{Category, Classifier};
use medsurface_model::Details;
use medsurface_scan::probes::{self, db, hl7};
use medsurface_scan::{ProbeContext, ProbeOutput};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

impl PeerLab {
    /// The requests a synthetic or HL7 peer recorded, one per line.
    fn requests(&self, peer: &str) -> Vec<String> {
        let path = self.json["peers"][peer]["requests"]
            .as_str()
            .expect("requests path");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// A PostgreSQL instance's log, polled (bounded: 5 s) until `ready` holds — the server
    /// writes some lines, such as a disconnection, just after the client has gone.
    fn pg_log_when(&self, peer: &str, ready: impl Fn(&str) -> bool) -> String {
        let path = self.json["peers"][peer]["log"].as_str().expect("log path");
        let mut text = String::new();
        for _ in 0..100 {
            text = std::fs::read_to_string(path).unwrap_or_default();
            if ready(&text) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        text
    }

    fn version(&self, product: &str) -> String {
        self.json["versions"][product]
            .as_str()
            .expect("version")
            .to_string()
    }
}

fn ctx() -> ProbeContext {
    ProbeContext {
        read_timeout: Duration::from_secs(3),
        probe_timeout: Duration::from_secs(15),
        ..ProbeContext::default()
    }
}

/// Connects to `port` on 127.0.0.1 and runs `probe` with an outer timeout.
async fn run<F, Fut>(port: u16, ctx: &ProbeContext, probe: F) -> (ProbeOutput, Duration)
where
    F: FnOnce(TcpStream, ProbeContext) -> Fut,
    Fut: Future<Output = ProbeOutput>,
{
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    let started = Instant::now();
    let out = tokio::time::timeout(ctx.probe_timeout, probe(stream, ctx.clone()))
        .await
        .expect("the probe ends within its budget");
    (out, started.elapsed())
}

macro_rules! probe_fn {
    ($path:path) => {
        |mut stream: TcpStream, ctx: ProbeContext| async move { $path(&mut stream, &ctx).await }
    };
}

/// Every key a probe wrote is in the field vocabulary.
fn assert_vocabulary(what: &str, d: &Details) {
    for key in d.keys() {
        assert!(
            medsurface_model::fields::field(key).is_some(),
            "{what}: key {key} is not in medsurface_model::fields"
        );
    }
}

fn as_map(v: Value) -> Details {
    v.as_object().expect("object").clone().into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_and_synthetic_peers_give_their_exact_facts() {
    let lab = PeerLab::start("scripts/peers/apps", "apps.json");
    let ctx = ctx();
    let mut bad = Vec::new();
    // Each output, with the probe that made it (named as its protocol), for classification.
    let mut outputs: Vec<(String, &str, ProbeOutput)> = Vec::new();
    let mut check = |peer: &str, out: ProbeOutput, protocol: &'static str, want: Value| {
        assert_vocabulary(peer, &out.details);
        let want = as_map(want);
        if out.protocol.as_deref() != Some(protocol) || out.details != want {
            bad.push(format!(
                "{peer}: protocol {:?}, details {}\n    expected {protocol}, {}",
                out.protocol,
                serde_json::to_string(&out.details).unwrap_or_default(),
                serde_json::to_string(&want).unwrap_or_default()
            ));
        }
        outputs.push((peer.to_string(), protocol, out));
    };

    // HL7: python-hl7 acknowledges anything (AA); hl7apy, set up as an ADT^A01 receiver,
    // rejects our NMQ^N01 as an unsupported message type (AR) without handling it.
    let (out, _) = run(lab.port("python-hl7"), &ctx, probe_fn!(hl7::probe)).await;
    check(
        "python-hl7",
        out,
        "hl7",
        json!({
            "hl7.speaks_mllp": true,
            "hl7.sending_application": "PYTHON-HL7",
            "hl7.sending_facility": "MEDSURFACE-LAB",
            "hl7.message_type": "ACK^N01^ACK",
            "hl7.version": "2.5",
            "hl7.ack_code": "AA",
        }),
    );
    let (out, _) = run(lab.port("hl7apy"), &ctx, probe_fn!(hl7::probe)).await;
    check(
        "hl7apy",
        out,
        "hl7",
        json!({
            "hl7.speaks_mllp": true,
            "hl7.sending_application": "HL7APY",
            "hl7.sending_facility": "MEDSURFACE-LAB",
            "hl7.message_type": "ACK^N01^ACK",
            "hl7.version": "2.5",
            "hl7.ack_code": "AR",
        }),
    );

    // PostgreSQL: trust with TLS offered (role and database medsurface exist there, so the
    // session starts and server_version arrives); trust without TLS and without such a role
    // (AuthenticationOk, then FATAL: role does not exist — open, version unknown); and
    // scram-sha-256 (a password demanded).
    let (out, _) = run(
        lab.port("pg-trust-tls"),
        &ctx,
        probe_fn!(db::postgres::probe),
    )
    .await;
    check(
        "pg-trust-tls",
        out,
        "postgresql",
        json!({
            "db.product": "PostgreSQL",
            "db.version": lab.version("postgresql"),
            "db.auth_required": false,
        }),
    );
    let (out, _) = run(lab.port("pg-trust"), &ctx, probe_fn!(db::postgres::probe)).await;
    check(
        "pg-trust",
        out,
        "postgresql",
        json!({
            "db.product": "PostgreSQL",
            "db.auth_required": false,
        }),
    );
    let (out, _) = run(
        lab.port("pg-password"),
        &ctx,
        probe_fn!(db::postgres::probe),
    )
    .await;
    check(
        "pg-password",
        out,
        "postgresql",
        json!({
            "db.product": "PostgreSQL",
            "db.auth_required": true,
        }),
    );

    // Redis: open versus requirepass.
    let (out, _) = run(lab.port("redis-open"), &ctx, probe_fn!(db::redis::probe)).await;
    check(
        "redis-open",
        out,
        "redis",
        json!({
            "db.product": "Redis",
            "db.version": lab.version("redis"),
            "db.auth_required": false,
        }),
    );
    // The server counted exactly one command, our INFO (it counts a command once it is done, so
    // the INFO commandstats asked here is not in its own answer).
    let stats = redis_command_stats(lab.port("redis-open")).await;
    assert_eq!(stats.len(), 1, "redis-open ran other commands: {stats:?}");
    assert!(stats[0].starts_with("cmdstat_info:calls=1,"), "{stats:?}");
    let (out, _) = run(lab.port("redis-auth"), &ctx, probe_fn!(db::redis::probe)).await;
    check(
        "redis-auth",
        out,
        "redis",
        json!({
            "db.product": "Redis",
            "db.auth_required": true,
        }),
    );

    // MariaDB: the greeting's version, the 5.5.5- prefix removed; no auth verdict.
    let (out, _) = run(lab.port("mariadb"), &ctx, probe_fn!(db::mysql::probe)).await;
    check(
        "mariadb",
        out,
        "mysql",
        json!({
            "db.product": "MariaDB",
            "db.version": lab.version("mariadb"),
        }),
    );

    // Synthetic MongoDB and Elasticsearch, open and locked.
    let (out, _) = run(lab.port("mongo-open"), &ctx, probe_fn!(db::mongodb::probe)).await;
    check(
        "mongo-open",
        out,
        "mongodb",
        json!({
            "db.product": "MongoDB",
            "db.version": lab.version("mongodb"),
            "db.auth_required": false,
            "db.databases": lab.json["mongodb_databases"].clone(),
        }),
    );
    let (out, _) = run(lab.port("mongo-auth"), &ctx, probe_fn!(db::mongodb::probe)).await;
    check(
        "mongo-auth",
        out,
        "mongodb",
        json!({
            "db.product": "MongoDB",
            "db.version": lab.version("mongodb"),
            "db.auth_required": true,
        }),
    );
    // A MongoDB before 3.6 (wire version 5) has no OP_MSG: every command goes as OP_QUERY.
    let (out, _) = run(
        lab.port("mongo-legacy"),
        &ctx,
        probe_fn!(db::mongodb::probe),
    )
    .await;
    check(
        "mongo-legacy",
        out,
        "mongodb",
        json!({
            "db.product": "MongoDB",
            "db.version": lab.version("mongodb-legacy"),
            "db.auth_required": false,
            "db.databases": lab.json["mongodb_databases"].clone(),
        }),
    );
    let (out, _) = run(
        lab.port("es-open"),
        &ctx,
        probe_fn!(db::elasticsearch::probe),
    )
    .await;
    check(
        "es-open",
        out,
        "elasticsearch",
        json!({
            "db.product": "Elasticsearch",
            "db.version": lab.version("elasticsearch"),
            "db.auth_required": false,
            "db.databases": lab.json["elasticsearch_indices"].clone(),
        }),
    );
    let (out, _) = run(
        lab.port("es-auth"),
        &ctx,
        probe_fn!(db::elasticsearch::probe),
    )
    .await;
    check(
        "es-auth",
        out,
        "elasticsearch",
        json!({
            "db.product": "Elasticsearch",
            "db.auth_required": true,
        }),
    );

    // Cross-protocol: each probe pointed at another protocol's peer claims nothing.
    let (out, _) = run(lab.port("redis-open"), &ctx, probe_fn!(hl7::probe)).await;
    assert_eq!(out.protocol, None, "hl7 on redis: {:?}", out.details);
    assert_eq!(out.details["hl7.speaks_mllp"], json!(false));
    let (out, _) = run(lab.port("python-hl7"), &ctx, probe_fn!(db::mysql::probe)).await;
    assert_eq!(out.protocol, None, "mysql on python-hl7: {:?}", out.details);
    assert_eq!(out.details["banner.silent"], json!(true));
    let (out, _) = run(lab.port("mariadb"), &ctx, probe_fn!(db::postgres::probe)).await;
    assert_eq!(out.protocol, None, "postgres on mariadb: {:?}", out.details);
    assert!(!out.details.contains_key("db.product"));

    // Classification of every output above by the shipped signatures. The HL7 peers are
    // libraries whose sending application is whatever the lab configured, so only the generic
    // MLLP listener fits, with MSH-12 as its version; a database's version is read only when
    // its handshake gave one (not from a locked Redis or Elasticsearch, nor from PostgreSQL
    // without a session).
    let classifier = Classifier::builtin().expect("the shipped signatures load");
    let hl7 = || {
        Some(verdict(
            "generic-hl7-mllp",
            Category::Interface,
            "HL7 v2 interface",
            Some("2.5"),
        ))
    };
    let db = |signature: &str, product: &str, version: Option<String>| {
        Some(verdict(
            signature,
            Category::Database,
            product,
            version.as_deref(),
        ))
    };
    let v = |product: &str| Some(lab.version(product));
    let expected_verdicts: Vec<(&str, Option<Verdict>)> = vec![
        ("python-hl7", hl7()),
        ("hl7apy", hl7()),
        (
            "pg-trust-tls",
            db("postgresql", "PostgreSQL", v("postgresql")),
        ),
        ("pg-trust", db("postgresql", "PostgreSQL", None)),
        ("pg-password", db("postgresql", "PostgreSQL", None)),
        ("redis-open", db("redis", "Redis", v("redis"))),
        ("redis-auth", db("redis", "Redis", None)),
        ("mariadb", db("mariadb", "MariaDB", v("mariadb"))),
        ("mongo-open", db("mongodb", "MongoDB", v("mongodb"))),
        ("mongo-auth", db("mongodb", "MongoDB", v("mongodb"))),
        (
            "mongo-legacy",
            db("mongodb", "MongoDB", v("mongodb-legacy")),
        ),
        (
            "es-open",
            db("elasticsearch", "Elasticsearch", v("elasticsearch")),
        ),
        ("es-auth", db("elasticsearch", "Elasticsearch", None)),
    ];
    let named: Vec<&str> = expected_verdicts.iter().map(|(n, _)| *n).collect();
    let observed: Vec<&str> = outputs.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(named, observed, "one expected verdict per observation");
    for ((peer, probe, out), (_, want)) in outputs.iter().zip(&expected_verdicts) {
        let got = classify(&classifier, probe, lab.port(peer), out);
        if &got != want {
            bad.push(format!(
                "{peer}: classified {got:?}, expected {want:?}\n    all details: {}",
                serde_json::to_string(&out.details).unwrap_or_default()
            ));
        }
    }

    assert!(bad.is_empty(), "{}", bad.join("\n"));

    // What the peers say they were sent. HL7: one message each, the MSH alone, NMQ^N01,
    // processing ID T, naming medsurface.
    for peer in ["python-hl7", "hl7apy"] {
        let got = lab.requests(peer);
        assert_eq!(got.len(), 1, "{peer} received {got:?}");
        let segments: Vec<&str> = got[0].split("\\r").filter(|s| !s.is_empty()).collect();
        assert_eq!(segments.len(), 1, "{peer}: more than the MSH: {got:?}");
        let msh: Vec<&str> = segments[0].split('|').collect();
        assert_eq!(&msh[..3], ["MSH", "^~\\&", "MEDSURFACE"], "{peer}: {got:?}");
        assert_eq!(
            (msh[8], msh[10], msh[11]),
            ("NMQ^N01^NMQ_N01", "T", "2.5"),
            "{peer}"
        );
    }
    // MongoDB: the handshake, buildInfo, and listDatabases asking for names only.
    let mongo = [
        r#"OP_QUERY {"isMaster": 1}"#,
        r#"OP_MSG {"$db": "admin", "buildInfo": 1}"#,
        r#"OP_MSG {"$db": "admin", "listDatabases": 1, "nameOnly": true}"#,
    ];
    assert_eq!(lab.requests("mongo-open"), mongo);
    assert_eq!(lab.requests("mongo-auth"), mongo);
    assert_eq!(
        lab.requests("mongo-legacy"),
        [
            r#"OP_QUERY {"isMaster": 1}"#,
            r#"OP_QUERY {"buildInfo": 1}"#,
            r#"OP_QUERY {"listDatabases": 1, "nameOnly": true}"#,
        ]
    );
    // Elasticsearch: GET / and, only when open, the index names; medsurface's User-Agent.
    let ua = &ctx.user_agent;
    assert_eq!(
        lab.requests("es-open"),
        [
            format!("GET / UA={ua}"),
            format!("GET /_cat/indices?h=index UA={ua}")
        ]
    );
    assert_eq!(lab.requests("es-auth"), [format!("GET / UA={ua}")]);
    // PostgreSQL: no statement ran except the lab's own set-up; the session on the TLS
    // instance started inside TLS and ended (Terminate); the password instance never saw a
    // password or a stray message where it expected one.
    let tls_log = lab.pg_log_when("pg-trust-tls", |l| {
        l.lines()
            .any(|x| x.contains("disconnection:") && x.contains("user=medsurface"))
    });
    let authorized = tls_log
        .lines()
        .find(|l| l.contains("connection authorized: user=medsurface database=medsurface"))
        .unwrap_or_else(|| panic!("no medsurface session in the log:\n{tls_log}"));
    assert!(authorized.contains("SSL enabled"), "{authorized}");
    assert!(tls_log
        .lines()
        .any(|l| l.contains("disconnection:") && l.contains("user=medsurface")));
    for peer in ["pg-trust-tls", "pg-trust", "pg-password"] {
        let log = lab.pg_log_when(peer, |_| true);
        for line in log.lines().filter(|l| l.contains("statement:")) {
            assert!(
                line.contains("CREATE ROLE medsurface")
                    || line.contains("CREATE DATABASE medsurface"),
                "{peer} ran a statement that is not the lab's set-up: {line}"
            );
        }
        assert!(
            !log.contains("expected password response"),
            "{peer}:\n{log}"
        );
        assert!(
            !log.contains("password authentication failed"),
            "{peer}:\n{log}"
        );
    }
}

/// The `cmdstat_*` lines of a Redis server's `INFO commandstats`.
async fn redis_command_stats(port: u16) -> Vec<String> {
    use medsurface_proto::db::redis::{read_reply, Reply};
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.write_all(b"*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let reply = loop {
        if let Ok(Some(r)) = read_reply(&buf, 64 * 1024) {
            break r;
        }
        let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut chunk))
            .await
            .expect("INFO commandstats in time")
            .expect("read");
        assert!(n > 0, "redis closed");
        buf.extend_from_slice(&chunk[..n]);
    };
    let Reply::Text(text) = reply else {
        panic!("{reply:?}")
    };
    String::from_utf8_lossy(&text)
        .lines()
        .filter(|l| l.starts_with("cmdstat_"))
        .map(str::to_string)
        .collect()
}

#[test]
fn registry_routes_the_usual_ports_to_these_probes() {
    for (port, name) in [
        (2575, "hl7"),
        (6661, "hl7"),
        (5432, "postgresql"),
        (3306, "mysql"),
        (6379, "redis"),
        (27017, "mongodb"),
        (9200, "elasticsearch"),
    ] {
        assert_eq!(probes::probe_for(port).name(), name, "port {port}");
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile peers

/// What a hostile peer does with an accepted connection.
#[derive(Debug, Clone)]
enum Hostile {
    /// Reads what comes and never answers (holds the connection).
    Silent,
    /// Answers with these bytes, then holds the connection.
    Say(Vec<u8>),
    /// Answers with these bytes one at a time, 20 ms apart, then holds the connection.
    Drip(Vec<u8>),
    /// Answers with this prefix, then an endless stream of `filler`.
    Flood { prefix: Vec<u8>, filler: u8 },
    /// Closes at once.
    Close,
}

/// Starts a one-connection hostile listener on 127.0.0.1:0 and returns its port.
async fn hostile(behaviour: Hostile) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let Ok((mut s, _)) = listener.accept().await else {
            return;
        };
        // Wait for the probe to speak first (some probes do not: then time out quietly).
        let mut first = [0u8; 512];
        let _ = tokio::time::timeout(Duration::from_millis(200), s.read(&mut first)).await;
        match behaviour {
            Hostile::Close => return,
            Hostile::Silent => {}
            Hostile::Say(bytes) => {
                let _ = s.write_all(&bytes).await;
            }
            Hostile::Drip(bytes) => {
                for b in bytes {
                    if s.write_all(&[b]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            Hostile::Flood { prefix, filler } => {
                if s.write_all(&prefix).await.is_err() {
                    return;
                }
                let chunk = vec![filler; 64 * 1024];
                // Bounded: at most 64 MiB, or until the probe hangs up.
                for _ in 0..1024 {
                    if s.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
            }
        }
        // Hold the connection until the probe hangs up.
        let mut sink = [0u8; 4096];
        while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(20), s.read(&mut sink)).await
        {
            if n == 0 {
                break;
            }
        }
    });
    port
}

fn hostile_ctx() -> ProbeContext {
    ProbeContext {
        read_timeout: Duration::from_millis(400),
        probe_timeout: Duration::from_secs(6),
        ..ProbeContext::default()
    }
}

type ProbeFnBox =
    fn(TcpStream, ProbeContext) -> std::pin::Pin<Box<dyn Future<Output = ProbeOutput> + Send>>;

fn probe_by_name(name: &str) -> ProbeFnBox {
    match name {
        "hl7" => |mut s, c| Box::pin(async move { hl7::probe(&mut s, &c).await }),
        "postgresql" => |mut s, c| Box::pin(async move { db::postgres::probe(&mut s, &c).await }),
        "mysql" => |mut s, c| Box::pin(async move { db::mysql::probe(&mut s, &c).await }),
        "redis" => |mut s, c| Box::pin(async move { db::redis::probe(&mut s, &c).await }),
        "mongodb" => |mut s, c| Box::pin(async move { db::mongodb::probe(&mut s, &c).await }),
        "elasticsearch" => {
            |mut s, c| Box::pin(async move { db::elasticsearch::probe(&mut s, &c).await })
        }
        other => panic!("no probe {other}"),
    }
}

/// Runs probe `name` against a hostile peer: it must end within `max`, claim no protocol, write
/// only vocabulary keys, and never write a `db.*` or positive `hl7.*` fact.
async fn expect_bounded(name: &str, behaviour: Hostile, max: Duration) -> ProbeOutput {
    let what = format!("{name} vs {behaviour:?}");
    let what = &what[..what.len().min(160)];
    let port = hostile(behaviour).await;
    let ctx = hostile_ctx();
    let (out, elapsed) = run(port, &ctx, probe_by_name(name)).await;
    assert!(elapsed < max, "{what}: took {elapsed:?}");
    assert_eq!(out.protocol, None, "{what}: {:?}", out.details);
    assert_vocabulary(what, &out.details);
    assert!(
        !out.details.keys().any(|k| k.starts_with("db.")),
        "{what}: {:?}",
        out.details
    );
    assert_ne!(
        out.details.get("hl7.speaks_mllp"),
        Some(&json!(true)),
        "{what}"
    );
    if let Some(text) = out.details.get("banner.text").and_then(Value::as_str) {
        assert!(
            !text.chars().any(char::is_control),
            "{what}: unescaped text"
        );
        assert!(
            text.len() <= 4 * ctx.banner_cap,
            "{what}: banner not capped"
        );
    }
    out
}

const ALL: [&str; 6] = [
    "hl7",
    "postgresql",
    "mysql",
    "redis",
    "mongodb",
    "elasticsearch",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_peers_end_at_the_read_timeout() {
    for name in ALL {
        let out = expect_bounded(name, Hostile::Silent, Duration::from_millis(1500)).await;
        assert_eq!(
            out.details.get("banner.silent"),
            Some(&json!(true)),
            "{name}: {:?}",
            out.details
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_that_hang_up_at_once() {
    for name in ALL {
        expect_bounded(name, Hostile::Close, Duration::from_millis(1500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_answers_are_not_mistaken_for_a_protocol() {
    let garbage: Vec<u8> = (0..2000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    for name in ALL {
        for bytes in [
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_vec(),
            b"SSH-2.0-OpenSSH_9.2\r\n".to_vec(),
            garbage.clone(),
            b"\x1b[2J\x1b]0;owned\x07".to_vec(),
        ] {
            // An HTTP 400 is HTTP: the Elasticsearch probe leaves it to the HTTP probe and says so.
            if name == "elasticsearch" && bytes.starts_with(b"HTTP/") {
                continue;
            }
            expect_bounded(name, Hostile::Say(bytes), Duration::from_millis(1500)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_drip_is_cut_off_at_the_deadline() {
    // Beginnings of valid answers that never finish, one byte every 20 ms.
    let cases: [(&str, &[u8]); 6] = [
        ("hl7", b"\x0bMSH|^~\\&|SLOW|SLOW|||20260101||ACK^N01^ACK|1|T|2.5\rMSA|AA|1\rNTE|xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        ("postgresql", b"NR\x00\x00\x00\x08\x00\x00"),
        ("mysql", b"\x50\x00\x00\x00\x0a10.11.19-MariaDB\x00\x01\x00\x00\x00abcdefgh\x00"),
        ("redis", b"$500\r\n# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nos:Linux"),
        ("mongodb", b"\x00\x01\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00"),
        ("elasticsearch", b"HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\n{\"name\":\"slow\",\"version\":{\"number\":"),
    ];
    for (name, bytes) in cases {
        expect_bounded(
            name,
            Hostile::Drip(bytes.to_vec()),
            Duration::from_millis(2500),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_lengths_and_floods_are_capped() {
    let cases: Vec<(&str, Hostile)> = vec![
        // HL7: a frame that never ends, flooding.
        (
            "hl7",
            Hostile::Flood {
                prefix: b"\x0bMSH|^~\\&|".to_vec(),
                filler: b'A',
            },
        ),
        // PostgreSQL: a 4 GiB message length after `N`, and a flood of `N`s.
        ("postgresql", Hostile::Say(b"NR\xff\xff\xff\xff".to_vec())),
        (
            "postgresql",
            Hostile::Flood {
                prefix: Vec::new(),
                filler: b'N',
            },
        ),
        // MySQL: a 16 MiB packet length.
        (
            "mysql",
            Hostile::Flood {
                prefix: b"\xff\xff\xff\x00\x0a".to_vec(),
                filler: b'9',
            },
        ),
        // Redis: a bulk string of 10^12 bytes, and an endless simple string.
        ("redis", Hostile::Say(b"$999999999999\r\n".to_vec())),
        (
            "redis",
            Hostile::Flood {
                prefix: b"+".to_vec(),
                filler: b'x',
            },
        ),
        // MongoDB: a 2 GiB message length.
        (
            "mongodb",
            Hostile::Flood {
                prefix: b"\xff\xff\xff\x7f\x01\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00"
                    .to_vec(),
                filler: 0,
            },
        ),
        // Elasticsearch: a huge Content-Length, endless headers, an endless chunk.
        (
            "elasticsearch",
            Hostile::Say(b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999\r\n\r\n".to_vec()),
        ),
        (
            "elasticsearch",
            Hostile::Flood {
                prefix: b"HTTP/1.1 200 OK\r\nX-Long: ".to_vec(),
                filler: b'a',
            },
        ),
        (
            "elasticsearch",
            Hostile::Flood {
                prefix: b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nfffffff\r\n"
                    .to_vec(),
                filler: b'{',
            },
        ),
    ];
    for (name, behaviour) in cases {
        expect_bounded(name, behaviour, Duration::from_millis(2500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hl7_probe_sends_one_harmless_framed_message() {
    // A peer that records what the probe sends, then answers AA.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let peer = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !got.ends_with(b"\x1c\x0d") {
            match tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        let _ = s
            .write_all(
                b"\x0bMSH|^~\\&|ENGINE|HOSP|||20260101||ACK^N01^ACK|9|T|2.5\rMSA|AA|x\r\x1c\x0d",
            )
            .await;
        // Anything more the probe sends after the answer is a violation.
        let mut more = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut more)).await;
        (got, more)
    });
    let (out, _) = run(port, &ctx(), probe_fn!(hl7::probe)).await;
    let (got, more) = peer.await.expect("peer");
    assert_eq!(out.protocol.as_deref(), Some("hl7"));
    assert_eq!(out.details["hl7.sending_application"], json!("ENGINE"));
    assert!(
        more.is_empty(),
        "the probe sent more after the answer: {more:?}"
    );
    assert_eq!(got.first(), Some(&0x0b));
    assert!(got.ends_with(b"\x1c\x0d"));
    let text = String::from_utf8(got[1..got.len() - 2].to_vec()).expect("ASCII");
    let segments: Vec<&str> = text.split('\r').filter(|s| !s.is_empty()).collect();
    assert_eq!(segments.len(), 1, "{text:?}");
    let msh: Vec<&str> = segments[0].split('|').collect();
    assert_eq!(msh[0], "MSH");
    assert_eq!(msh[2], "MEDSURFACE");
    assert_eq!(msh[8], "NMQ^N01^NMQ_N01");
    assert_eq!(msh[10], "T", "processing ID must be T: {text:?}");
    assert!(msh[9].starts_with("MS") && msh[9].len() == 18);
}
