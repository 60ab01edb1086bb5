//! The web and TLS probes against hostile servers on 127.0.0.1: endless bodies, huge heads,
//! redirect loops, slow drips, lying lengths, TLS garbage, a FHIR server that ignores search
//! keys and sends whole (synthetic) patients, terminal escapes. Each must end in a bounded
//! outcome — within the probe's budget, with what it saw and without a panic — and keep nothing
//! it was not asking for. The servers sleep only to be slow on purpose.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use medsurface_model::Details;
use medsurface_scan::probes::http::{self, RecordCount, WebTls};
use medsurface_scan::probes::tls;
use medsurface_scan::{ProbeContext, ProbeOutput};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Conn = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A listener on 127.0.0.1:0 that hands every connection to `f`; stops with the test runtime.
async fn serve_raw(f: impl Fn(TcpStream) -> Conn + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(f(stream));
        }
    });
    addr
}

/// What the HTTP server does for one request target.
#[derive(Clone)]
enum Reply {
    /// These bytes, then the next request on the same connection.
    Bytes(Vec<u8>),
    /// These bytes, then `fill` forever.
    Endless { head: Vec<u8>, fill: Vec<u8> },
    /// These bytes, one byte per `every`, then close.
    Drip { bytes: Vec<u8>, every: Duration },
}

/// Reads one request head (bounded); the target, or `None` when the client is gone.
async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if buf.len() > 16 * 1024 || stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&buf).lines().next()?.to_string();
    line.split(' ').nth(1).map(str::to_string)
}

async fn serve_http(handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> SocketAddr {
    let handler = Arc::new(handler);
    serve_raw(move |mut stream| {
        let handler = Arc::clone(&handler);
        Box::pin(async move {
            while let Some(target) = read_request(&mut stream).await {
                match handler(&target) {
                    Reply::Bytes(b) => {
                        if stream.write_all(&b).await.is_err() {
                            return;
                        }
                    }
                    Reply::Endless { head, fill } => {
                        if stream.write_all(&head).await.is_err() {
                            return;
                        }
                        while stream.write_all(&fill).await.is_ok() {}
                        return;
                    }
                    Reply::Drip { bytes, every } => {
                        for b in bytes {
                            if stream.write_all(&[b]).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(every).await;
                        }
                        return;
                    }
                }
            }
        })
    })
    .await
}

fn ctx() -> ProbeContext {
    let mut ctx = ProbeContext {
        read_timeout: Duration::from_millis(300),
        probe_timeout: Duration::from_secs(4),
        ..ProbeContext::default()
    };
    ctx.web.follow_up_gap = Duration::from_millis(1);
    ctx
}

async fn run(addr: SocketAddr, ctx: &ProbeContext, web: bool) -> (ProbeOutput, Duration) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let started = Instant::now();
    let fut = async {
        if web {
            http::probe(&mut stream, ctx).await
        } else {
            tls::probe(&mut stream, ctx).await
        }
    };
    let out = tokio::time::timeout(ctx.probe_timeout + Duration::from_secs(1), fut)
        .await
        .expect("the probe returns by itself, before the engine's safety net");
    let took = started.elapsed();
    assert!(took < ctx.probe_timeout, "took {took:?}");
    (out, took)
}

fn get<'a>(d: &'a Details, key: &str) -> &'a Value {
    d.get(key).unwrap_or(&Value::Null)
}

