//! Censys hosts (search API v2 host shape: `ip`, `services[]`, `location`,
//! `autonomous_system`, `dns`) → one observation per service.
//!
//! Censys data comes in two shapes, told apart by the first line:
//! - newline-delimited hosts (one compact object per line: exports, `jq -c`): the parallel
//!   line pipeline, like Shodan;
//! - a JSON document: one host (`censys view`), an array of hosts (`censys search` output), or
//!   an API answer wrapping them (`{"result": {…host…}}`, `{"result": {"hits": […]}}`). Arrays
//!   are streamed element by element, so memory stays bounded by the largest host, not the
//!   file; a syntax error ends the document (JSON cannot be resynchronised) and is reported with
//!   its line.
//!
//! Censys recognises DICOM but keeps only the raw banner (field-notes.md): `banner` and
//! `banner_hex` go through the same DICOM banner parser as Shodan's.

use std::cell::Cell;
use std::fmt;
use std::io::Read;

use medsurface_model::{Details, Observation, Source, Transport};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::common::{self, put_list, put_text};
use crate::keys as k;
use crate::pipeline::{Ctx, Parsed};
use crate::{DocCtx, DocStop, LineRead, RecordProblem};

/// Whether the input is one host per line: its first non-blank line is a whole object.
pub fn is_line_delimited(prefix: &[u8]) -> bool {
    let first = prefix
        .split(|b| *b == b'\n')
        .map(<[u8]>::trim_ascii)
        .find(|l| !l.is_empty());
    first.is_some_and(|l| l.starts_with(b"{") && l.ends_with(b"}"))
}

/// Parses one line of newline-delimited Censys hosts.
pub fn parse_line(line: &[u8], ctx: &Ctx) -> Result<Option<Parsed>, RecordProblem> {
    if common::is_blank(line) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(line).map_err(|e| common::json_problem(&e))?;
    host(unwrap_host(&v), ctx).map(Some)
}

/// The host inside an API wrapper (`{"result": host}`, Platform's `{"resource": host}`).
fn unwrap_host(v: &Value) -> &Value {
    for key in ["result", "resource", "host"] {
        if let Some(inner) = v.get(key).filter(|i| i.get("ip").is_some()) {
            return inner;
        }
    }
    v
}

fn host(h: &Value, ctx: &Ctx) -> Result<Parsed, RecordProblem> {
    let ip = match h.get("ip").and_then(Value::as_str) {
        Some(s) => common::parse_ip(s).ok_or(RecordProblem::Invalid { field: "ip" })?,
        None => return Err(RecordProblem::Missing { field: "ip" }),
    };
    let mut shared = Details::new();
    if let Some(loc) = h.get("location") {
        common::put_country(&mut shared, loc.get("country_code").and_then(Value::as_str));
        put_text(
            &mut shared,
            k::GEO_CITY,
            loc.get("city").and_then(Value::as_str),
        );
    }
    if let Some(asys) = h.get("autonomous_system") {
        common::put_asn(
            &mut shared,
            asys.get("asn").and_then(Value::as_str),
            asys.get("asn").and_then(Value::as_i64),
        );
        let org = asys
            .get("description")
            .or_else(|| asys.get("name"))
            .and_then(Value::as_str);
        put_text(&mut shared, k::NET_ORG, org);
    }
    if let Some(dns) = h.get("dns") {
        let mut names: Vec<&str> = Vec::new();
        for path in [&["names"][..], &["reverse_dns", "names"][..]] {
            if let Some(list) = path
                .iter()
                .try_fold(dns, |v, k| v.get(k))
                .and_then(Value::as_array)
            {
                names.extend(list.iter().filter_map(Value::as_str).take(64));
            }
        }
        put_list(&mut shared, k::NET_HOSTNAMES, names);
    }
    let host_time = ["last_updated_at", "observed_at"]
        .iter()
        .find_map(|k| h.get(*k).and_then(Value::as_str))
        .and_then(common::parse_time);
    let mut observations = Vec::new();
    let mut time_assumed = false;
    let services = h.get("services").and_then(Value::as_array);
    for s in services.into_iter().flatten().take(4096) {
        let port = common::port_from(s.get("port").and_then(Value::as_i64))?;
        let transport = match s.get("transport_protocol").and_then(Value::as_str) {
            Some(t) if t.eq_ignore_ascii_case("udp") => Transport::Udp,
            Some(t) if t.eq_ignore_ascii_case("quic") => Transport::Udp,
            _ => Transport::Tcp,
        };
        let time = ["observed_at", "timestamp"]
            .iter()
            .find_map(|k| s.get(*k).and_then(Value::as_str))
            .and_then(common::parse_time)
            .or(host_time);
        time_assumed |= time.is_none();
        let mut d = shared.clone();
        let name = s
            .get("extended_service_name")
            .or_else(|| s.get("service_name"))
            .and_then(Value::as_str);
        put_text(&mut d, k::CENSYS_SERVICE, name);
        let mut protocol = name.and_then(common::protocol_name);
        service_details(&mut d, s, &mut protocol);
        observations.push(Observation {
            ip,
            port,
            transport,
            hostname: None,
            protocol,
            probe: Source::Censys.as_str().to_string(),
            source: Source::Censys,
            seen_at: time.unwrap_or(ctx.fallback_time),
            details: d,
        });
    }
    Ok(Parsed {
        observations,
        time_assumed,
    })
}

