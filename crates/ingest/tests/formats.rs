//! Every format from small fixtures (documentation addresses only, synthetic content), plus the
//! shared synthetic Shodan sample; gzip, multi-member gzip, cut and corrupt gzip; bad lines with
//! their line numbers; strict mode; early stop; delivery order.

use std::io::{Cursor, Write};
use std::num::NonZeroUsize;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use medsurface_ingest::{
    keys, read, read_file, read_with, Format, IngestError, IngestOptions, IngestReport, Named,
    Record, RecordProblem, Stages,
};
use medsurface_model::{Observation, Source, Transport};
use serde_json::json;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn opts() -> IngestOptions {
    IngestOptions {
        fallback_time: Some("2030-01-01T00:00:00Z".parse().unwrap()),
        ..IngestOptions::default()
    }
}

fn collect_file(format: Format, path: &Path) -> (Vec<Record>, IngestReport) {
    let mut records = Vec::new();
    let report = read_file(
        format,
        path,
        &mut |r| {
            records.push(r);
            ControlFlow::Continue(())
        },
        &opts(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    (records, report)
}

fn collect_bytes(
    format: Format,
    bytes: &[u8],
    opts: &IngestOptions,
) -> (Vec<Record>, Result<IngestReport, IngestError>) {
    let mut records = Vec::new();
    let input = Named {
        name: "input",
        reader: Cursor::new(bytes.to_vec()),
    };
    let result = read(
        format,
        input,
        &mut |r| {
            records.push(r);
            ControlFlow::Continue(())
        },
        opts,
    );
    (records, result)
}

fn observations(records: &[Record]) -> Vec<&Observation> {
    records.iter().flat_map(|r| &r.observations).collect()
}

fn find<'a>(obs: &[&'a Observation], ip: &str, port: u16) -> &'a Observation {
    obs.iter()
        .find(|o| o.ip.to_string() == ip && o.port == port)
        .copied()
        .unwrap_or_else(|| panic!("no observation of {ip}:{port}"))
}