fn ok_page(body: &str) -> Reply {
    Reply::Bytes(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

fn not_found() -> Reply {
    Reply::Bytes(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec())
}

#[tokio::test]
async fn endless_body_is_capped() {
    let addr = serve_http(|_| Reply::Endless {
        head: b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><title>flood</title>"
            .to_vec(),
        fill: vec![b'A'; 64 * 1024],
    })
    .await;
    let c = ctx();
    let (out, _) = run(addr, &c, true).await;
    assert_eq!(get(&out.details, "http.status"), &json!(200));
    assert_eq!(get(&out.details, "http.title"), &json!("flood"));
    let kept = get(&out.details, "_http.body")
        .as_str()
        .unwrap_or_default()
        .len();
    assert!(kept > 0 && kept <= c.web.kept_body_cap, "{kept}");
}

#[tokio::test]
async fn endless_chunked_body_is_capped() {
    let addr = serve_http(|_| Reply::Endless {
        head: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n<title>c</title>\r\n"
            .to_vec(),
        fill: b"1\r\nA\r\n".repeat(4096),
    })
    .await;
    let (out, _) = run(addr, &ctx(), true).await;
    assert_eq!(get(&out.details, "http.status"), &json!(200));
    assert_eq!(get(&out.details, "http.title"), &json!("c"));
}

#[tokio::test]
async fn huge_and_numerous_headers_are_refused() {
    let addr = serve_http(|_| Reply::Endless {
        head: b"HTTP/1.1 200 OK\r\n".to_vec(),
        fill: format!("X-Filler: {}\r\n", "a".repeat(1000)).into_bytes(),
    })
    .await;
    let (out, _) = run(addr, &ctx(), true).await;
    assert_eq!(get(&out.details, "http.error"), &json!("head-too-large"));
    assert_eq!(get(&out.details, "http.status"), &Value::Null);
    assert_eq!(out.protocol, None);

    let addr = serve_http(|_| Reply::Endless {
        head: b"HTTP/1.1 200 OK\r\n".to_vec(),
        fill: b"X: y\r\n".to_vec(),
    })
    .await;
    let (out, _) = run(addr, &ctx(), true).await;
    assert_eq!(get(&out.details, "http.error"), &json!("too-many-headers"));
}

#[tokio::test]
async fn redirect_loops_and_chains_end() {
    let gets = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&gets);
    let addr = serve_http(move |target| {
        counter.fetch_add(1, Ordering::SeqCst);
        let next = match target {
            "/" => "/a",
            "/a" => "/b",
            _ => "/a",
        };
        Reply::Bytes(
            format!("HTTP/1.1 302 Found\r\nLocation: {next}\r\nContent-Length: 0\r\n\r\n")
                .into_bytes(),
        )
    })
    .await;
    let mut c = ctx();
    c.web.api_checks = http::ApiChecks::Off;
    let (out, _) = run(addr, &c, true).await;
    assert_eq!(get(&out.details, "http.status"), &json!(302));
    // / → /a → /b → /a again: the loop is seen, not followed.
    assert_eq!(
        get(&out.details, "http.location"),
        &json!(format!("http://{addr}/a"))
    );
    // Three page requests and the favicon.
    assert!(
        gets.load(Ordering::SeqCst) <= 5,
        "{}",
        gets.load(Ordering::SeqCst)
    );

    // A chain longer than the limit stops after max_redirects.
    let addr = serve_http(|target| {
        let n: u32 = target.trim_start_matches('/').parse().unwrap_or(0);
        Reply::Bytes(
            format!(
                "HTTP/1.1 301 Moved\r\nLocation: /{}\r\nContent-Length: 0\r\n\r\n",
                n + 1
            )
            .into_bytes(),
        )
    })
    .await;
    let (out, _) = run(addr, &c, true).await;
    assert_eq!(
        get(&out.details, "http.location"),
        &json!(format!("http://{addr}/4"))
    );

    // A redirect elsewhere is recorded, not followed.
    let addr = serve_http(|_| {
        Reply::Bytes(b"HTTP/1.1 302 Found\r\nLocation: https://evil.example:8443/x\r\nContent-Length: 0\r\n\r\n".to_vec())
    })
    .await;
    let (out, _) = run(addr, &c, true).await;
    assert_eq!(
        get(&out.details, "http.location"),
        &json!("https://evil.example:8443/x")
    );
}

#[tokio::test]
async fn slow_drip_head_times_out() {
    let addr = serve_http(|_| Reply::Drip {
        bytes: b"HTTP/1.1 200 OK\r\nX: "
            .iter()
            .copied()
            .chain(std::iter::repeat_n(b'a', 10_000))
            .collect(),
        every: Duration::from_millis(20),
    })
    .await;
    let c = ctx();
    let (out, took) = run(addr, &c, true).await;
    assert_eq!(get(&out.details, "http.error"), &json!("timeout"));
    assert!(took < c.read_timeout * 4, "{took:?}");
}

#[tokio::test]
async fn slow_drip_bodies_end_within_the_budget() {
    let addr = serve_http(|_| Reply::Drip {
        bytes: b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n<title>slow</title>"
            .iter()
            .copied()
            .chain(std::iter::repeat_n(b'a', 100_000))
            .collect(),
        every: Duration::from_millis(5),
    })
    .await;
    let (out, _) = run(addr, &ctx(), true).await;
    assert_eq!(get(&out.details, "http.status"), &json!(200));
    assert_eq!(get(&out.details, "http.title"), &json!("slow"));
}

#[tokio::test]
async fn lying_content_length_and_garbage() {
    let addr = serve_raw(|mut s| {
        Box::pin(async move {
            let _ = read_request(&mut s).await;
            let _ = s
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999\r\n\r\n<title>lie</title>",
                )
                .await;
        })
    })
    .await;
    let (out, _) = run(addr, &ctx(), true).await;
    assert_eq!(get(&out.details, "http.title"), &json!("lie"));

    let addr = serve_raw(|mut s| {
        Box::pin(async move {
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").await;
            let _ = read_request(&mut s).await;
        })
    })
    .await;
    let (out, _) = run(addr, &ctx(), true).await;
    assert_eq!(get(&out.details, "http.error"), &json!("not-http"));
    assert_eq!(out.protocol, None);
}

