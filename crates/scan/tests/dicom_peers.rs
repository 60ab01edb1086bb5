//! The DICOM probe against real DICOM servers (Orthanc, DCMTK dcmqrscp and storescp,
//! pynetdicom) and hostile imitations, all on 127.0.0.1.
//!
//! The real peers are started by `scripts/peers/start` (installed by `scripts/peers/install`,
//! which `scripts/install-test-deps` runs) with synthetic studies whose patient names and ids
//! are unique canaries. One test drives them all, because they are one lab to start and stop:
//! it asserts each peer's exact verdict, classifies every observation with the shipped
//! signatures and asserts the exact signature, category, product and version, checks that
//! nmap's dicom-ping agrees with us on accept/reject for every peer, and searches every
//! observation and the SQLite database they were stored in for the canaries. The hostile peers are in-process listeners, one test each.
//! Nothing sleeps to synchronise: readiness is polled by the start script, and the hostile
//! peers sleep only to be slow on purpose.

mod common;

use common::*;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use medsurface_analyze::{Category, Classifier};
use medsurface_model::{Details, Observation, Source, Timestamp, Transport};
use medsurface_proto::dicom::ae_titles;
use medsurface_proto::dicom::details::keys;
use medsurface_scan::probes::dicom::{self, AeChecks, DicomTls, StudyCount};
use medsurface_scan::{ProbeContext, ProbeOutput};
use medsurface_store::{SqliteStore, Store};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

impl PeerLab {
    fn title(&self, peer: &str, key: &str) -> String {
        self.json["peers"][peer][key]
            .as_str()
            .expect("peer title")
            .to_string()
    }

    fn canaries(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in self.json["canaries"].as_array().expect("canaries") {
            for key in ["patient_name", "patient_id"] {
                out.push(c[key].as_str().expect("canary").to_string());
            }
            // The random part alone, in case a server reformats the name.
            let id = c["patient_id"].as_str().unwrap_or_default();
            out.push(id.trim_start_matches("CANARY-").to_string());
        }
        out
    }
}

fn ctx() -> ProbeContext {
    let mut ctx = ProbeContext {
        read_timeout: Duration::from_secs(3),
        probe_timeout: Duration::from_secs(30),
        ..ProbeContext::default()
    };
    ctx.dicom.follow_up_gap = Duration::from_millis(20);
    ctx
}

async fn probe(port: u16, ctx: &ProbeContext) -> ProbeOutput {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    let started = Instant::now();
    let out = tokio::time::timeout(ctx.probe_timeout, dicom::probe(&mut stream, ctx))
        .await
        .expect("the probe ends within its budget");
    assert!(started.elapsed() < ctx.probe_timeout);
    out
}

fn get<'a>(d: &'a Details, key: &str) -> &'a Value {
    d.get(key).unwrap_or(&Value::Null)
}

/// Checks `expected` key by key (`null` means: must be absent) and returns the mismatches.
fn check(peer: &str, out: &ProbeOutput, expected: &[(&str, Value)]) -> Vec<String> {
    let mut bad = Vec::new();
    for (key, want) in expected {
        let got = get(&out.details, key);
        if got != want {
            bad.push(format!(
                "{peer}: {key} = {got}, expected {want}\n    all details: {}",
                serde_json::to_string(&out.details).unwrap_or_default()
            ));
        }
    }
    bad
}

/// The DCMTK version of the installed tools, as `dcmqrscp --version` states it (`v3.6.7`):
/// Orthanc (Debian) links the same library, so every DCMTK peer must be classified with it.
fn dcmtk_version() -> String {
    let out = Command::new("dcmqrscp")
        .arg("--version")
        .output()
        .expect("run dcmqrscp --version");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find_map(|w| w.strip_prefix('v'))
        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no version in dcmqrscp --version: {text}"))
        .to_string()
}