/// Every key an importer writes belongs to the shared vocabulary, the DICOM keys or the
/// import-only list, and peer text never carries a control character.
fn assert_vocabulary(obs: &[&Observation]) {
    for o in obs {
        for (k, v) in &o.details {
            assert!(keys::is_known(k), "unknown key {k} in {o:?}");
            if k != "_http.body" {
                let text = v.to_string();
                assert!(!text.chars().any(|c| c.is_control()), "{k}: {text}");
            }
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn shodan_sample_reads_whole_with_every_fact() {
    let (records, report) = collect_file(Format::Shodan, &data("shodan-sample.jsonl"));
    assert_eq!(report.records, 20);
    assert_eq!(report.lines, 20);
    assert_eq!(report.error_count, 0, "{:?}", report.errors);
    assert_eq!(report.timestamps_assumed, 0);
    assert!(!report.gzip);
    let obs = observations(&records);
    assert_eq!(obs.len(), 20);
    assert_vocabulary(&obs);
    assert!(obs.iter().all(|o| o.source == Source::Shodan));
    let lines: Vec<u64> = records.iter().map(|r| r.line).collect();
    assert_eq!(lines, (1..=20).collect::<Vec<_>>());

    // DICOM, text form: the fingerprint facts and the import reading of ANY-SCP.
    let dcmtk = find(&obs, "192.0.2.10", 104);
    assert_eq!(dcmtk.protocol.as_deref(), Some("dicom"));
    assert_eq!(dcmtk.seen_at.to_string(), "2025-03-01T10:15:02.48192Z");
    let d = &dcmtk.details;
    assert_eq!(d["dicom.association"], "accepted");
    assert_eq!(
        d["dicom.implementation_class_uid"],
        "1.2.276.0.7230010.3.0.3.6.6"
    );
    assert_eq!(d["dicom.implementation_version_name"], "OFFIS_DCMTK_366");
    assert_eq!(d["dicom.accepts_any_ae"], true);
    assert_eq!(d["dicom.called_ae"], "ANY-SCP");
    assert_eq!(d["geo.country"], "US");
    assert_eq!(d["geo.city"], "Boston");
    assert_eq!(d["net.asn"], "AS64496");
    assert_eq!(d["net.org"], "Example University Hospital");
    assert_eq!(d["net.hostnames"], json!(["pacs1.radiology.uhosp.example"]));
    assert_eq!(d["shodan.tags"], json!(["medical"]));
    assert_eq!(d["shodan.module"], "dicom");
    assert!(d["banner.text"]
        .as_str()
        .unwrap()
        .starts_with("DICOM Server Response\\n"));

    // DICOM, raw A-ASSOCIATE-AC and A-ASSOCIATE-RJ.
    let raw = &find(&obs, "198.51.100.23", 104).details;
    assert_eq!(raw["dicom.implementation_class_uid"], "1.2.840.113845.1.1");
    assert_eq!(raw["dicom.max_pdu_length"], 16384);
    let rejected = obs
        .iter()
        .find(|o| o.port == 11112)
        .map(|o| &o.details)
        .unwrap();
    assert_eq!(rejected["dicom.association"], "rejected");
    assert_eq!(
        rejected["dicom.reject_reason"],
        "called-ae-title-not-recognized"
    );
    assert_eq!(rejected["dicom.accepts_any_ae"], false);

    // RDP's answer (a TPKT: 03 00 …) starts like an A-ASSOCIATE-RJ but is not one.
    let rdp = find(&obs, "203.0.113.9", 3389);
    assert_eq!(rdp.details["shodan.module"], "rdp");
    assert_ne!(rdp.protocol.as_deref(), Some("dicom"));
    assert!(
        !rdp.details.keys().any(|k| k.starts_with("dicom.")),
        "{:?}",
        rdp.details
    );
    let mut dicom_services = obs
        .iter()
        .filter(|o| o.details.contains_key("dicom.association"));
    assert!(dicom_services.clone().count() >= 3);
    assert!(dicom_services.all(|o| o.details["shodan.module"] == "dicom"));

    // Orthanc Explorer over HTTP: title, favicon, headers from the banner, transient body.
    let orthanc = obs
        .iter()
        .find(|o| o.port == 8042 && o.details.get("http.status") == Some(&json!(200)))
        .unwrap();
    assert_eq!(orthanc.protocol.as_deref(), Some("http"));
    assert_eq!(orthanc.details["http.title"], "Orthanc Explorer");
    assert!(orthanc.details["http.favicon_hash"].is_i64());
    assert!(orthanc.details["http.headers"].is_object());
    assert!(orthanc.details["_http.body"]
        .as_str()
        .unwrap()
        .contains("<title>"));
    assert_eq!(orthanc.details["shodan.product"], "Orthanc");
    let locked = obs
        .iter()
        .find(|o| o.port == 8042 && o.details.get("http.status") == Some(&json!(401)))
        .unwrap();
    assert_eq!(locked.details["http.realm"], "Orthanc Secure Area");

    // HTTPS with a certificate and Shodan's vulnerability list.
    let emr = obs.iter().find(|o| o.port == 443).unwrap();
    assert_eq!(emr.protocol.as_deref(), Some("https"));
    assert_eq!(emr.details["tls.cert_org"], "Fabrikam Clinica Medica");
    assert_eq!(emr.details["tls.cert_not_after"], "2026-03-01T00:00:00Z");
    assert_eq!(emr.details["shodan.vulns"], json!(["CVE-2023-25690"]));

    // A FHIR CapabilityStatement in the page body, through the FHIR probe's reader.
    let fhir = obs
        .iter()
        .find(|o| o.details.contains_key("fhir.software"))
        .expect("FHIR facts");
    assert_eq!(fhir.details["fhir.software"], "HAPI FHIR Server");
    assert_eq!(fhir.details["fhir.version"], "4.0.1");

    // HL7 over MLLP, through the live HL7 probe's reader.
    let hl7 = obs.iter().find(|o| o.port == 2575).unwrap();
    assert_eq!(hl7.protocol.as_deref(), Some("hl7"));
    assert_eq!(hl7.details["hl7.ack_code"], "AR");
    assert_eq!(hl7.details["hl7.speaks_mllp"], true);

    // Databases, in the live database probes' words.
    let mongo = obs.iter().find(|o| o.port == 27017).unwrap();
    assert_eq!(mongo.details["db.product"], "MongoDB");
    assert_eq!(mongo.details["db.version"], "4.4.18");
    assert_eq!(mongo.details["db.auth_required"], false);
    assert_eq!(
        mongo.details["db.databases"],
        json!(["admin", "emr_prod", "local"])
    );
    let elastic = obs.iter().find(|o| o.port == 9200).unwrap();
    assert_eq!(elastic.details["db.product"], "Elasticsearch");
    assert_eq!(elastic.details["db.auth_required"], false);

    // An IPv6 banner and a UDP one.
    assert!(obs.iter().any(|o| o.ip.is_ipv6()));
    assert!(obs.iter().any(|o| o.transport == Transport::Udp));
}

#[test]
fn gzip_and_multi_member_gzip_read_like_plain() {
    let plain = std::fs::read(data("shodan-sample.jsonl")).unwrap();
    let (want, _) = collect_bytes(Format::Shodan, &plain, &opts());

    let (got, report) = collect_bytes(Format::Shodan, &gzip(&plain), &opts());
    let report = report.unwrap();
    assert!(report.gzip);
    assert!(report.compressed_bytes.unwrap() > 0);
    assert_eq!(report.bytes, plain.len() as u64);
    assert_eq!(got, want);

    // Two members, split in the middle of a line.
    let cut = plain.len() / 2;
    let mut two = gzip(&plain[..cut]);
    two.extend(gzip(&plain[cut..]));
    let (got, report) = collect_bytes(Format::Shodan, &two, &opts());
    assert_eq!(report.unwrap().records, 20);
    assert_eq!(got, want);
}

/// Many distinct lines (the sample with rewritten addresses), to span several chunks.
fn big_sample(copies: usize) -> Vec<u8> {
    let plain = std::fs::read_to_string(data("shodan-sample.jsonl")).unwrap();
    let mut out = String::new();
    for i in 0..copies {
        for line in plain.lines() {
            let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
            v["port"] = json!(1 + (i % 60000));
            out.push_str(&v.to_string());
            out.push('\n');
        }
    }
    out.into_bytes()
}

#[test]
fn cut_gzip_names_the_compressed_offset_and_keeps_what_came_before() {
    let plain = big_sample(100);
    let gz = gzip(&plain);
    let cut = &gz[..gz.len() * 6 / 10];
    let (records, result) = collect_bytes(Format::Shodan, cut, &opts());
    let err = result.unwrap_err();
    let IngestError::Decompress {
        compressed_offset,
        partial,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert!(
        *compressed_offset > 0 && *compressed_offset <= cut.len() as u64,
        "{err}"
    );
    assert!(err.to_string().contains(&compressed_offset.to_string()));
    assert!(partial.records > 0 && partial.records < 2000, "{partial:?}");
    assert_eq!(partial.records, records.len() as u64);
    assert_eq!(partial.error_count, 0);
}

#[test]
fn corrupt_gzip_is_an_error_with_an_offset() {
    let plain = big_sample(20);
    let mut gz = gzip(&plain);
    let mid = gz.len() / 2;
    for b in &mut gz[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let (_, result) = collect_bytes(Format::Shodan, &gz, &opts());
    match result {
        Err(IngestError::Decompress {
            compressed_offset, ..
        }) => assert!(compressed_offset as usize <= gz.len()),
        other => panic!("{other:?}"),
    }
    // Trailing garbage after a complete member is corrupt too.
    let mut gz = gzip(&plain);
    let end = gz.len() as u64;
    gz.extend_from_slice(b"garbage after the member");
    match collect_bytes(Format::Shodan, &gz, &opts()).1 {
        Err(IngestError::Decompress {
            compressed_offset,
            partial,
            ..
        }) => {
            assert!(compressed_offset >= end, "{compressed_offset} < {end}");
            assert_eq!(partial.records, 400);
        }
        other => panic!("{other:?}"),
    }
}

/// The sample with bad lines at known places: line 3 garbage, line 8 a port out of range,
/// line 12 blank, the last line cut short.
fn with_bad_lines() -> Vec<u8> {
    let plain = std::fs::read_to_string(data("shodan-sample.jsonl")).unwrap();
    let mut lines: Vec<String> = plain.lines().map(str::to_string).collect();
    lines.insert(2, "this is not json".into());
    lines.insert(7, r#"{"ip_str": "192.0.2.99", "port": 99999}"#.into());
    lines.insert(11, "".into());
    let mut out = lines.join("\n");
    out.push_str("\n{\"ip_str\": \"192.0.2.98\", \"po");
    out.into_bytes()
}

#[test]
fn bad_lines_are_counted_with_line_numbers_and_the_import_goes_on() {
    let input = with_bad_lines();
    let (records, result) = collect_bytes(Format::Shodan, &input, &opts());
    let report = result.unwrap();
    assert_eq!(report.records, 20);
    assert_eq!(records.len(), 20);
    assert_eq!(report.error_count, 3);
    let lines: Vec<u64> = report.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 8, 24]);
    assert!(matches!(
        report.errors[0].problem,
        RecordProblem::Malformed { .. }
    ));
    assert_eq!(
        report.errors[1].problem,
        RecordProblem::Invalid { field: "port" }
    );
    assert_eq!(report.errors[2].problem, RecordProblem::Truncated);
    assert_eq!(
        report.errors[0].to_string(),
        format!("input:3: {}", report.errors[0].problem)
    );
    // Line numbers of good records skip the bad ones.
    assert_eq!(records[2].line, 4);

    // Only the first N are kept; all are counted.
    let few = IngestOptions {
        errors_kept: 1,
        ..opts()
    };
    let report = collect_bytes(Format::Shodan, &input, &few).1.unwrap();
    assert_eq!((report.error_count, report.errors.len()), (3, 1));
}

#[test]
fn strict_mode_stops_at_the_first_bad_line() {
    let (records, result) = collect_bytes(Format::Shodan, &with_bad_lines(), &opts().strict());
    match result {
        Err(IngestError::Strict { error, partial }) => {
            assert_eq!(error.line, 3);
            assert_eq!(partial.records, 2);
            assert_eq!(records.len(), 2);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_overlong_line_is_skipped_without_buffering_it() {
    let mut input = b"{\"ip_str\": \"192.0.2.1\", \"port\": 1}\n{\"data\": \"".to_vec();
    input.extend(std::iter::repeat_n(b'x', 300_000));
    input.extend_from_slice(
        b"\", \"ip_str\": \"192.0.2.2\", \"port\": 2}\n{\"ip_str\": \"192.0.2.3\", \"port\": 3}\n",
    );
    let small = IngestOptions {
        max_record_bytes: 100_000,
        batch_bytes: 4096,
        ..opts()
    };
    let (records, result) = collect_bytes(Format::Shodan, &input, &small);
    let report = result.unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].line, 3);
    assert_eq!(report.errors[0].line, 2);
    assert_eq!(
        report.errors[0].problem,
        RecordProblem::TooLong { limit: 100_000 }
    );
    // The same line under the chunk size is caught by the parser threads.
    let roomy = IngestOptions {
        max_record_bytes: 100_000,
        ..opts()
    };
    let report = collect_bytes(Format::Shodan, &input, &roomy).1.unwrap();
    assert_eq!(report.records, 2);
    assert_eq!(report.errors[0].line, 2);
}

#[test]
fn records_arrive_in_file_order_across_many_chunks_and_threads() {
    let input = big_sample(100);
    let o = IngestOptions {
        threads: NonZeroUsize::new(3),
        batch_bytes: 2048,
        ..opts()
    };
    let (records, result) = collect_bytes(Format::Shodan, &input, &o);
    let report = result.unwrap();
    assert_eq!(report.records, 2000);
    let lines: Vec<u64> = records.iter().map(|r| r.line).collect();
    assert_eq!(lines, (1..=2000).collect::<Vec<_>>());
    assert_eq!(report.bytes, input.len() as u64);
}

#[test]
fn the_sink_can_stop_the_import() {
    let input = big_sample(50);
    let mut seen = 0;
    let input = Named {
        name: "input",
        reader: Cursor::new(input),
    };
    let report = read(
        Format::Shodan,
        input,
        &mut |_| {
            seen += 1;
            if seen == 5 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
        &opts(),
    )
    .unwrap();
    assert!(report.stopped_by_sink);
    assert_eq!((seen, report.records), (5, 5));
}

#[test]
fn a_missing_file_is_an_open_error() {
    let err = read_file(
        Format::Shodan,
        Path::new("/nonexistent/medsurface.json.gz"),
        &mut |_| ControlFlow::Continue(()),
        &opts(),
    )
    .unwrap_err();
    assert!(matches!(err, IngestError::Open { .. }), "{err}");
    assert!(err.partial().is_none());
}

#[test]
fn censys_lines_arrays_and_api_answers_agree() {
    let (lines, report) = collect_file(Format::Censys, &data("censys-hosts.jsonl"));
    assert_eq!((report.records, report.observations), (2, 4));
    let (array, report) = collect_file(Format::Censys, &data("censys-search.json"));
    assert_eq!((report.records, report.observations), (2, 4));
    assert_eq!(report.error_count, 0);
    let strip = |rs: &[Record]| -> Vec<Observation> {
        rs.iter().flat_map(|r| r.observations.clone()).collect()
    };
    assert_eq!(strip(&lines), strip(&array));
    let (view, _) = collect_file(Format::Censys, &data("censys-view.json"));
    assert_eq!(strip(&view), strip(&lines)[..2]);

    let obs = observations(&lines);
    assert_vocabulary(&obs);
    let dicom = find(&obs, "198.51.100.61", 104);
    assert_eq!(dicom.protocol.as_deref(), Some("dicom"));
    assert_eq!(
        dicom.details["dicom.implementation_class_uid"],
        "1.2.840.113845.1.1"
    );
    assert_eq!(dicom.details["geo.country"], "NL");
    assert_eq!(dicom.details["net.asn"], "AS64510");
    assert_eq!(
        dicom.details["net.org"],
        "Example University Medical Centre"
    );
    assert_eq!(dicom.details["censys.service_name"], "DICOM");
    assert_eq!(dicom.seen_at.to_string(), "2025-04-02T08:00:01.5Z");
    let web = find(&obs, "198.51.100.61", 8042);
    assert_eq!(web.details["http.title"], "Orthanc Explorer");
    assert_eq!(web.details["http.favicon_hash"], -478834633);
    assert_eq!(
        web.details["censys.software"],
        json!(["Orthanc Orthanc 1.12.3"])
    );
    let emr = find(&obs, "203.0.113.77", 443);
    assert_eq!(emr.protocol.as_deref(), Some("https"));
    assert_eq!(emr.details["tls.cert_org"], "Fabrikam Clinica Medica");
    assert_eq!(emr.details["http.server"], "Apache/2.4.52 (Ubuntu)");
    let hl7 = find(&obs, "203.0.113.77", 2575);
    assert!(hl7.details["banner.text"]
        .as_str()
        .unwrap()
        .starts_with("\\x0bMSH|"));
    assert_eq!(hl7.protocol.as_deref(), Some("hl7"));
    assert_eq!(hl7.details["hl7.ack_code"], "AA");
    assert_eq!(hl7.details["hl7.sending_facility"], "SYNTH");
}

#[test]
fn censys_document_syntax_error_is_reported_with_its_line() {
    let text = std::fs::read_to_string(data("censys-search.json")).unwrap();
    // Break the second host: the first is delivered, the error names a line in the second.
    let second = text.find("203.0.113.77").unwrap();
    let broken = format!(
        "{}\"ip\" \"broken\"{}",
        &text[..second - 7],
        &text[second + 14..]
    );
    let (records, result) = collect_bytes(Format::Censys, broken.as_bytes(), &opts());
    let report = result.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(report.error_count, 1);
    let first_host_lines = text[..second].lines().count() as u64;
    assert!(
        report.errors[0].line >= first_host_lines,
        "{:?}",
        report.errors
    );
    assert!(matches!(
        report.errors[0].problem,
        RecordProblem::Malformed { .. }
    ));
}

#[test]
fn nmap_xml_with_dicom_ping_http_and_certificates() {
    let (records, report) = collect_file(Format::Nmap, &data("nmap-dicom.xml"));
    assert_eq!(report.error_count, 0, "{:?}", report.errors);
    assert_eq!((report.records, report.records_empty), (2, 1));
    assert_eq!(report.observations, 4);
    let obs = observations(&records);
    assert_vocabulary(&obs);
    let open = find(&obs, "192.0.2.41", 104);
    assert_eq!(open.protocol.as_deref(), Some("dicom"));
    assert_eq!(open.details["dicom.association"], "accepted");
    assert_eq!(open.details["dicom.accepts_any_ae"], true);
    assert_eq!(open.details["nmap.service"], "dicom");
    assert_eq!(open.seen_at.as_second(), 1795888653);
    let checked = find(&obs, "192.0.2.41", 11112);
    assert_eq!(checked.details["dicom.association"], "rejected");
    assert_eq!(checked.details["dicom.accepts_any_ae"], false);
    assert!(
        !checked.details.contains_key("dicom.reject_reason"),
        "nmap gives no codes"
    );
    let web = find(&obs, "192.0.2.42", 8080);
    assert_eq!(web.protocol.as_deref(), Some("http"));
    assert_eq!(web.details["http.title"], "Synthetic PACS Web &amp; Viewer");
    assert_eq!(web.details["http.server"], "SimpleHTTP/0.6 Python/3.11.7");
    assert_eq!(web.details["nmap.product"], "SimpleHTTPServer");
    assert_eq!(
        web.details["nmap.cpe"],
        json!(["cpe:/a:python:simplehttpserver:0.6"])
    );
    assert_eq!(web.hostname.as_deref(), Some("pacs.clinic.example"));
    let tls = find(&obs, "192.0.2.42", 443);
    assert_eq!(tls.protocol.as_deref(), Some("https"));
    assert_eq!(tls.details["tls.cert_org"], "Example Clinic");
    assert_eq!(
        tls.details["tls.cert_subject"],
        "CN=pacs.clinic.example, C=US, O=Example Clinic"
    );
    assert!(
        !tls.details.contains_key("http.title"),
        "no-title text is not a title"
    );
    assert!(
        obs.iter().all(|o| o.port != 9999),
        "closed ports are not observations"
    );
    assert_eq!(records[0].line, 10);
}

#[test]
fn nmap_cut_and_broken_documents() {
    let text = std::fs::read_to_string(data("nmap-dicom.xml")).unwrap();
    let second = text.find("<host starttime").unwrap() + 20;
    let second = second + text[second..].find("<host ").unwrap();
    let cut = &text[..second + 200];
    let (records, result) = collect_bytes(Format::Nmap, cut.as_bytes(), &opts());
    let report = result.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(report.error_count, 1);
    assert_eq!(report.errors[0].problem, RecordProblem::Truncated);

    let broken = text.replacen("</ports>", "</prots>", 1);
    let (records, result) = collect_bytes(Format::Nmap, broken.as_bytes(), &opts());
    let report = result.unwrap();
    assert!(records.is_empty());
    assert!(matches!(
        report.errors[0].problem,
        RecordProblem::Malformed { .. }
    ));
    assert_eq!(report.errors[0].line, 20, "the line of `</prots>`");
    assert!(matches!(
        collect_bytes(Format::Nmap, broken.as_bytes(), &opts().strict()).1,
        Err(IngestError::Strict { .. })
    ));
}

#[test]
fn masscan_three_shapes() {
    for (file, want) in [
        ("masscan.json", 3),
        ("masscan.txt", 3),
        ("masscan.ndjson", 2),
    ] {
        let (records, report) = collect_file(Format::Masscan, &data(file));
        assert_eq!(report.error_count, 0, "{file}: {:?}", report.errors);
        assert_eq!(report.observations, want, "{file}");
        let obs = observations(&records);
        assert_vocabulary(&obs);
        let dicom = find(&obs, "192.0.2.21", 104);
        assert!(dicom.details.is_empty());
        assert_eq!(dicom.seen_at.as_second(), 1743580800);
        assert_eq!(dicom.source, Source::Masscan);
        let web = find(&obs, "192.0.2.22", 80);
        assert_eq!(web.details["http.server"], "nginx", "{file}");
        assert_eq!(web.details["masscan.service"], "http");
        assert!(obs.iter().all(|o| o.port != 4242), "{file}: closed port");
    }
    let (_, report) = collect_bytes(
        Format::Masscan,
        b"open tcp 70000 192.0.2.1 0\nwat\n",
        &opts(),
    );
    let report = report.unwrap();
    assert_eq!(report.error_count, 2);
    assert_eq!(
        report.errors[0].problem,
        RecordProblem::Invalid { field: "port" }
    );
    assert_eq!(report.errors[1].problem, RecordProblem::Unrecognised);
}

#[test]
fn zgrab2_modules_become_observations() {
    let (records, report) = collect_file(Format::Zgrab2, &data("zgrab2.jsonl"));
    assert_eq!(report.error_count, 0, "{:?}", report.errors);
    assert_eq!((report.records, report.observations), (2, 4));
    let obs = observations(&records);
    assert_vocabulary(&obs);
    let explorer = find(&obs, "192.0.2.31", 8042);
    assert_eq!(explorer.details["http.title"], "Orthanc Explorer");
    assert_eq!(explorer.details["http.server"], "nginx");
    assert_eq!(explorer.details["zgrab2.module"], "http");
    let locked = find(&obs, "192.0.2.31", 8043);
    assert_eq!(locked.details["http.realm"], "Orthanc Secure Area");
    assert_eq!(locked.details["http.status"], 401);
    let tls = find(&obs, "192.0.2.32", 443);
    assert_eq!(tls.details["tls.version"], "TLSv1.0");
    assert_eq!(tls.details["tls.cert_org"], "Example Clinic");
    assert_eq!(tls.details["tls.cert_not_after"], "2022-01-01T00:00:00Z");
    assert_eq!(tls.hostname.as_deref(), Some("portal.clinic.example"));
    let dicom = find(&obs, "192.0.2.32", 11112);
    assert_eq!(dicom.protocol.as_deref(), Some("dicom"));
    assert_eq!(
        dicom.details["dicom.implementation_version_name"],
        "Syn4,4,0,36"
    );
}

#[test]
fn every_format_survives_garbage_and_empty_input() {
    let garbage: &[&[u8]] = &[
        b"",
        b"\n\n\n",
        b"\x1f",
        b"\x1f\x8b",
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage",
        b"\x00\xff\xfe{[<",
        b"<?xml version=\"1.0\"?><nmaprun><host><address addr=\"x\" addrtype=\"ipv4\"/></host>",
        b"[{\"ip\": 5}, {\"services\": 7}, 3, null]",
        b"{\"ip\": \"192.0.2.1\", \"services\": [{\"port\": \"x\"}]}",
        b"{\"ip\": \"192.0.2.1\", \"data\": {\"m\": {\"result\": {\"banner\": \"\\u0002\\u0000\\u0000\\u0000\\u0000\\u0001\"}}}}",
    ];
    for input in garbage {
        for format in Format::ALL {
            let (_, result) = collect_bytes(format, input, &opts());
            if let Err(e) = result {
                assert!(
                    matches!(e, IngestError::Decompress { .. }),
                    "{format} on {input:?}: {e}"
                );
            }
        }
    }
}

#[test]
fn the_map_stage_runs_per_record_and_its_result_arrives_with_the_record() {
    let input = big_sample(20);
    let o = IngestOptions {
        threads: NonZeroUsize::new(2),
        batch_bytes: 4096,
        ..opts()
    };
    let mut seen = Vec::new();
    let map = |obs: &[Observation]| (std::thread::current().id(), obs[0].port);
    let stages = Stages {
        map: &map,
        sink: &mut |record: Record, (thread, port): (std::thread::ThreadId, u16)| {
            assert_eq!(record.observations[0].port, port);
            seen.push((record.line, thread));
            ControlFlow::Continue(())
        },
    };
    let named = Named {
        name: "input",
        reader: Cursor::new(input),
    };
    let report = read_with(Format::Shodan, named, stages, &o).unwrap();
    assert_eq!(report.records, 400);
    let lines: Vec<u64> = seen.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, (1..=400).collect::<Vec<_>>());
    // The map ran on parser threads, not on the caller's.
    let caller = std::thread::current().id();
    assert!(seen.iter().all(|(_, t)| *t != caller));
}

#[test]
fn a_panic_in_a_parser_thread_fails_the_import_instead_of_hanging() {
    let input = big_sample(5);
    let map = |obs: &[Observation]| {
        if obs[0].port == 3 {
            panic!("a bug in a map stage");
        }
    };
    let mut delivered = 0;
    let stages = Stages {
        map: &map,
        sink: &mut |_, ()| {
            delivered += 1;
            ControlFlow::Continue(())
        },
    };
    let named = Named {
        name: "input",
        reader: Cursor::new(input),
    };
    let o = IngestOptions {
        batch_bytes: 4096,
        ..opts()
    };
    match read_with(Format::Shodan, named, stages, &o) {
        Err(IngestError::Worker { partial, .. }) => {
            assert_eq!(partial.records, delivered);
            assert!(delivered < 100);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn censys_search_api_pages_are_read_host_by_host() {
    let hosts = std::fs::read_to_string(data("censys-hosts.jsonl")).unwrap();
    let hits: Vec<serde_json::Value> = hosts
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let page = serde_json::to_string_pretty(&json!({
        "code": 200, "status": "OK",
        "result": {"query": "services.service_name: DICOM", "total": 2, "hits": hits,
                   "links": {"prev": "", "next": ""}}
    }))
    .unwrap();
    let (records, result) = collect_bytes(Format::Censys, page.as_bytes(), &opts());
    let report = result.unwrap();
    assert_eq!(
        (report.records, report.observations, report.error_count),
        (2, 4, 0)
    );
    assert_eq!(records[0].observations[0].ip.to_string(), "198.51.100.61");
}
