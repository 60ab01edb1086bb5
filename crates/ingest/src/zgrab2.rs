//! zgrab2 output: one JSON object per target, `{"ip": …, "domain": …, "data": {NAME: {"status",
//! "protocol", "result", "timestamp", "port"?}}}` → one observation per module that reached the
//! service.
//!
//! A module's name is the user's choice (`[http-8080]` in an ini file); its `protocol` says
//! which module it was. What is read:
//! - `http`: `result.response` status code, headers (`server`, `x_powered_by`,
//!   `www_authenticate`, …), body → `http.*`, `_http.body`, `fhir.*`; `https` when the request
//!   URL's scheme says so or a TLS log is present;
//! - `tls` (and the `tls_log` an https `http` result carries): server hello version and cipher,
//!   the leaf certificate's subject, issuer, organisation, SANs and validity → `tls.*`;
//! - `dicom` (not an upstream module; read when present): an A-ASSOCIATE answer as raw bytes
//!   (`result.raw`/`result.banner`, base64 or hex) or as named fields
//!   (`implementation_class_uid`, `implementation_version_name`, `accepted`) → `dicom.*`;
//! - `banner` and anything else: `result.banner` → `banner.text` (and DICOM/HTTP facts in it).
//!
//! zgrab2 does not always write the port: it is taken from the module entry or its result if
//! present, else from the request URL, else the protocol's default (http 80, https/tls 443,
//! dicom 104); a module of unknown protocol without a port is skipped. Modules that did not
//! reach the service (`connection-timeout`, `connection-refused`, `io-timeout`) are skipped;
//! those that reached it and failed later (`protocol-error`, `application-error`) are kept
//! with `zgrab2.status`.

use std::net::IpAddr;

use medsurface_model::{Details, Observation, Source, Transport};
use medsurface_proto::dicom::details::AssociationAnswer;
use medsurface_proto::dicom::pdu::AssociateAccept;
use serde_json::{json, Value};

use crate::common::{self, put_list, put_text};
use crate::keys as k;
use crate::pipeline::{Ctx, Parsed};
use crate::RecordProblem;

/// Parses one line of zgrab2 output.
pub fn parse_line(line: &[u8], ctx: &Ctx) -> Result<Option<Parsed>, RecordProblem> {
    if common::is_blank(line) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(line).map_err(|e| common::json_problem(&e))?;
    let Some(obj) = v.as_object() else {
        return Err(RecordProblem::Unrecognised);
    };
    let ip = match obj.get("ip").and_then(Value::as_str) {
        Some(s) => common::parse_ip(s).ok_or(RecordProblem::Invalid { field: "ip" })?,
        None => return Err(RecordProblem::Missing { field: "ip" }),
    };
    let domain = obj.get("domain").and_then(Value::as_str);
    let mut observations = Vec::new();
    let mut time_assumed = false;
    if let Some(data) = obj.get("data").and_then(Value::as_object) {
        for (name, module) in data.iter().take(64) {
            if let Some((o, assumed)) = module_observation(Target { ip, domain }, name, module, ctx)
            {
                time_assumed |= assumed;
                observations.push(o);
            }
        }
    }
    Ok(Some(Parsed {
        observations,
        time_assumed,
    }))
}

fn str_at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

/// The target of a zgrab2 line.
struct Target<'a> {
    ip: IpAddr,
    domain: Option<&'a str>,
}