fn service_details(d: &mut Details, s: &Value, protocol: &mut Option<String>) {
    let banner = s
        .get("banner_hex")
        .and_then(Value::as_str)
        .and_then(common::unhex)
        .or_else(|| {
            s.get("banner")
                .and_then(Value::as_str)
                .map(medsurface_proto::dicom::banner::bytes_from_json_string)
        });
    if let Some(b) = &banner {
        common::put_banner(d, b);
        if let Some(p) = common::dicom_from_banner(d, b).or_else(|| common::hl7_from_banner(d, b)) {
            *protocol = Some(p.into());
        }
    }
    if let Some(sw) = s.get("software").and_then(Value::as_array) {
        let names: Vec<String> = sw
            .iter()
            .take(32)
            .map(|p| {
                ["vendor", "product", "version"]
                    .iter()
                    .filter_map(|k| p.get(*k).and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .filter(|n| !n.is_empty())
            .collect();
        put_list(d, k::CENSYS_SOFTWARE, names.iter().map(String::as_str));
    }
    if let Some(resp) = s.get("http").and_then(|h| h.get("response")) {
        if let Some(code) = resp.get("status_code").and_then(Value::as_u64) {
            if (100..1000).contains(&code) {
                d.insert("http.status".into(), json!(code));
            }
        }
        put_text(
            d,
            "http.title",
            resp.get("html_title").and_then(Value::as_str),
        );
        if let Some(h) = resp.get("headers").and_then(Value::as_object) {
            let first = |name: &str| {
                h.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .and_then(|(_, v)| v.as_array().and_then(|a| a.first()).or(Some(v)))
                    .and_then(|v| {
                        v.as_str()
                            .or_else(|| v.get("headers").and_then(Value::as_str))
                    })
            };
            put_text(d, "http.server", first("server"));
            put_text(
                d,
                "http.powered_by",
                first("x_powered_by").or(first("x-powered-by")),
            );
        }
        if let Some(body) = resp.get("body").and_then(Value::as_str) {
            common::put_body(d, std::borrow::Cow::Borrowed(body));
            common::fhir_from_body(d, body);
        }
        if let Some(hash) = resp
            .get("favicons")
            .and_then(Value::as_array)
            .and_then(|f| f.first())
            .and_then(|f| f.get("shodan_hash").or_else(|| f.get("hash_shodan")))
            .and_then(Value::as_i64)
            .and_then(|h| i32::try_from(h).ok())
        {
            d.insert("http.favicon_hash".into(), json!(hash));
        }
        if protocol.is_none() {
            *protocol = Some("http".into());
        }
    }
    if let Some(tls) = s.get("tls") {
        put_text(
            d,
            "tls.version",
            tls.get("version_selected").and_then(Value::as_str),
        );
        put_text(
            d,
            "tls.cipher",
            tls.get("cipher_selected").and_then(Value::as_str),
        );
        if let Some(leaf) = tls.get("certificates").and_then(|c| c.get("leaf_data")) {
            put_text(
                d,
                "tls.cert_subject",
                leaf.get("subject_dn").and_then(Value::as_str),
            );
            put_text(
                d,
                "tls.cert_issuer",
                leaf.get("issuer_dn").and_then(Value::as_str),
            );
            let org = leaf
                .get("subject")
                .and_then(|s| s.get("organization"))
                .and_then(|o| o.as_array().and_then(|a| a.first()).or(Some(o)))
                .and_then(Value::as_str);
            put_text(d, "tls.cert_org", org);
        }
        if protocol.as_deref() == Some("http") {
            *protocol = Some("https".into());
        }
    }
}

/// Counts newlines as serde_json reads, for record line numbers in documents.
struct Lines<'r> {
    inner: &'r mut dyn LineRead,
    seen: &'r Cell<u64>,
}

impl Read for Lines<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.seen
            .set(self.seen.get() + memchr::memchr_iter(b'\n', &out[..n]).count() as u64);
        Ok(n)
    }
}

/// Reads a Censys JSON document (see the module documentation).
pub fn read_document(r: &mut dyn LineRead, dctx: &mut DocCtx<'_>) -> Result<(), DocStop> {
    let seen = Cell::new(0u64);
    let mut de = serde_json::Deserializer::from_reader(Lines {
        inner: r,
        seen: &seen,
    });
    let mut stop = None;
    let seed = Top {
        dctx: &mut *dctx,
        seen: &seen,
        stop: &mut stop,
    };
    let outcome = seed.deserialize(&mut de).and_then(|_| de.end());
    if let Some(s) = stop {
        return Err(s);
    }
    match outcome {
        Ok(()) => Ok(()),
        // The input itself failed (a corrupt gzip): `document` reports that.
        Err(e) if e.is_io() => Ok(()),
        Err(e) => dctx.error(e.line() as u64, common::json_problem(&e)),
    }
}

struct Top<'x, 'a> {
    dctx: &'x mut DocCtx<'a>,
    seen: &'x Cell<u64>,
    stop: &'x mut Option<DocStop>,
}

impl Top<'_, '_> {
    /// Delivers the host(s) in `v`; `false` when the import must stop.
    fn take(&mut self, v: &Value) -> bool {
        let line = self.seen.get() + 1;
        let hits = v
            .get("result")
            .and_then(|r| r.get("hits"))
            .and_then(Value::as_array);
        let hosts: Vec<&Value> = match (hits, v.as_array()) {
            (Some(h), _) => h.iter().collect(),
            (None, Some(a)) => a.iter().collect(),
            (None, None) => vec![unwrap_host(v)],
        };
        for h in hosts {
            let outcome = match host(h, self.dctx.ctx) {
                Ok(parsed) => self.dctx.deliver(line, parsed),
                Err(problem) => self.dctx.error(line, problem),
            };
            if let Err(stop) = outcome {
                *self.stop = Some(stop);
                return false;
            }
        }
        true
    }
}

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Censys host, an array of hosts, or an API answer")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            if !self.take(&v) {
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, map: A) -> Result<(), A::Error> {
        let v = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        if !self.take(&v) {
            return Err(de::Error::custom("stopped"));
        }
        Ok(())
    }
}
