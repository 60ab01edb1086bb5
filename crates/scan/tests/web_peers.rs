//! The web, TLS, FHIR and DICOMweb probes against real servers on 127.0.0.1: Orthanc with its
//! DICOMweb plugin (open, and behind HTTP Basic authentication), node-fhir-server-core R4
//! (open, and with bearer authentication and SMART-on-FHIR declared) holding planted canary
//! patients, and `openssl s_server` with a self-signed certificate carrying an organisation
//! (TLS 1.2/1.3) and TLS 1.0 only.
//!
//! The peers are started by `scripts/peers/web/start` (installed by `scripts/peers/web/install`,
//! which `scripts/install-test-deps` runs). One test drives them all, as one lab: it asserts
//! each peer's exact facts and its exact classification by the shipped signatures, and proves
//! that no canary (patient name or id the FHIR server and
//! the Orthanc studies hold) reaches any probe output — transient keys included — or the SQLite
//! database the observations are stored in. Readiness is polled by the start script.

mod common;

use common::*;

use std::time::{Duration, Instant};

use medsurface_analyze::{Category, Classifier};
use medsurface_model::fields::{field, strip_transient};
use medsurface_model::{Details, Observation, Source, Timestamp, Transport};
use medsurface_scan::probes::http::{self, RecordCount, WebTls};
use medsurface_scan::probes::tls;
use medsurface_scan::{ProbeContext, ProbeOutput};
use medsurface_store::{SqliteStore, Store};
use serde_json::{json, Value};
use tokio::net::TcpStream;

impl PeerLab {
    fn canaries(&self) -> Vec<String> {
        self.json["canaries"]
            .as_array()
            .expect("canaries")
            .iter()
            .map(|c| c.as_str().expect("canary").to_ascii_lowercase())
            .collect()
    }
}

fn ctx() -> ProbeContext {
    let mut ctx = ProbeContext {
        read_timeout: Duration::from_secs(3),
        probe_timeout: Duration::from_secs(30),
        ..ProbeContext::default()
    };
    ctx.web.follow_up_gap = Duration::from_millis(5);
    ctx
}

#[derive(Clone, Copy)]
enum Which {
    Web,
    Tls,
}

async fn probe(port: u16, ctx: &ProbeContext, which: Which) -> ProbeOutput {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    let started = Instant::now();
    let fut = async {
        match which {
            Which::Web => http::probe(&mut stream, ctx).await,
            Which::Tls => tls::probe(&mut stream, ctx).await,
        }
    };
    let out = tokio::time::timeout(ctx.probe_timeout, fut)
        .await
        .expect("the probe ends within its budget");
    assert!(started.elapsed() < ctx.probe_timeout);
    out
}

fn get<'a>(d: &'a Details, key: &str) -> &'a Value {
    d.get(key).unwrap_or(&Value::Null)
}

/// Checks `expected` key by key (`null` means: must be absent) and returns the mismatches.
fn check(
    peer: &str,
    out: &ProbeOutput,
    protocol: Option<&str>,
    expected: &[(&str, Value)],
) -> Vec<String> {
    let all = || serde_json::to_string(&strip(&out.details)).unwrap_or_default();
    let mut bad = Vec::new();
    if out.protocol.as_deref() != protocol {
        bad.push(format!(
            "{peer}: protocol {:?}, expected {protocol:?}\n    {}",
            out.protocol,
            all()
        ));
    }
    for (key, want) in expected {
        let got = get(&out.details, key);
        if got != want {
            bad.push(format!(
                "{peer}: {key} = {got}, expected {want}\n    all details: {}",
                all()
            ));
        }
    }
    // Only the vocabulary of fields.rs (plus the error keys every probe family writes).
    for key in out.details.keys() {
        if field(key).is_none() && key != "http.error" && key != "tls.error" {
            bad.push(format!("{peer}: key {key} is not in model::fields"));
        }
    }
    bad
}