fn module_observation(
    Target { ip, domain }: Target,
    name: &str,
    m: &Value,
    ctx: &Ctx,
) -> Option<(Observation, bool)> {
    let status = m.get("status").and_then(Value::as_str).unwrap_or("success");
    if matches!(
        status,
        "connection-timeout" | "connection-refused" | "io-timeout" | "unknown-error"
    ) {
        return None;
    }
    let kind = m.get("protocol").and_then(Value::as_str).unwrap_or(name);
    let null = Value::Null;
    let result = m.get("result").unwrap_or(&null);
    let mut d = Details::new();
    put_text(&mut d, k::ZGRAB2_MODULE, Some(name));
    if status != "success" {
        put_text(&mut d, k::ZGRAB2_STATUS, Some(status));
    }
    let mut protocol = common::protocol_name(kind);
    let url = str_at(result, &["response", "request", "url", "host"]);
    let scheme = str_at(result, &["response", "request", "url", "scheme"]);
    match kind {
        "http" => {
            http(&mut d, result);
            let tls_log = at(result, &["response", "request", "tls_log", "handshake_log"]);
            if let Some(h) = tls_log {
                tls(&mut d, h);
            }
            if scheme == Some("https") || tls_log.is_some() {
                protocol = Some("https".into());
            }
        }
        "tls" => {
            if let Some(h) = result.get("handshake_log") {
                tls(&mut d, h);
            }
        }
        "dicom" => {
            if let Some(p) = dicom(&mut d, result) {
                protocol = Some(p.into());
            }
        }
        _ => {}
    }
    if let Some(b) = result.get("banner").and_then(Value::as_str) {
        let bytes = medsurface_proto::dicom::banner::bytes_from_json_string(b);
        common::put_banner(&mut d, &bytes);
        if kind != "dicom" {
            if let Some(p) = common::dicom_from_banner(&mut d, &bytes) {
                protocol = Some(p.into());
            }
        }
        common::http_from_banner(&mut d, &bytes);
        if let Some(p) = common::hl7_from_banner(&mut d, &bytes) {
            protocol = Some(p.into());
        }
    }
    let port = m
        .get("port")
        .or_else(|| result.get("port"))
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .or_else(|| {
            url.and_then(|h| h.rsplit_once(':'))
                .and_then(|(_, p)| p.parse().ok())
        })
        .or(match protocol.as_deref() {
            Some("http") => Some(80),
            Some("https") | Some("tls") => Some(443),
            Some("dicom") => Some(104),
            _ => None,
        })?;
    let time = m
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(common::parse_time);
    Some((
        Observation {
            ip,
            port,
            transport: Transport::Tcp,
            hostname: domain
                .filter(|d| !d.is_empty())
                .map(|d| medsurface_model::text::printable(d.as_bytes(), 253)),
            protocol,
            probe: Source::Zgrab2.as_str().to_string(),
            source: Source::Zgrab2,
            seen_at: time.unwrap_or(ctx.fallback_time),
            details: d,
        },
        time.is_none(),
    ))
}

fn http(d: &mut Details, result: &Value) {
    let Some(resp) = result.get("response") else {
        return;
    };
    if let Some(s) = resp.get("status_code").and_then(Value::as_u64) {
        if (100..1000).contains(&s) {
            d.insert("http.status".into(), json!(s));
        }
    }
    if let Some(h) = resp.get("headers").and_then(Value::as_object) {
        // zgrab2 writes header names lower-case with `_` for `-`, values as lists.
        let first = |name: &str| {
            h.get(name)
                .and_then(|v| v.as_array().and_then(|a| a.first()).or(Some(v)))
                .and_then(Value::as_str)
        };
        put_text(d, "http.server", first("server"));
        put_text(d, "http.powered_by", first("x_powered_by"));
        if let Some(realm) = first("www_authenticate").and_then(realm_of) {
            put_text(d, "http.realm", Some(&realm));
        }
        let mut kept = serde_json::Map::new();
        for (name, v) in h.iter().take(medsurface_proto::http::HEADERS_KEPT) {
            if name == "set_cookie" || name == "unknown" {
                continue;
            }
            let value = match v {
                Value::Array(a) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                Value::String(s) => s.clone(),
                _ => continue,
            };
            let name = medsurface_model::text::printable(name.replace('_', "-").as_bytes(), 64);
            let value = medsurface_model::text::printable(
                value.as_bytes(),
                medsurface_proto::http::HEADER_VALUE_CAP,
            );
            kept.insert(name, Value::String(value));
        }
        if !kept.is_empty() {
            d.insert("http.headers".into(), Value::Object(kept));
        }
    }
    if let Some(body) = resp.get("body").and_then(Value::as_str) {
        common::put_body(d, std::borrow::Cow::Borrowed(body));
        common::fhir_from_body(d, body);
        if !d.contains_key("http.title") {
            let page = medsurface_proto::http::html::parse(body.as_bytes());
            put_text(d, "http.title", page.title.as_deref());
        }
    }
}