/// nmap's dicom-ping verdict per port: true = "Any AET is accepted", false = "Called AET check
/// enabled".
fn nmap_verdicts(ports: &[u16]) -> BTreeMap<u16, bool> {
    let list = ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let out = Command::new("nmap")
        .args([
            "-n",
            "-Pn",
            "-sT",
            "-p",
            &list,
            "--script",
            "+dicom-ping",
            "-oX",
            "-",
            "127.0.0.1",
        ])
        .output()
        .expect("run nmap");
    assert!(
        out.status.success(),
        "nmap failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = String::from_utf8_lossy(&out.stdout);
    let mut verdicts = BTreeMap::new();
    for chunk in xml.split("<port protocol=\"tcp\" portid=\"").skip(1) {
        let port: u16 = chunk
            .split('"')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port id");
        if chunk.contains("Any AET is accepted") {
            verdicts.insert(port, true);
        } else if chunk.contains("Called AET check enabled") {
            verdicts.insert(port, false);
        }
    }
    verdicts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_peers_verdicts_nmap_agreement_and_no_patient_data() {
    let lab = PeerLab::start("scripts/peers", "peers.json");
    let mut failures = Vec::new();
    let mut outputs: Vec<(String, ProbeOutput)> = Vec::new();
    let base = ctx();

    // --- defaults: calling MEDSURFACE, called ANY-SCP ---
    let default_expectations: Vec<(&str, Vec<(&str, Value)>)> = vec![
        (
            "orthanc-open",
            vec![
                (keys::ASSOCIATION, json!("accepted")),
                (keys::FINGERPRINT, json!("dcmtk")),
                (keys::ACCEPTS_ANY_AE, json!(true)),
                (keys::ACCEPTS_ANY_CALLING_AE, json!(true)),
                (keys::ECHO_STATUS, json!("success")),
                (keys::QUERY_WITHOUT_AUTH, json!(true)),
                (keys::QUERY_STATUS, json!("success")),
                (keys::QUERY_IGNORES_KEYS, Value::Null),
                (
                    keys::CONTEXTS,
                    json!({"verification": "accepted", "study-root-find": "accepted", "patient-root-find": "accepted"}),
                ),
                (keys::TLS, json!(false)),
                (keys::ERROR, Value::Null),
                (keys::STUDY_COUNT, Value::Null),
            ],
        ),
        (
            "orthanc-strict",
            vec![
                (keys::ASSOCIATION, json!("rejected")),
                (keys::REJECT_RESULT, json!("rejected-permanent")),
                (keys::REJECT_SOURCE, json!("service-user")),
                (keys::REJECT_REASON, json!("called-ae-title-not-recognized")),
                (keys::ACCEPTS_ANY_AE, json!(false)),
                (keys::QUERY_WITHOUT_AUTH, Value::Null),
                (keys::ECHO_STATUS, Value::Null),
            ],
        ),
        (
            "dcmqrscp",
            vec![
                (keys::ASSOCIATION, json!("rejected")),
                (keys::REJECT_REASON, json!("called-ae-title-not-recognized")),
                (keys::ACCEPTS_ANY_AE, json!(false)),
                (keys::ACCEPTED_AE_TITLE, Value::Null),
            ],
        ),
        (
            "storescp",
            vec![
                (keys::ASSOCIATION, json!("accepted")),
                (keys::FINGERPRINT, json!("dcmtk")),
                (keys::ACCEPTS_ANY_AE, json!(true)),
                (keys::ECHO_STATUS, json!("success")),
                (keys::QUERY_WITHOUT_AUTH, json!(false)),
                (keys::QUERY_STATUS, Value::Null),
                (
                    keys::CONTEXTS,
                    json!({"verification": "accepted", "study-root-find": "abstract-syntax-not-supported", "patient-root-find": "abstract-syntax-not-supported"}),
                ),
            ],
        ),
        (
            "pynetdicom-open",
            vec![
                (keys::ASSOCIATION, json!("accepted")),
                (keys::FINGERPRINT, json!("pynetdicom")),
                (keys::VERSION, json!("3.0.4")),
                (keys::IMPLEMENTATION_VERSION_NAME, json!("PYNETDICOM_304")),
                (keys::ACCEPTS_ANY_AE, json!(true)),
                (keys::ACCEPTS_ANY_CALLING_AE, json!(true)),
                (keys::ECHO_STATUS, json!("success")),
                (keys::QUERY_WITHOUT_AUTH, json!(true)),
                (keys::QUERY_STATUS, json!("success")),
            ],
        ),
        (
            "pynetdicom-strict",
            vec![
                (keys::ASSOCIATION, json!("rejected")),
                (keys::REJECT_REASON, json!("called-ae-title-not-recognized")),
                (keys::ACCEPTS_ANY_AE, json!(false)),
            ],
        ),
        (
            "pynetdicom-vendor",
            vec![
                (keys::ASSOCIATION, json!("accepted")),
                (keys::FINGERPRINT, json!("conquest")),
                (keys::VENDOR, json!("NKI (Netherlands Cancer Institute)")),
                (keys::VERSION, json!("1.5.0")),
                (keys::ECHO_STATUS, json!("success")),
                (keys::QUERY_WITHOUT_AUTH, json!(false)),
                (keys::QUERY_STATUS, json!("refused-out-of-resources")),
            ],
        ),
        (
            "pynetdicom-leaky",
            vec![
                (keys::ASSOCIATION, json!("accepted")),
                (keys::QUERY_WITHOUT_AUTH, json!(true)),
                (keys::QUERY_IGNORES_KEYS, json!(true)),
            ],
        ),
    ];
    let mut ours = BTreeMap::new();
    for (peer, expected) in &default_expectations {
        let port = lab.port(peer);
        let out = probe(port, &base).await;
        failures.extend(check(peer, &out, expected));
        if out.protocol.as_deref() != Some("dicom") {
            failures.push(format!("{peer}: protocol {:?}", out.protocol));
        }
        ours.insert(port, get(&out.details, keys::ASSOCIATION) == "accepted");
        outputs.push((peer.to_string(), out));
    }
    // The leaky server's final status depends on when it sees our C-CANCEL.
    let leaky = &outputs.last().expect("leaky output").1;
    let status = get(&leaky.details, keys::QUERY_STATUS).clone();
    if status != json!("cancel") && status != json!("success") {
        failures.push(format!("pynetdicom-leaky: query_status {status}"));
    }

    // --- the right called AE title, an unknown calling AE title: the calling check shows ---
    for peer in ["orthanc-strict", "pynetdicom-strict"] {
        let mut c = base.clone();
        c.dicom.called_ae = lab.title(peer, "ae_title");
        let out = probe(lab.port(peer), &c).await;
        failures.extend(check(
            &format!("{peer} (own title)"),
            &out,
            &[
                (keys::ASSOCIATION, json!("rejected")),
                (
                    keys::REJECT_REASON,
                    json!("calling-ae-title-not-recognized"),
                ),
                (keys::ACCEPTS_ANY_CALLING_AE, json!(false)),
            ],
        ));
        outputs.push((format!("{peer} (own title)"), out));

        // ... and the trusted calling title: accepted, and what it may do is recorded.
        c.ae_title = lab.title(peer, "trusted_calling_ae");
        c.dicom.ae_checks = AeChecks::Off;
        let out = probe(lab.port(peer), &c).await;
        failures.extend(check(
            &format!("{peer} (trusted)"),
            &out,
            &[
                (keys::ASSOCIATION, json!("accepted")),
                (keys::ECHO_STATUS, json!("success")),
                (keys::QUERY_WITHOUT_AUTH, json!(true)),
                (keys::ACCEPTS_ANY_AE, Value::Null),
            ],
        ));
        outputs.push((format!("{peer} (trusted)"), out));
    }

    // --- opt-in: known AE titles and the study count ---
    let mut opt_in = base.clone();
    opt_in.dicom.ae_titles = ae_titles::builtin()
        .expect("shipped AE titles")
        .into_iter()
        .map(|k| k.title.as_str().to_string())
        .collect();
    opt_in.dicom.study_count = StudyCount::Count { cap: 1000 };
    let out = probe(lab.port("dcmqrscp"), &opt_in).await;
    failures.extend(check(
        "dcmqrscp (ae titles)",
        &out,
        &[
            (keys::ASSOCIATION, json!("rejected")),
            (keys::REJECT_REASON, json!("called-ae-title-not-recognized")),
            (keys::ACCEPTED_AE_TITLE, json!("COMMON")),
            (keys::CALLED_AE, json!("ANY-SCP")),
            (keys::ECHO_STATUS, json!("success")),
            (keys::QUERY_WITHOUT_AUTH, json!(true)),
            (keys::STUDY_COUNT, json!(3)),
            (keys::FINGERPRINT, json!("dcmtk")),
        ],
    ));
    outputs.push(("dcmqrscp (ae titles)".into(), out));
    let out = probe(lab.port("orthanc-strict"), &opt_in).await;
    let tried = opt_in
        .dicom
        .ae_titles
        .iter()
        .filter(|t| *t != "ANY-SCP")
        .count();
    failures.extend(check(
        "orthanc-strict (ae titles)",
        &out,
        &[
            (keys::ASSOCIATION, json!("rejected")),
            (keys::ACCEPTED_AE_TITLE, Value::Null),
            (keys::AE_TITLES_TRIED, json!(tried)),
        ],
    ));
    outputs.push(("orthanc-strict (ae titles)".into(), out));
    for (peer, count) in [("orthanc-open", 3), ("pynetdicom-open", 3)] {
        let mut c = opt_in.clone();
        c.dicom.ae_titles.clear();
        let out = probe(lab.port(peer), &c).await;
        failures.extend(check(
            &format!("{peer} (count)"),
            &out,
            &[
                (keys::STUDY_COUNT, json!(count)),
                (keys::STUDY_COUNT_CAPPED, Value::Null),
            ],
        ));
        outputs.push((format!("{peer} (count)"), out));
        // A cap below the number of studies: the count stops there and says so.
        c.dicom.study_count = StudyCount::Count { cap: 2 };
        let out = probe(lab.port(peer), &c).await;
        failures.extend(check(
            &format!("{peer} (capped count)"),
            &out,
            &[
                (keys::STUDY_COUNT, json!(2)),
                (keys::STUDY_COUNT_CAPPED, json!(true)),
            ],
        ));
        outputs.push((format!("{peer} (capped count)"), out));
    }

    // --- DICOM over TLS (--dicom-tls): the same probe inside TLS, certificate recorded ---
    let mut tls = base.clone();
    tls.dicom.tls = DicomTls::Always;
    let out = probe(lab.port("pynetdicom-tls"), &tls).await;
    failures.extend(check(
        "pynetdicom-tls (tls)",
        &out,
        &[
            (keys::ASSOCIATION, json!("accepted")),
            (keys::TLS, json!(true)),
            ("tls.version", json!("TLSv1.3")),
            ("tls.cert_subject", json!("CN=medsurface-lab")),
            ("tls.cert_self_signed", json!(true)),
            (keys::ECHO_STATUS, json!("success")),
            (keys::QUERY_WITHOUT_AUTH, json!(true)),
            (keys::ACCEPTS_ANY_AE, json!(true)),
            (keys::FINGERPRINT, json!("pynetdicom")),
        ],
    ));
    outputs.push(("pynetdicom-tls (tls)".into(), out));
    // Plain DICOM to the TLS port: no association, and no claim that it is DICOM.
    let out = probe(lab.port("pynetdicom-tls"), &base).await;
    if get(&out.details, keys::ASSOCIATION) == "accepted" || out.protocol.is_some() {
        failures.push(format!("pynetdicom-tls (plain): {:?}", out.details));
    }
    outputs.push(("pynetdicom-tls (plain)".into(), out));
    // TLS to a plain DICOM server: the handshake fails, recorded as such.
    let out = probe(lab.port("pynetdicom-open"), &tls).await;
    let error = get(&out.details, keys::ERROR)
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !error.starts_with("tls-") || get(&out.details, keys::TLS) != &json!(false) {
        failures.push(format!("pynetdicom-open (tls): {:?}", out.details));
    }
    outputs.push(("pynetdicom-open (tls)".into(), out));

    // --- nmap's dicom-ping on the same peers: the same accept/reject verdict ---
    let ports: Vec<u16> = ours.keys().copied().collect();
    let nmap = nmap_verdicts(&ports);
    for (port, accepted) in &ours {
        match nmap.get(port) {
            Some(n) if n == accepted => {}
            other => failures.push(format!(
                "port {port}: nmap says {other:?}, we say accepted={accepted}"
            )),
        }
    }

    // --- classification: every observation above, by the shipped signatures ---
    // Orthanc (Debian build) answers with DCMTK's own implementation UID and version name, so
    // on DICOM alone it is DCMTK (knowledge/dicom-implementations.toml, "Known limits"); its
    // web interface is what names it Orthanc (tests/web_peers.rs). A refusal carries no
    // implementation facts: only the generic "DICOM server (association refused)" fits, unless
    // a later association with a known AE title was accepted and identified the toolkit.
    let classifier = Classifier::builtin().expect("the shipped signatures load");
    let dcmtk_v = dcmtk_version();
    let dcmtk = || {
        Some(verdict(
            "dcmtk-dicom",
            Category::Imaging,
            "DCMTK",
            Some(&dcmtk_v),
        ))
    };
    let pynetdicom = || {
        Some(verdict(
            "pynetdicom-dicom",
            Category::Imaging,
            "pynetdicom",
            Some("3.0.4"),
        ))
    };
    let refused = || {
        Some(verdict(
            "generic-dicom-rejecting",
            Category::Imaging,
            "DICOM server",
            None,
        ))
    };
    let expected_verdicts: Vec<(&str, Option<Verdict>)> = vec![
        ("orthanc-open", dcmtk()),
        ("orthanc-strict", refused()),
        ("dcmqrscp", refused()),
        ("storescp", dcmtk()),
        ("pynetdicom-open", pynetdicom()),
        ("pynetdicom-strict", refused()),
        // pynetdicom presenting Conquest's UID and version name (peers.py `vendor`).
        (
            "pynetdicom-vendor",
            Some(verdict(
                "conquest-dicom",
                Category::Imaging,
                "Conquest DICOM server",
                Some("1.5.0"),
            )),
        ),
        ("pynetdicom-leaky", pynetdicom()),
        ("orthanc-strict (own title)", refused()),
        ("orthanc-strict (trusted)", dcmtk()),
        ("pynetdicom-strict (own title)", refused()),
        ("pynetdicom-strict (trusted)", pynetdicom()),
        ("dcmqrscp (ae titles)", dcmtk()),
        ("orthanc-strict (ae titles)", refused()),
        ("orthanc-open (count)", dcmtk()),
        ("orthanc-open (capped count)", dcmtk()),
        ("pynetdicom-open (count)", pynetdicom()),
        ("pynetdicom-open (capped count)", pynetdicom()),
        ("pynetdicom-tls (tls)", pynetdicom()),
        // Plain DICOM to a TLS port, and TLS to a plain port: nothing to claim.
        ("pynetdicom-tls (plain)", None),
        ("pynetdicom-open (tls)", None),
    ];
    let named: Vec<&str> = expected_verdicts.iter().map(|(n, _)| *n).collect();
    let observed: Vec<&str> = outputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(named, observed, "one expected verdict per observation");
    for ((name, out), (_, want)) in outputs.iter().zip(&expected_verdicts) {
        let peer = name.split(" (").next().unwrap_or(name);
        let got = classify(&classifier, "dicom", lab.port(peer), out);
        if &got != want {
            failures.push(format!(
                "{name}: classified {got:?}, expected {want:?}\n    all details: {}",
                serde_json::to_string(&out.details).unwrap_or_default()
            ));
        }
    }

    // --- no patient identifier anywhere: observations, and the database that stores them ---
    let db_dir = lab.state.join("db");
    std::fs::create_dir_all(&db_dir).expect("db dir");
    let db_path = db_dir.join("canary.db");
    {
        let mut store = SqliteStore::open(&db_path).expect("open store");
        let observations: Vec<Observation> = outputs
            .iter()
            .map(|(_, out)| Observation {
                ip: "127.0.0.1".parse().expect("ip"),
                port: 104,
                transport: Transport::Tcp,
                hostname: None,
                protocol: out.protocol.clone(),
                probe: "dicom".into(),
                source: Source::Scan,
                seen_at: Timestamp::now(),
                details: out.details.clone(),
            })
            .collect();
        store
            .record_observations(&observations)
            .expect("store observations");
    }
    let mut haystacks: Vec<(String, Vec<u8>)> = outputs
        .iter()
        .map(|(name, out)| {
            (
                name.clone(),
                serde_json::to_vec(&out.details).expect("json"),
            )
        })
        .collect();
    for entry in std::fs::read_dir(&db_dir).expect("db files") {
        let path = entry.expect("entry").path();
        haystacks.push((
            path.display().to_string(),
            std::fs::read(&path).expect("read db file"),
        ));
    }
    let canaries = lab.canaries();
    assert!(canaries.len() >= 9);
    for (name, hay) in &haystacks {
        for canary in &canaries {
            if hay.windows(canary.len()).any(|w| w == canary.as_bytes()) {
                failures.push(format!("patient identifier {canary} found in {name}"));
            }
        }
    }
    // The leaky server does send the canaries to whoever queries it (here DCMTK's findscu with
    // the same kind of key), so the search above could have failed.
    let findscu = Command::new("findscu")
        .args([
            "-S",
            "-aet",
            "FINDSCU",
            "-aec",
            "ANY-SCP",
            "-k",
            "QueryRetrieveLevel=STUDY",
        ])
        .args([
            "-k",
            "PatientID=NOMATCH",
            "127.0.0.1",
            &lab.port("pynetdicom-leaky").to_string(),
        ])
        .output()
        .expect("run findscu");
    let shown = String::from_utf8_lossy(&findscu.stderr).to_string()
        + &String::from_utf8_lossy(&findscu.stdout);
    assert!(
        canaries.iter().any(|c| shown.contains(c.as_str())),
        "the leaky peer sent no canary:\n{shown}"
    );

    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Hostile peers: each ends in a timeout or protocol outcome, in bounded time, without a panic.

/// What a hostile listener does after reading the request.
#[derive(Clone, Copy)]
enum Hostile {
    Silent,
    /// A valid-looking A-ASSOCIATE-AC, one byte per second.
    Drip,
    /// An A-ASSOCIATE-AC header declaring a 4 GiB PDU, then a flood.
    Huge,
    /// The start of an A-ASSOCIATE-AC, then close.
    Truncated,
    /// A complete PDU of type 2 whose content is garbage.
    Garbage,
    Http,
    /// Accepts the association, then never answers the C-ECHO.
    AcceptThenSilent,
}

fn accept_pdu() -> Vec<u8> {
    fn item(kind: u8, value: &[u8]) -> Vec<u8> {
        let mut v = vec![kind, 0];
        v.extend((value.len() as u16).to_be_bytes());
        v.extend(value);
        v
    }
    let mut body = vec![0, 1, 0, 0];
    body.extend(*b"ANY-SCP         MEDSURFACE      ");
    body.extend([0u8; 32]);
    body.extend(item(0x10, b"1.2.840.10008.3.1.1.1"));
    for id in [1u8, 3, 5] {
        let mut pc = vec![id, 0, 0, 0];
        pc.extend(item(0x40, b"1.2.840.10008.1.2"));
        body.extend(item(0x21, &pc));
    }
    let mut user = item(0x51, &16384u32.to_be_bytes());
    user.extend(item(0x52, b"1.2.3.4.5.6"));
    user.extend(item(0x55, b"HOSTILE_1"));
    body.extend(item(0x50, &user));
    let mut pdu = vec![0x02, 0];
    pdu.extend((body.len() as u32).to_be_bytes());
    pdu.extend(body);
    pdu
}

async fn hostile_listener(kind: Hostile) -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                match kind {
                    Hostile::Silent => {
                        let _ = s.read(&mut buf).await;
                    }
                    Hostile::Drip => {
                        for b in accept_pdu() {
                            if s.write_all(&[b]).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                    Hostile::Huge => {
                        let _ = s.write_all(&[0x02, 0, 0xFF, 0xFF, 0xFF, 0xFF]).await;
                        let chunk = vec![0x41u8; 64 * 1024];
                        for _ in 0..64 {
                            if s.write_all(&chunk).await.is_err() {
                                return;
                            }
                        }
                    }
                    Hostile::Truncated => {
                        let pdu = accept_pdu();
                        let _ = s.write_all(&pdu[..pdu.len() / 2]).await;
                    }
                    Hostile::Garbage => {
                        let _ = s
                            .write_all(&[0x02, 0, 0, 0, 0, 8, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4])
                            .await;
                        let _ = s.read(&mut buf).await;
                    }
                    Hostile::Http => {
                        let _ = s
                            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                            .await;
                    }
                    Hostile::AcceptThenSilent => {
                        let _ = s.write_all(&accept_pdu()).await;
                        let _ = s.read(&mut buf).await;
                        let _ = s.read(&mut buf).await;
                    }
                }
            });
        }
    });
    port
}