fn strip(d: &Details) -> Details {
    let mut d = d.clone();
    strip_transient(&mut d);
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_web_peers_exact_facts_and_no_patient_data() {
    let lab = PeerLab::start("scripts/peers/web", "web-peers.json");
    let mut failures = Vec::new();
    let mut outputs: Vec<(String, ProbeOutput)> = Vec::new();
    let base = ctx();
    let url = |peer: &str, path: &str| json!(format!("http://127.0.0.1:{}{path}", lab.port(peer)));

    // Orthanc Explorer, open, DICOMweb plugin.
    let peer = "orthanc-web-open";
    let out = probe(lab.port(peer), &base, Which::Web).await;
    failures.extend(check(
        peer,
        &out,
        Some("dicomweb"),
        &[
            ("http.status", json!(200)),
            ("http.title", json!("Orthanc Explorer")),
            ("http.location", url(peer, "/app/explorer.html")),
            ("http.favicon_hash", json!(-478834633)),
            ("http.favicon_url", url(peer, "/app/images/favicon.ico")),
            ("http.server", Value::Null),
            ("http.realm", Value::Null),
            ("dicomweb.base", url(peer, "/dicom-web")),
            ("dicomweb.query_without_auth", json!(true)),
            ("fhir.base", Value::Null),
            ("tls.version", Value::Null),
        ],
    ));
    if !get(&out.details, "_http.body")
        .as_str()
        .is_some_and(|b| b.contains("Orthanc"))
    {
        failures.push(format!("{peer}: _http.body lacks the page"));
    }
    let sha = get(&out.details, "http.body_sha256")
        .as_str()
        .unwrap_or_default()
        .to_string();
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        failures.push(format!("{peer}: http.body_sha256 = {sha:?}"));
    }
    outputs.push((peer.into(), out));

    // Orthanc behind HTTP Basic: realm, no page, and no DICOMweb verdict (every path says 401).
    let peer = "orthanc-web-locked";
    let out = probe(lab.port(peer), &base, Which::Web).await;
    failures.extend(check(
        peer,
        &out,
        Some("http"),
        &[
            ("http.status", json!(401)),
            ("http.realm", json!("Orthanc Secure Area")),
            ("http.title", Value::Null),
            ("http.favicon_hash", Value::Null),
            ("http.location", url(peer, "/")),
            ("dicomweb.base", Value::Null),
            ("dicomweb.query_without_auth", Value::Null),
            ("fhir.base", Value::Null),
        ],
    ));
    outputs.push((peer.into(), out));

    // node-fhir-server-core, open: found under /4_0_1, anyone may search.
    let peer = "fhir-open";
    let fhir_open = [
        ("fhir.base", url(peer, "/4_0_1")),
        ("fhir.software", json!("FHIR Server")),
        ("fhir.software_version", json!("1.4.0")),
        ("fhir.implementation", json!("FHIR Test Server (R4)")),
        ("fhir.version", json!("4.0.1")),
        ("fhir.security_declared", json!("none")),
        ("fhir.search_without_auth", json!(true)),
        ("http.status", json!(404)),
        ("dicomweb.base", Value::Null),
    ];
    let out = probe(lab.port(peer), &base, Which::Web).await;
    let mut expected = fhir_open.to_vec();
    expected.push(("fhir.record_count", Value::Null));
    failures.extend(check(peer, &out, Some("fhir"), &expected));
    outputs.push((peer.into(), out));

    // The same with the opt-in count: this server ignores _summary and sends whole patients
    // (the canaries); only the count of the three planted patients may come back.
    let mut counting = ctx();
    counting.web.count_records = RecordCount::Count;
    let out = probe(lab.port(peer), &counting, Which::Web).await;
    let mut expected = fhir_open.to_vec();
    expected.push(("fhir.record_count", json!(3)));
    failures.extend(check("fhir-open (count)", &out, Some("fhir"), &expected));
    outputs.push(("fhir-open (count)".into(), out));

    // node-fhir-server-core with bearer authentication: SMART declared, search refused.
    let peer = "fhir-locked";
    let out = probe(lab.port(peer), &counting, Which::Web).await;
    failures.extend(check(
        peer,
        &out,
        Some("fhir"),
        &[
            ("fhir.base", url(peer, "/4_0_1")),
            ("fhir.software", json!("FHIR Server")),
            ("fhir.security_declared", json!("SMART-on-FHIR")),
            ("fhir.search_without_auth", json!(false)),
            ("fhir.record_count", Value::Null),
        ],
    ));
    outputs.push((peer.into(), out));

    // openssl s_server, TLS 1.3, self-signed certificate with an organisation; HTTPS by policy
    // (the port is not an HTTPS port, so the test says TLS first) and by the TLS probe.
    let peer = "tls-modern";
    let cert = [
        ("tls.version", json!("TLSv1.3")),
        ("tls.cert_org", json!("Medsurface Test Hospital")),
        (
            "tls.cert_subject",
            json!("C=CH, O=Medsurface Test Hospital, CN=pacs.test.invalid"),
        ),
        (
            "tls.cert_issuer",
            json!("C=CH, O=Medsurface Test Hospital, CN=pacs.test.invalid"),
        ),
        (
            "tls.cert_sans",
            json!(["DNS:pacs.test.invalid", "IP:127.0.0.1"]),
        ),
        ("tls.cert_self_signed", json!(true)),
        ("tls.cert_expired", json!(false)),
    ];
    let mut https = ctx();
    https.web.tls = WebTls::Always;
    let out = probe(lab.port(peer), &https, Which::Web).await;
    let mut expected = cert.to_vec();
    expected.push(("http.status", json!(200)));
    expected.push((
        "http.location",
        json!(format!("https://127.0.0.1:{}/", lab.port(peer))),
    ));
    failures.extend(check(peer, &out, Some("https"), &expected));
    if !get(&out.details, "tls.cipher")
        .as_str()
        .is_some_and(|c| c.starts_with("TLS_AES_") || c.starts_with("TLS_CHACHA20"))
    {
        failures.push(format!(
            "{peer}: tls.cipher = {}",
            get(&out.details, "tls.cipher")
        ));
    }
    outputs.push((peer.into(), out));
    // The same server under the port policy: clear text first (a test port is no HTTPS port),
    // OpenSSL closes without a word, the probe switches to TLS.
    let out = probe(lab.port(peer), &base, Which::Web).await;
    failures.extend(check(
        "tls-modern (by port)",
        &out,
        Some("https"),
        &expected,
    ));
    outputs.push(("tls-modern (by port)".into(), out));
    let out = probe(lab.port(peer), &base, Which::Tls).await;
    failures.extend(check("tls-modern (tls probe)", &out, Some("tls"), &cert));
    outputs.push(("tls-modern (tls probe)".into(), out));

    // openssl s_server -tls1: rustls cannot talk to it; the legacy hello reads its certificate.
    let peer = "tls-legacy";
    let legacy = [
        ("tls.version", json!("TLSv1.0")),
        ("tls.cert_org", json!("Legacy Modality Vendor")),
        (
            "tls.cert_subject",
            json!("C=DE, O=Legacy Modality Vendor, CN=modality.test.invalid"),
        ),
        ("tls.cert_sans", json!(["DNS:modality.test.invalid"])),
        ("tls.cert_self_signed", json!(true)),
        ("tls.cert_expired", json!(false)),
    ];
    let out = probe(lab.port(peer), &base, Which::Tls).await;
    failures.extend(check(peer, &out, Some("tls"), &legacy));
    if !get(&out.details, "tls.cipher")
        .as_str()
        .is_some_and(|c| c.contains("_CBC_") || c.contains("RC4"))
    {
        failures.push(format!(
            "{peer}: tls.cipher = {}",
            get(&out.details, "tls.cipher")
        ));
    }
    outputs.push((peer.into(), out));
    let out = probe(lab.port(peer), &https, Which::Web).await;
    let mut expected = legacy.to_vec();
    expected.push(("http.error", json!("legacy-tls-only")));
    expected.push(("http.status", Value::Null));
    failures.extend(check(
        "tls-legacy (web probe)",
        &out,
        Some("tls"),
        &expected,
    ));
    outputs.push(("tls-legacy (web probe)".into(), out));

    // Classification of every observation above by the shipped signatures. Orthanc Explorer
    // wins the open Orthanc (title and favicon weigh more than the DICOMweb path), and its
    // DICOMweb base is Orthanc's too: the plugin's signature must be the runner-up. The
    // openssl peers are no product: their certificates feed enrichment, not classification.
    let classifier = Classifier::builtin().expect("the shipped signatures load");
    let orthanc = |signature| Some(verdict(signature, Category::Imaging, "Orthanc", None));
    // node-fhir-server-core hard-codes software.version 1.4.0, which is not the package's
    // version, so the signature reads none (signatures/node-fhir-server-core.toml).
    let node_fhir = || {
        Some(verdict(
            "node-fhir-server-core",
            Category::Interface,
            "node-fhir-server-core",
            None,
        ))
    };
    let expected_verdicts: Vec<(&str, &str, Option<Verdict>)> = vec![
        ("orthanc-web-open", "http", orthanc("orthanc-explorer")),
        ("orthanc-web-locked", "http", orthanc("orthanc-secure-area")),
        ("fhir-open", "http", node_fhir()),
        ("fhir-open (count)", "http", node_fhir()),
        ("fhir-locked", "http", node_fhir()),
        ("tls-modern", "http", None),
        ("tls-modern (by port)", "http", None),
        ("tls-modern (tls probe)", "tls", None),
        ("tls-legacy", "tls", None),
        ("tls-legacy (web probe)", "http", None),
    ];
    let named: Vec<&str> = expected_verdicts.iter().map(|(n, _, _)| *n).collect();
    let observed: Vec<&str> = outputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(named, observed, "one expected verdict per observation");
    for ((name, out), (_, probe, want)) in outputs.iter().zip(&expected_verdicts) {
        let peer = name.split(" (").next().unwrap_or(name);
        let obs = observation(probe, lab.port(peer), out);
        let got = classify_observation(&classifier, &obs);
        if &got != want {
            failures.push(format!(
                "{name}: classified {got:?}, expected {want:?}\n    all details: {}",
                serde_json::to_string(&strip(&out.details)).unwrap_or_default()
            ));
        }
        if *name == "orthanc-web-open" {
            let candidates: Vec<&str> = classifier
                .classify_all(&obs)
                .iter()
                .map(|m| m.signature.id.as_str())
                .collect();
            if candidates.get(1) != Some(&"orthanc-dicomweb")
                || !candidates.contains(&"generic-dicomweb")
            {
                failures.push(format!("{name}: candidates {candidates:?}"));
            }
        }
    }

    // No canary anywhere: not in any output (transient keys included) ...
    let canaries = lab.canaries();
    assert!(canaries.len() >= 9, "the lab planted canaries");
    for (peer, out) in &outputs {
        let text = serde_json::to_string(out.details.iter().collect::<Vec<_>>().as_slice())
            .unwrap_or_default()
            .to_ascii_lowercase();
        for c in &canaries {
            if text.contains(c.as_str()) {
                failures.push(format!("{peer}: canary {c} in the probe output"));
            }
        }
    }
    // ... nor in the database the observations are stored in (transient keys stripped first,
    // as the pipeline does before storing).
    let db_dir = lab.state.join("db");
    std::fs::create_dir_all(&db_dir).expect("db dir");
    let db_path = db_dir.join("web-canary.db");
    {
        let mut store = SqliteStore::open(&db_path).expect("open store");
        let observations: Vec<Observation> = outputs
            .iter()
            .map(|(_, out)| Observation {
                ip: "127.0.0.1".parse().expect("ip"),
                port: 443,
                transport: Transport::Tcp,
                hostname: None,
                protocol: out.protocol.clone(),
                probe: "http".into(),
                source: Source::Scan,
                seen_at: Timestamp::now(),
                details: strip(&out.details),
            })
            .collect();
        store
            .record_observations(&observations)
            .expect("store observations");
    }
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(&db_dir).expect("db dir") {
        let path = entry.expect("entry").path();
        bytes.extend(std::fs::read(&path).unwrap_or_default());
    }
    let bytes = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
    assert!(
        bytes.contains("orthanc explorer"),
        "the database holds the observations"
    );
    for c in &canaries {
        if bytes.contains(c.as_str()) {
            failures.push(format!("canary {c} in the database"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