/// The realm of a `WWW-Authenticate` value (`Basic realm="Orthanc Secure Area"`).
fn realm_of(v: &str) -> Option<String> {
    let lower = v.to_ascii_lowercase();
    let i = lower.find("realm=")?;
    let rest = &v[i + 6..];
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let end = rest.find(['"', ',']).unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

fn tls(d: &mut Details, h: &Value) {
    put_text(
        d,
        "tls.version",
        str_at(h, &["server_hello", "version", "name"]),
    );
    put_text(
        d,
        "tls.cipher",
        str_at(h, &["server_hello", "cipher_suite", "name"]),
    );
    let Some(cert) = at(h, &["server_certificates", "certificate", "parsed"]) else {
        return;
    };
    put_text(
        d,
        "tls.cert_subject",
        cert.get("subject_dn").and_then(Value::as_str),
    );
    put_text(
        d,
        "tls.cert_issuer",
        cert.get("issuer_dn").and_then(Value::as_str),
    );
    let org = at(cert, &["subject", "organization"])
        .and_then(|o| o.as_array().and_then(|a| a.first()).or(Some(o)))
        .and_then(Value::as_str);
    put_text(d, "tls.cert_org", org);
    for (key, field) in [
        ("tls.cert_not_before", "start"),
        ("tls.cert_not_after", "end"),
    ] {
        if let Some(t) = str_at(cert, &["validity", field]).and_then(common::parse_time) {
            d.insert(key.into(), json!(t.to_string()));
        }
    }
    if let Some(names) =
        at(cert, &["extensions", "subject_alt_name", "dns_names"]).and_then(Value::as_array)
    {
        let sans: Vec<String> = names
            .iter()
            .filter_map(Value::as_str)
            .take(64)
            .map(|n| format!("DNS:{n}"))
            .collect();
        put_list(d, "tls.cert_sans", sans.iter().map(String::as_str));
    }
}

/// DICOM facts of a (non-upstream) dicom module result.
fn dicom(d: &mut Details, result: &Value) -> Option<&'static str> {
    for key in ["raw", "banner", "associate_ac", "response"] {
        if let Some(s) = result.get(key).and_then(Value::as_str) {
            let bytes = common::unhex(s).or_else(|| base64_decode(s));
            if let Some(p) = bytes.and_then(|b| common::dicom_from_banner(d, &b)) {
                return Some(p);
            }
        }
    }
    let uid = result
        .get("implementation_class_uid")
        .and_then(Value::as_str);
    let name = result
        .get("implementation_version_name")
        .and_then(Value::as_str);
    let accepted = result.get("accepted").and_then(Value::as_bool);
    if uid.is_none() && name.is_none() && accepted.is_none() {
        return None;
    }
    let answer = if accepted == Some(false) {
        AssociationAnswer::Rejected(medsurface_proto::dicom::pdu::AssociateReject {
            result: 0,
            source: 0,
            reason: 0,
        })
    } else {
        let text = |s: &str| medsurface_model::text::printable(s.trim().as_bytes(), 96);
        AssociationAnswer::Accepted(AssociateAccept {
            implementation_class_uid: uid.map(text),
            implementation_version_name: name.map(text),
            ..AssociateAccept::default()
        })
    };
    let called = result.get("called_ae_title").and_then(Value::as_str);
    common::put_dicom_answer(d, &answer, called);
    Some("dicom")
}

/// Standard base64 (zgrab2 writes byte strings so), or `None`.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let s = s.trim().trim_end_matches('=').as_bytes();
    if s.len() > 128 * 1024 || s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= u32::from(val(c)?) << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_rejects_garbage() {
        assert_eq!(base64_decode("AgAAAA==").unwrap(), vec![2, 0, 0, 0]);
        assert_eq!(base64_decode("aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64_decode("a$"), None);
        assert_eq!(base64_decode("a"), None);
    }

    #[test]
    fn realms() {
        assert_eq!(
            realm_of("Basic realm=\"Orthanc Secure Area\"").as_deref(),
            Some("Orthanc Secure Area")
        );
        assert_eq!(realm_of("Bearer"), None);
    }
}