fn hostile_ctx() -> ProbeContext {
    let mut c = ProbeContext {
        read_timeout: Duration::from_millis(600),
        probe_timeout: Duration::from_secs(8),
        ..ProbeContext::default()
    };
    c.dicom.ae_checks = AeChecks::Off;
    c
}

async fn run_hostile(kind: Hostile) -> (ProbeOutput, Duration) {
    let port = hostile_listener(kind).await;
    let started = Instant::now();
    let out = probe(port, &hostile_ctx()).await;
    (out, started.elapsed())
}

#[tokio::test]
async fn a_peer_that_never_answers_times_out() {
    let (out, took) = run_hostile(Hostile::Silent).await;
    assert_eq!(get(&out.details, keys::ASSOCIATION), "no-answer");
    assert_eq!(get(&out.details, keys::ERROR), "timeout");
    assert_eq!(out.protocol, None);
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn a_peer_that_drips_one_byte_a_second_times_out() {
    let (out, took) = run_hostile(Hostile::Drip).await;
    assert_eq!(get(&out.details, keys::ASSOCIATION), "no-answer");
    assert_eq!(get(&out.details, keys::ERROR), "timeout");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn a_peer_that_claims_a_4_gib_pdu_is_refused_from_the_header() {
    let (out, took) = run_hostile(Hostile::Huge).await;
    assert_eq!(get(&out.details, keys::ASSOCIATION), "not-dicom");
    assert_eq!(get(&out.details, keys::ERROR), "pdu-too-large");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn a_truncated_pdu_ends_in_closed() {
    let (out, _) = run_hostile(Hostile::Truncated).await;
    assert_eq!(get(&out.details, keys::ASSOCIATION), "no-answer");
    assert_eq!(get(&out.details, keys::ERROR), "closed");
}

#[tokio::test]
async fn a_garbage_pdu_is_a_protocol_fault() {
    let (out, _) = run_hostile(Hostile::Garbage).await;
    assert_eq!(get(&out.details, keys::ASSOCIATION), "not-dicom");
    assert_eq!(get(&out.details, keys::ERROR), "malformed-pdu");
}

#[tokio::test]
async fn an_http_answer_is_not_dicom() {
    let (out, _) = run_hostile(Hostile::Http).await;
    assert_eq!(get(&out.details, keys::ASSOCIATION), "not-dicom");
    assert_eq!(get(&out.details, keys::ERROR), "not-dicom");
    assert_eq!(out.protocol, None);
    // What it said instead is kept, escaped, as its banner.
    assert_eq!(
        get(&out.details, "banner.text"),
        "HTTP/1.1 400 Bad Request\\r\\nContent-Length: 0\\r\\n\\r\\n"
    );
}

#[tokio::test]
async fn a_silent_peer_after_the_association_times_out_the_echo() {
    let (out, took) = run_hostile(Hostile::AcceptThenSilent).await;
    assert_eq!(get(&out.details, keys::ASSOCIATION), "accepted");
    assert_eq!(
        get(&out.details, keys::IMPLEMENTATION_VERSION_NAME),
        "HOSTILE_1"
    );
    assert_eq!(get(&out.details, keys::ERROR), "timeout");
    assert_eq!(get(&out.details, keys::ECHO_STATUS), &Value::Null);
    assert_eq!(out.protocol.as_deref(), Some("dicom"));
    assert!(took < Duration::from_secs(3), "{took:?}");
}