#[tokio::test]
async fn peer_text_is_escaped() {
    let addr = serve_http(|target| match target {
        "/" => Reply::Bytes(
            b"HTTP/1.1 200 OK\r\nServer: evil\xe2\x80\xae\xff\r\nSet-Cookie: SID=topsecret; HttpOnly\r\nContent-Length: 36\r\n\r\n<title>\x1b]0;pwned\x07 t\xff</title>"
                .to_vec(),
        ),
        _ => not_found(),
    })
    .await;
    let (out, _) = run(addr, &ctx(), true).await;
    // Every stored key is escaped; the transient page body is raw text for the classifier and
    // never leaves the pipeline (strip_transient).
    for (key, value) in out.details.iter().filter(|(k, _)| !k.starts_with('_')) {
        let text = value.to_string();
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{key}: {text}"
        );
        assert!(!text.contains("topsecret"), "cookie value kept in {key}");
    }
    // Bytes above 0x7f are allowed in header values (obs-text): kept, escaped (here a
    // right-to-left override and an invalid byte).
    assert_eq!(
        get(&out.details, "http.server"),
        &json!("evil\\xe2\\x80\\xae\\xff")
    );
    assert!(get(&out.details, "http.title")
        .as_str()
        .is_some_and(|t| t.contains("\\x1b]0;pwned")));
    assert_eq!(get(&out.details, "http.cookies"), &json!(["SID"]));
}

