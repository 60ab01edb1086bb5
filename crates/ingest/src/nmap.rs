//! nmap `-oX` XML → one record per `<host>`, one observation per open port.
//!
//! Streamed with quick-xml (events, constant memory): nmap files of large scans are big and a
//! DOM would hold them whole. Per port: the `<service>` name, product, version, extrainfo and
//! CPEs (`nmap.*`, import-only), and what some NSE scripts say, in the shared vocabulary:
//! - `dicom-ping`: "Any AET is accepted (Insecure)" → association accepted and
//!   `dicom.accepts_any_ae` true; "Called AET check enabled" → rejected and false (nmap calls
//!   `ANY-SCP` from `ECHOSCU` and reports no vendor, field-notes.md). The rejection's codes are
//!   unknown, so they are written as `rejected-permanent`/… only when nmap gives them (it does
//!   not today).
//! - `http-title` → `http.title`; `http-server-header` → `http.server`; `ssl-cert` →
//!   `tls.cert_subject`/`issuer`/`org`/`not_before`/`not_after`.
//! - Other scripts' outputs → `nmap.scripts` (id → bounded, escaped output).
//!
//! XML cannot be resynchronised after a syntax error: the error is reported with its line and
//! the document ends there; hosts delivered before stay delivered. A host without an address,
//! or a port without a valid number, is a bad record and the import goes on.

use std::net::IpAddr;

use medsurface_model::text::printable;
use medsurface_model::{Details, Observation, Source, Timestamp, Transport};
use medsurface_proto::dicom::details::AssociationAnswer;
use medsurface_proto::dicom::pdu::{AssociateAccept, AssociateReject};
use quick_xml::errors::SyntaxError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde_json::{json, Value};

use crate::common::{self, put_text};
use crate::keys as k;
use crate::pipeline::Parsed;
use crate::{DocCtx, DocStop, LineRead, RecordProblem};

/// Most bytes of one script output kept.
const SCRIPT_CAP: usize = 512;

#[derive(Default)]
struct Host {
    line: u64,
    ip: Option<IpAddr>,
    bad_ip: bool,
    hostnames: Vec<String>,
    time: Option<Timestamp>,
    ports: Vec<Observation>,
    problem: Option<RecordProblem>,
}

#[derive(Default)]
struct Port {
    number: Option<u16>,
    transport: Transport,
    open: bool,
    protocol: Option<String>,
    tunnel_ssl: bool,
    details: Details,
    cpes: Vec<String>,
    scripts: serde_json::Map<String, Value>,
}

/// Where collected text goes when its element ends.
#[derive(Clone, Copy, PartialEq)]
enum TextTo {
    Cpe,
    Elem,
}

#[derive(Default)]
struct Script {
    id: String,
    output: String,
    /// `table key` path inside the script.
    tables: Vec<String>,
    /// `(table path, elem key, text)`.
    elems: Vec<(String, String, String)>,
    elem_key: String,
}

/// The reader's state between events.
#[derive(Default)]
struct Doc {
    run_time: Option<Timestamp>,
    host: Option<Host>,
    port: Option<Port>,
    script: Option<Script>,
    text_to: Option<TextTo>,
    text: String,
}

