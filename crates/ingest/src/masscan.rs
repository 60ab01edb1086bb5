//! masscan output, in any of its three shapes, read line by line:
//!
//! - `-oJ`: a JSON list with one host-port record per line (`{"ip": …, "timestamp": "…",
//!   "ports": [{"port": 104, "proto": "tcp", "status": "open", …}]}`), separated by commas on
//!   the record's line or on lines of their own, between `[` and `]` lines;
//! - `-oD`: newline-delimited JSON (`{"ip": …, "port": …, "proto": …, "rec_type": "status" |
//!   "banner", "data": {…}}`);
//! - `-oL`: `open tcp 104 192.0.2.1 1600000000` and `banner tcp 80 192.0.2.1 1600000000 http
//!   TEXT`, with `#` comments.
//!
//! So one reader takes all three and needs no sniffing. An open port becomes an observation
//! with no details (it is a sighting); a banner record adds `banner.text` (and the DICOM or HTTP
//! facts in it) and `masscan.service`. Closed ports are well-formed records with nothing to
//! observe.

use medsurface_model::{Details, Observation, Source, Transport};
use serde::Deserialize;

use crate::common::{self, put_text};
use crate::keys as k;
use crate::loose::{LInt, LList, LStr, Obj};
use crate::pipeline::{Ctx, Parsed};
use crate::RecordProblem;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Host<'a> {
    #[serde(borrow)]
    ip: LStr<'a>,
    #[serde(borrow)]
    timestamp: LStr<'a>,
    /// `-oJ` before 1.3 wrote the timestamp as a number.
    #[serde(borrow)]
    ports: LList<Port<'a>>,
    // -oD shape
    port: LInt,
    #[serde(borrow)]
    proto: LStr<'a>,
    #[serde(borrow)]
    rec_type: LStr<'a>,
    #[serde(borrow)]
    data: Obj<NdData<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Port<'a> {
    port: LInt,
    #[serde(borrow)]
    proto: LStr<'a>,
    #[serde(borrow)]
    status: LStr<'a>,
    #[serde(borrow)]
    service: Obj<Service<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Service<'a> {
    #[serde(borrow)]
    name: LStr<'a>,
    #[serde(borrow)]
    banner: LStr<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NdData<'a> {
    #[serde(borrow)]
    status: LStr<'a>,
    #[serde(borrow)]
    service_name: LStr<'a>,
    #[serde(borrow)]
    banner: LStr<'a>,
}

/// Parses one line of masscan output (`-oJ`, `-oD` or `-oL`).
pub fn parse_line(line: &[u8], ctx: &Ctx) -> Result<Option<Parsed>, RecordProblem> {
    let t = line.trim_ascii();
    let t = t.strip_prefix(b",").unwrap_or(t).trim_ascii_start();
    let t = t.strip_suffix(b",").unwrap_or(t).trim_ascii_end();
    if t.is_empty() || t == b"[" || t == b"]" || t.starts_with(b"#") {
        return Ok(None);
    }
    if t.starts_with(b"{") {
        let h: Host = serde_json::from_slice(t).map_err(|e| common::json_problem(&e))?;
        return json_record(&h, ctx).map(Some);
    }
    list_line(t, ctx).map(Some)
}

fn transport(proto: Option<&str>) -> Result<Transport, RecordProblem> {
    match proto.map(str::to_ascii_lowercase).as_deref() {
        None | Some("tcp") => Ok(Transport::Tcp),
        Some("udp") => Ok(Transport::Udp),
        // sctp, icmp: not services this tool models.
        Some(_) => Err(RecordProblem::Invalid { field: "proto" }),
    }
}

struct Sighting<'a> {
    port: Option<i64>,
    proto: Option<&'a str>,
    open: bool,
    service: Option<&'a str>,
    banner: Option<&'a str>,
}