#[tokio::test]
async fn fhir_server_ignoring_search_keys_leaks_nothing() {
    const CANARY: &str = "MEDSURFACE^CANARY^HOSTILE42";
    let bundle = format!(
        r#"{{"resourceType":"Bundle","type":"searchset","total":2,"entry":[{{"resource":{{"resourceType":"Patient","id":"canary-hostile42","name":[{{"text":"{CANARY}"}}]}}}},{{"resource":{{"resourceType":"Patient","name":[{{"text":"{CANARY}"}}]}}}}]}}"#
    );
    let addr = serve_http(move |target| {
        let json = |body: &str| {
            Reply::Bytes(
                format!("HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
                    .into_bytes(),
            )
        };
        if target == "/fhir/metadata" {
            json(r#"{"resourceType":"CapabilityStatement","fhirVersion":"4.0.1","software":{"name":"Hostile FHIR"}}"#)
        } else if target.starts_with("/fhir/Patient") {
            json(&bundle)
        } else if target == "/" {
            ok_page("<title>portal</title>")
        } else {
            not_found()
        }
    })
    .await;
    let mut c = ctx();
    c.web.count_records = RecordCount::Count;
    let (out, _) = run(addr, &c, true).await;
    assert_eq!(out.protocol.as_deref(), Some("fhir"));
    assert_eq!(
        get(&out.details, "fhir.base"),
        &json!(format!("http://{addr}/fhir"))
    );
    assert_eq!(get(&out.details, "fhir.software"), &json!("Hostile FHIR"));
    assert_eq!(get(&out.details, "fhir.search_without_auth"), &json!(true));
    assert_eq!(get(&out.details, "fhir.record_count"), &json!(2));
    let all = serde_json::to_string(&out.details)
        .expect("json")
        .to_ascii_lowercase();
    assert!(
        !all.contains("canary") && !all.contains("hostile42"),
        "{all}"
    );
}

#[tokio::test]
async fn dicomweb_that_ignores_keys_is_open_and_leaks_nothing() {
    let addr = serve_http(|target| {
        if target.starts_with("/dicomweb/studies?StudyInstanceUID=2.25.") {
            let body = r#"[{"00100010":{"vr":"PN","Value":[{"Alphabetic":"MEDSURFACE^CANARY^QIDO7"}]}}]"#;
            Reply::Bytes(
                format!("HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
                    .into_bytes(),
            )
        } else if target.starts_with("/dicom-web/") {
            // An SPA catch-all: HTML for every path is not QIDO-RS.
            ok_page("<title>app</title>")
        } else {
            not_found()
        }
    })
    .await;
    let (out, _) = run(addr, &ctx(), true).await;
    assert_eq!(out.protocol.as_deref(), Some("dicomweb"));
    assert_eq!(
        get(&out.details, "dicomweb.base"),
        &json!(format!("http://{addr}/dicomweb"))
    );
    assert_eq!(
        get(&out.details, "dicomweb.query_without_auth"),
        &json!(true)
    );
    let all = serde_json::to_string(&out.details)
        .expect("json")
        .to_ascii_lowercase();
    assert!(!all.contains("canary"), "{all}");
}

#[tokio::test]
async fn tls_garbage_ends_bounded() {
    // Random bytes instead of a ServerHello.
    let addr = serve_raw(|mut s| {
        Box::pin(async move {
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf).await;
            let garbage: Vec<u8> = (0..4096u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect();
            let _ = s.write_all(&garbage).await;
        })
    })
    .await;
    let mut c = ctx();
    c.web.tls = WebTls::Always;
    let (out, _) = run(addr, &c, false).await;
    assert_eq!(out.protocol, None);
    assert!(
        get(&out.details, "tls.error").is_string(),
        "{:?}",
        out.details
    );
    let (out, _) = run(addr, &c, true).await;
    assert_eq!(out.protocol, None);

    // A handshake record that announces 64 KiB and never sends it.
    let addr = serve_raw(|mut s| {
        Box::pin(async move {
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 0x02]).await;
            let _ = s.read(&mut buf).await;
        })
    })
    .await;
    let (out, _) = run(addr, &c, false).await;
    assert_eq!(out.protocol, None);
    assert!(
        get(&out.details, "tls.error").is_string(),
        "{:?}",
        out.details
    );

    // TLS asked of a clear-text HTTP server that waits for a request: bounded, no facts.
    let addr = serve_http(|target| {
        if target == "/" {
            ok_page("<title>plain</title>")
        } else {
            not_found()
        }
    })
    .await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let out = tokio::time::timeout(Duration::from_secs(5), http::probe(&mut stream, &c))
        .await
        .expect("bounded");
    assert_eq!(out.protocol, None);
}