/// Reads an nmap XML document.
pub fn read(r: &mut dyn LineRead, dctx: &mut DocCtx<'_>) -> Result<(), DocStop> {
    // Text is not trimmed by the reader: it would cut the spaces around entity references
    // (`Web &amp; Viewer`); it is trimmed when its element ends.
    let mut reader = Reader::from_reader(r);
    let mut buf = Vec::new();
    let mut doc = Doc::default();
    loop {
        buf.clear();
        let event = match reader.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(e) => {
                // An input failure (corrupt gzip) is reported by the caller; a syntax error here.
                if matches!(e, quick_xml::Error::Io(_)) {
                    return Ok(());
                }
                let line = reader.get_ref().newlines() + 1;
                let problem = match e {
                    // Input ended inside markup: a cut file.
                    quick_xml::Error::Syntax(s) if s != SyntaxError::InvalidBangMarkup => {
                        RecordProblem::Truncated
                    }
                    e => RecordProblem::Malformed {
                        column: 0,
                        detail: printable(e.to_string().as_bytes(), 256),
                    },
                };
                return dctx.error(line, problem);
            }
        };
        let line = reader.get_ref().newlines() + 1;
        let finished = match event {
            Event::Start(e) => {
                doc.start(&e, line);
                None
            }
            Event::Empty(e) => {
                doc.start(&e, line);
                doc.end(e.name().as_ref())
            }
            Event::End(e) => doc.end(e.name().as_ref()),
            Event::Text(t) => {
                if doc.collecting() {
                    if let Ok(s) = t.decode() {
                        doc.text.push_str(&s);
                    }
                }
                None
            }
            Event::GeneralRef(r) => {
                if doc.collecting() {
                    if let Ok(Some(c)) = r.resolve_char_ref() {
                        doc.text.push(c);
                    } else if let Ok(name) = r.decode() {
                        if let Some(s) = quick_xml::escape::resolve_predefined_entity(&name) {
                            doc.text.push_str(s);
                        }
                    }
                }
                None
            }
            Event::Eof => break,
            _ => None,
        };
        if let Some(h) = finished {
            deliver(h, doc.run_time, dctx)?;
        }
    }
    if let Some(h) = doc.host.take() {
        // The document ended inside a <host>: a cut file.
        return dctx.error(h.line, RecordProblem::Truncated);
    }
    Ok(())
}