fn json_record(h: &Host, ctx: &Ctx) -> Result<Parsed, RecordProblem> {
    let ip = match h.ip.get() {
        Some(s) => common::parse_ip(s).ok_or(RecordProblem::Invalid { field: "ip" })?,
        None => return Err(RecordProblem::Missing { field: "ip" }),
    };
    let time = h.timestamp.get().and_then(common::parse_time);
    let mut sightings = Vec::new();
    if !h.ports.0.is_empty() {
        for p in &h.ports.0 {
            let svc = p.service.get();
            sightings.push(Sighting {
                port: p.port.0,
                proto: p.proto.get(),
                open: p.status.get().is_none_or(|s| s == "open"),
                service: svc.and_then(|s| s.name.get()),
                banner: svc.and_then(|s| s.banner.get()),
            });
        }
    } else {
        let data = h.data.get();
        let banner = h.rec_type.get() == Some("banner");
        sightings.push(Sighting {
            port: h.port.0,
            proto: h.proto.get(),
            open: banner
                || data
                    .and_then(|d| d.status.get())
                    .is_none_or(|s| s == "open"),
            service: data.and_then(|d| d.service_name.get()),
            banner: data.and_then(|d| d.banner.get()),
        });
    }
    let mut observations = Vec::new();
    for s in sightings {
        let port = common::port_from(s.port)?;
        let transport = transport(s.proto)?;
        if !s.open {
            continue;
        }
        observations.push(observation(
            Seen {
                ip,
                port,
                transport,
                time,
                service: s.service,
                banner: s.banner,
            },
            ctx,
        ));
    }
    Ok(Parsed {
        observations,
        time_assumed: time.is_none(),
    })
}

/// `open tcp 104 192.0.2.1 1600000000`, `banner tcp 80 192.0.2.1 1600000000 http TEXT`.
fn list_line(t: &[u8], ctx: &Ctx) -> Result<Parsed, RecordProblem> {
    let text = std::str::from_utf8(t).map_err(|_| RecordProblem::Unrecognised)?;
    let mut f = text.splitn(7, ' ');
    let kind = f.next().unwrap_or("");
    let (open, is_banner) = match kind {
        "open" => (true, false),
        "closed" => (false, false),
        "banner" => (true, true),
        _ => return Err(RecordProblem::Unrecognised),
    };
    let transport = transport(f.next())?;
    let port = common::port_from(f.next().and_then(|p| p.parse().ok()))?;
    let ip = f
        .next()
        .and_then(common::parse_ip)
        .ok_or(RecordProblem::Invalid { field: "ip" })?;
    let time = f.next().and_then(common::parse_time);
    let (service, banner) = if is_banner {
        (f.next(), f.next().map(unescape_list_banner))
    } else {
        (None, None)
    };
    let observations = if open {
        vec![observation(
            Seen {
                ip,
                port,
                transport,
                time,
                service,
                banner: banner.as_deref(),
            },
            ctx,
        )]
    } else {
        Vec::new()
    };
    Ok(Parsed {
        observations,
        time_assumed: time.is_none(),
    })
}

/// masscan's list format writes banner bytes outside printable ASCII as `\xNN`; undo that so
/// the banner is read like the JSON formats' (and escaped again, uniformly, on output). The
/// result holds one character per byte, as `bytes_from_json_string` expects.
fn unescape_list_banner(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1] == b'x'
            && b[i + 2].is_ascii_hexdigit()
            && b[i + 3].is_ascii_hexdigit()
        {
            let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            out.push(char::from(hex(b[i + 2]) << 4 | hex(b[i + 3])));
            i += 4;
            continue;
        }
        out.push(char::from(b[i]));
        i += 1;
    }
    out
}

/// One open port as masscan saw it.
struct Seen<'a> {
    ip: std::net::IpAddr,
    port: u16,
    transport: Transport,
    time: Option<medsurface_model::Timestamp>,
    service: Option<&'a str>,
    banner: Option<&'a str>,
}

fn observation(seen: Seen, ctx: &Ctx) -> Observation {
    let Seen {
        ip,
        port,
        transport,
        time,
        service,
        banner,
    } = seen;
    let mut d = Details::new();
    let mut protocol = service.and_then(common::protocol_name);
    put_text(&mut d, k::MASSCAN_SERVICE, service);
    if let Some(b) = banner {
        let bytes = medsurface_proto::dicom::banner::bytes_from_json_string(b);
        common::put_banner(&mut d, &bytes);
        if let Some(p) = common::dicom_from_banner(&mut d, &bytes)
            .or_else(|| common::hl7_from_banner(&mut d, &bytes))
        {
            protocol = Some(p.into());
        }
        common::http_from_banner(&mut d, &bytes);
    }
    Observation {
        ip,
        port,
        transport,
        hostname: None,
        protocol,
        probe: Source::Masscan.as_str().to_string(),
        source: Source::Masscan,
        seen_at: time.unwrap_or(ctx.fallback_time),
        details: d,
    }
}