fn attr(e: &BytesStart, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

impl Doc {
    fn collecting(&self) -> bool {
        self.text_to.is_some() && self.text.len() < SCRIPT_CAP
    }

    fn start(&mut self, e: &BytesStart, line: u64) {
        match e.name().as_ref() {
            b"nmaprun" => self.run_time = attr(e, b"start").and_then(|t| common::parse_time(&t)),
            b"host" => {
                self.host = Some(Host {
                    line,
                    time: attr(e, b"starttime").and_then(|t| common::parse_time(&t)),
                    ..Host::default()
                });
            }
            b"address" => {
                if let Some(h) = self.host.as_mut() {
                    let kind = attr(e, b"addrtype").unwrap_or_default();
                    if kind == "ipv4" || kind == "ipv6" {
                        match attr(e, b"addr").and_then(|a| common::parse_ip(&a)) {
                            Some(ip) => h.ip = h.ip.or(Some(ip)),
                            None => h.bad_ip = true,
                        }
                    }
                }
            }
            b"hostname" => {
                if let (Some(h), Some(name)) = (self.host.as_mut(), attr(e, b"name")) {
                    if h.hostnames.len() < 64 {
                        h.hostnames.push(name);
                    }
                }
            }
            b"port" => {
                let number = attr(e, b"portid").and_then(|p| p.parse().ok());
                if number.is_none() {
                    if let Some(h) = self.host.as_mut() {
                        h.problem = Some(RecordProblem::Invalid { field: "portid" });
                    }
                }
                let transport = match attr(e, b"protocol").as_deref() {
                    Some("udp") => Transport::Udp,
                    _ => Transport::Tcp,
                };
                self.port = Some(Port {
                    number,
                    transport,
                    ..Port::default()
                });
            }
            b"state" => {
                if let Some(p) = self.port.as_mut() {
                    p.open = attr(e, b"state").as_deref() == Some("open");
                }
            }
            b"service" => {
                if let Some(p) = self.port.as_mut() {
                    let name = attr(e, b"name");
                    p.tunnel_ssl = attr(e, b"tunnel").as_deref() == Some("ssl");
                    p.protocol = name.as_deref().and_then(common::protocol_name);
                    let d = &mut p.details;
                    put_text(d, k::NMAP_SERVICE, name.as_deref());
                    put_text(d, k::NMAP_PRODUCT, attr(e, b"product").as_deref());
                    put_text(d, k::NMAP_VERSION, attr(e, b"version").as_deref());
                    put_text(d, k::NMAP_EXTRAINFO, attr(e, b"extrainfo").as_deref());
                }
            }
            b"cpe" => {
                self.text.clear();
                self.text_to = Some(TextTo::Cpe);
            }
            b"script" => {
                self.script = Some(Script {
                    id: attr(e, b"id").unwrap_or_default(),
                    output: attr(e, b"output").unwrap_or_default(),
                    ..Script::default()
                });
            }
            b"table" => {
                if let Some(sc) = self.script.as_mut() {
                    sc.tables.push(attr(e, b"key").unwrap_or_default());
                }
            }
            b"elem" => {
                if let Some(sc) = self.script.as_mut() {
                    sc.elem_key = attr(e, b"key").unwrap_or_default();
                    self.text.clear();
                    self.text_to = Some(TextTo::Elem);
                }
            }
            _ => {}
        }
    }

    /// Handles the end of an element; returns a finished host.
    fn end(&mut self, name: &[u8]) -> Option<Host> {
        match name {
            b"cpe" => {
                if let (Some(p), Some(TextTo::Cpe)) = (self.port.as_mut(), self.text_to) {
                    let cpe = self.text.trim();
                    if p.cpes.len() < 16 && !cpe.is_empty() {
                        p.cpes.push(cpe.to_string());
                    }
                }
                self.text_to = None;
            }
            b"elem" => {
                if let (Some(sc), Some(TextTo::Elem)) = (self.script.as_mut(), self.text_to) {
                    if sc.elems.len() < 64 {
                        let path = sc.tables.join("/");
                        let key = std::mem::take(&mut sc.elem_key);
                        sc.elems.push((path, key, self.text.trim().to_string()));
                    }
                }
                self.text_to = None;
            }
            b"table" => {
                if let Some(sc) = self.script.as_mut() {
                    sc.tables.pop();
                }
            }
            b"script" => {
                if let (Some(sc), Some(p)) = (self.script.take(), self.port.as_mut()) {
                    apply_script(p, &sc);
                }
            }
            b"port" => {
                if let (Some(p), Some(h)) = (self.port.take(), self.host.as_mut()) {
                    if let (true, Some(number)) = (p.open, p.number) {
                        h.ports.push(finish_port(p, number));
                    }
                }
            }
            b"host" => return self.host.take(),
            _ => {}
        }
        None
    }
}

fn finish_port(mut p: Port, number: u16) -> Observation {
    if !p.cpes.is_empty() {
        common::put_list(
            &mut p.details,
            k::NMAP_CPE,
            p.cpes.iter().map(String::as_str),
        );
    }
    if !p.scripts.is_empty() {
        p.details.insert(
            k::NMAP_SCRIPTS.into(),
            Value::Object(std::mem::take(&mut p.scripts)),
        );
    }
    let mut protocol = p.protocol;
    if p.tunnel_ssl && protocol.as_deref() == Some("http") {
        protocol = Some("https".into());
    }
    if p.details.contains_key("dicom.association") {
        protocol = Some("dicom".into());
    }
    Observation {
        // Filled in by `deliver`, which knows the host.
        ip: IpAddr::from([0, 0, 0, 0]),
        port: number,
        transport: p.transport,
        hostname: None,
        protocol,
        probe: Source::Nmap.as_str().to_string(),
        source: Source::Nmap,
        seen_at: Timestamp::UNIX_EPOCH,
        details: p.details,
    }
}

fn apply_script(p: &mut Port, sc: &Script) {
    let elem = |key: &str| {
        sc.elems
            .iter()
            .find(|(path, k, _)| path.is_empty() && k == key)
            .map(|(_, _, v)| v.as_str())
    };
    match sc.id.as_str() {
        "dicom-ping" => {
            let config = elem("config").unwrap_or(&sc.output);
            let answer = if config.contains("Any AET is accepted") {
                Some(AssociationAnswer::Accepted(AssociateAccept::default()))
            } else if config.contains("Called AET check enabled") {
                Some(AssociationAnswer::Rejected(AssociateReject {
                    result: 0,
                    source: 0,
                    reason: 0,
                }))
            } else {
                None
            };
            if let Some(a) = answer {
                common::put_dicom_answer(&mut p.details, &a, None);
            }
        }
        "http-title" => {
            let title = elem("title").unwrap_or(sc.output.trim());
            if !title.starts_with("Site doesn't have a title") {
                put_text(&mut p.details, "http.title", Some(title));
            }
        }
        "http-server-header" => {
            put_text(&mut p.details, "http.server", Some(sc.output.trim()));
        }
        "ssl-cert" => {
            let dn = |table: &str| {
                let parts: Vec<String> = sc
                    .elems
                    .iter()
                    .filter(|(path, _, _)| path == table)
                    .map(|(_, k, v)| format!("{}={v}", short_attr(k)))
                    .collect();
                (!parts.is_empty()).then(|| parts.join(", "))
            };
            put_text(&mut p.details, "tls.cert_subject", dn("subject").as_deref());
            put_text(&mut p.details, "tls.cert_issuer", dn("issuer").as_deref());
            let org = sc
                .elems
                .iter()
                .find(|(path, k, _)| path == "subject" && k == "organizationName")
                .map(|(_, _, v)| v.as_str());
            put_text(&mut p.details, "tls.cert_org", org);
            for (key, field) in [
                ("tls.cert_not_before", "notBefore"),
                ("tls.cert_not_after", "notAfter"),
            ] {
                let t = sc
                    .elems
                    .iter()
                    .find(|(path, k, _)| path == "validity" && k == field)
                    .and_then(|(_, _, v)| common::parse_time(v));
                if let Some(t) = t {
                    p.details.insert(key.into(), json!(t.to_string()));
                }
            }
        }
        _ => {}
    }
    if !sc.id.is_empty() && sc.id != "dicom-ping" && p.scripts.len() < 32 {
        let id = printable(sc.id.as_bytes(), 64);
        p.scripts
            .insert(id, json!(printable(sc.output.as_bytes(), SCRIPT_CAP)));
    }
}

fn short_attr(k: &str) -> &str {
    match k {
        "commonName" => "CN",
        "organizationName" => "O",
        "organizationalUnitName" => "OU",
        "countryName" => "C",
        "stateOrProvinceName" => "ST",
        "localityName" => "L",
        other => other,
    }
}

fn deliver(h: Host, run_time: Option<Timestamp>, dctx: &mut DocCtx<'_>) -> Result<(), DocStop> {
    if let Some(problem) = h.problem {
        return dctx.error(h.line, problem);
    }
    let ip = match h.ip {
        Some(ip) => ip,
        None if h.bad_ip => return dctx.error(h.line, RecordProblem::Invalid { field: "address" }),
        None => return dctx.error(h.line, RecordProblem::Missing { field: "address" }),
    };
    let time = h.time.or(run_time);
    let seen_at = time.unwrap_or(dctx.ctx.fallback_time);
    let hostname = h.hostnames.first().map(|n| printable(n.as_bytes(), 253));
    let mut observations = h.ports;
    for o in &mut observations {
        o.ip = ip;
        o.seen_at = seen_at;
        o.hostname.clone_from(&hostname);
        common::put_list(
            &mut o.details,
            k::NET_HOSTNAMES,
            h.hostnames.iter().map(String::as_str),
        );
    }
    dctx.deliver(
        h.line,
        Parsed {
            observations,
            time_assumed: time.is_none(),
        },
    )
}
