//! What every importer does the same way: bounded printable text, timestamps, addresses, and the
//! protocol facts read through `medsurface-proto` (DICOM banners, HTTP heads, FHIR
//! CapabilityStatements), so an imported banner and a live answer end in the same keys with the
//! same values.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};

use medsurface_model::text::printable;
use medsurface_model::{Details, Timestamp};
use medsurface_proto::dicom::details::{
    self as dicom_details, keys as dicom_keys, AssociationAnswer, Verdict,
};
use medsurface_proto::dicom::{banner, fingerprint::Fingerprints, DEFAULT_CALLED_AE};
use serde_json::{json, Value};

use crate::keys;

/// Most bytes of a raw banner kept in `banner.text` (the live banner probe's default cap).
pub const BANNER_CAP: usize = 1024;
/// Most bytes of a page body kept in the transient `_http.body`.
pub const BODY_CAP: usize = 64 * 1024;
/// Most bytes of a short peer string (title, header, org, host name).
pub const TEXT_CAP: usize = 256;

/// Exactly `medsurface_model::text::printable(bytes, cap)`, faster on mostly-ASCII text: runs of
/// printable ASCII (which `printable` keeps as they are) are copied whole, and only the other
/// segments go through `printable`. Segments are cut at ASCII bytes only, so no UTF-8 sequence
/// (valid or not) is split and the result is the same byte for byte (a test checks it). The text
/// is built as bytes and checked for UTF-8 once at the end, not run by run.
pub fn escape(bytes: &[u8], cap: usize) -> String {
    let bytes = &bytes[..bytes.len().min(cap)];
    let safe = is_plain;
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len() + 16);
    let mut i = 0;
    while i < bytes.len() {
        let run = bytes[i..]
            .iter()
            .position(|&b| !safe(b))
            .unwrap_or(bytes.len() - i);
        out.extend_from_slice(&bytes[i..i + run]);
        i += run;
        if i == bytes.len() {
            break;
        }
        // An ASCII byte to escape, as `printable` does; or the non-ASCII bytes up to the next
        // ASCII byte, through `printable` itself.
        match bytes[i] {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b if b.is_ascii() => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ]);
            }
            _ => {
                let end = i + bytes[i..]
                    .iter()
                    .position(u8::is_ascii)
                    .unwrap_or(bytes.len() - i);
                out.extend_from_slice(printable(&bytes[i..end], end - i).as_bytes());
                i = end;
                continue;
            }
        }
        i += 1;
    }
    // ASCII and `printable`'s text: always UTF-8, so the fallback is never taken.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Exactly `escape(text.as_bytes(), cap)`, for text already known to be UTF-8: when the bytes
/// kept are all printable ASCII without a backslash (most names, titles and organisations), they
/// are copied as they are, without building bytes and checking them for UTF-8 again.
pub fn escape_str(text: &str, cap: usize) -> String {
    // All-ASCII bytes before `cap` put a character boundary at `cap`, so `get` finds it.
    match text.get(..text.len().min(cap)) {
        Some(kept) if kept.bytes().all(is_plain) => kept.to_owned(),
        _ => escape(text.as_bytes(), cap),
    }
}

/// A byte that `printable` keeps as it is, alone: printable ASCII other than the backslash.
fn is_plain(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && b != b'\\'
}

/// Inserts `value` as bounded printable text under `key`, unless it is absent or empty.
pub fn put_text(d: &mut Details, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        let v = escape_str(v.trim(), TEXT_CAP);
        if !v.is_empty() {
            d.insert(key.to_string(), Value::String(v));
        }
    }
}

/// Inserts a list of bounded printable strings, unless it is empty.
pub fn put_list<'a>(d: &mut Details, key: &str, values: impl IntoIterator<Item = &'a str>) {
    let list: Vec<Value> = values
        .into_iter()
        .map(|v| escape_str(v.trim(), TEXT_CAP))
        .filter(|v| !v.is_empty())
        .map(Value::String)
        .collect();
    if !list.is_empty() {
        d.insert(key.to_string(), Value::Array(list));
    }
}

/// An ISO 3166 alpha-2 code, upper-cased, or nothing.
pub fn put_country(d: &mut Details, code: Option<&str>) {
    if let Some(c) = code.map(str::trim) {
        if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) {
            d.insert(
                keys::GEO_COUNTRY.into(),
                Value::String(c.to_ascii_uppercase()),
            );
        }
    }
}

/// `AS64496`, from `"AS64496"`, `"64496"` or 64496.
pub fn put_asn(d: &mut Details, text: Option<&str>, number: Option<i64>) {
    let n = match (text, number) {
        (Some(t), _) => {
            let t = t.trim();
            let digits = t
                .strip_prefix("AS")
                .or_else(|| t.strip_prefix("as"))
                .unwrap_or(t);
            digits.parse::<u32>().ok()
        }
        (None, Some(n)) => u32::try_from(n).ok(),
        (None, None) => None,
    };
    if let Some(n) = n {
        d.insert(keys::NET_ASN.into(), Value::String(asn_text(n)));
    }
}

/// `AS64496`: what `format!("AS{n}")` writes, without the formatting machinery (once per record).
fn asn_text(mut n: u32) -> String {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut s = String::with_capacity(2 + digits.len() - at);
    s.push_str("AS");
    s.extend(digits[at..].iter().map(|&b| char::from(b)));
    s
}

/// A timestamp: RFC 3339 with a zone, or a civil date-time without one (Shodan's, which is UTC),
/// or a number of seconds since the epoch (masscan, nmap).
pub fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<i64>()
            .ok()
            .and_then(|n| Timestamp::from_second(n).ok());
    }
    // A timestamp needs an offset (or `Z`); Shodan's zone-less civil times never have one, so
    // their parse would only fail, and jiff's error is built (and allocated) for nothing.
    if !is_zoneless_civil(s) {
        if let Ok(t) = s.parse::<Timestamp>() {
            return Some(t);
        }
    }
    s.parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|dt| jiff::tz::TimeZone::UTC.to_timestamp(dt).ok())
}

/// `YYYY-MM-DDTHH:MM:SS`, optionally with a fraction `.d…`, and nothing else: a civil
/// date-time that holds no offset, so it cannot be read as a [`Timestamp`].
fn is_zoneless_civil(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 19 {
        return false;
    }
    let shape = b"dddd-dd-ddTdd:dd:dd";
    let head = b[..19].iter().zip(shape).all(|(&c, &want)| match want {
        b'd' => c.is_ascii_digit(),
        _ => c == want,
    });
    head && match &b[19..] {
        [] => true,
        [b'.', fraction @ ..] => !fraction.is_empty() && fraction.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// An address from its text.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.trim().parse().ok()
}

/// An IPv4 address given as an unsigned 32-bit integer (Shodan's `ip`).
pub fn ip_from_int(n: i64) -> Option<IpAddr> {
    u32::try_from(n).ok().map(|n| IpAddr::V4(Ipv4Addr::from(n)))
}

/// A port number in 0..=65535.
pub fn port_from(n: Option<i64>) -> Result<u16, crate::RecordProblem> {
    match n {
        None => Err(crate::RecordProblem::Missing { field: "port" }),
        Some(n) => u16::try_from(n).map_err(|_| crate::RecordProblem::Invalid { field: "port" }),
    }
}

/// The raw banner: `banner.text` (bounded, escaped) and `banner.bytes`.
pub fn put_banner(d: &mut Details, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    d.insert(
        "banner.text".into(),
        Value::String(escape(bytes, BANNER_CAP)),
    );
    d.insert("banner.bytes".into(), json!(bytes.len()));
}

/// A page body for the classifier: transient (`_http.body`), cut at [`BODY_CAP`] on a character
/// boundary. Takes the string by value so an owned body is moved, not copied.
pub fn put_body(d: &mut Details, body: Cow<'_, str>) {
    if body.is_empty() {
        return;
    }
    let mut end = body.len().min(BODY_CAP);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    let body = match body {
        Cow::Owned(mut s) => {
            s.truncate(end);
            s
        }
        Cow::Borrowed(s) => s[..end].to_string(),
    };
    d.insert("_http.body".into(), Value::String(body));
}

/// Decodes a hex string (Shodan's `opts.raw`); `None` if it is not hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().as_bytes();
    if s.len() % 2 == 1 || s.len() > 2 * banner::BANNER_CAP {
        return None;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.chunks(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

/// Whether a banner may be a DICOM answer (text form or an answer PDU header), checked before
/// the parser is called so that ordinary banners cost nothing.
pub fn looks_like_dicom(bytes: &[u8]) -> bool {
    let t = bytes.trim_ascii_start();
    t.starts_with(banner::TEXT_MARKER.as_bytes()) || banner::plausible_header(bytes)
}

/// Reads a DICOM banner (as Shodan's `dicom` module stores it) into `dicom.*` keys, the way the
/// live probe would for the same answer. Returns the verdict, or `None` when the banner is
/// neither DICOM form.
///
/// Shodan's probe calls `ANY-SCP` (field-notes.md), a title no site configures on purpose, so an
/// accepted association is read as nmap's dicom-ping and the research read it: any called AE
/// title is accepted (`dicom.accepts_any_ae`), and a rejected one as a called-title check. The
/// live probe is stricter (it tries a random title); the two agree on every server that does
/// not happen to be named `ANY-SCP`.
pub fn put_dicom_banner(d: &mut Details, bytes: &[u8]) -> Option<Verdict> {
    let facts = banner::parse(bytes)?;
    Some(put_dicom_answer(
        d,
        &facts.answer,
        facts.ae_title.as_deref(),
    ))
}

/// Writes an association answer (from a banner, nmap's dicom-ping or zgrab2) the way the live
/// probe does: `dicom.association` and the A-ASSOCIATE-AC/RJ facts, the implementation
/// fingerprint, the called AE title (Shodan's and nmap's `ANY-SCP` unless the source names
/// another), and `dicom.accepts_any_ae` read from the verdict as explained above.
pub fn put_dicom_answer(
    d: &mut Details,
    answer: &AssociationAnswer,
    called: Option<&str>,
) -> Verdict {
    dicom_details::write_association(d, answer, None);
    // A rejection known only by its verdict (nmap's "Called AET check enabled", a text banner)
    // has no codes; a real A-ASSOCIATE-RJ never has result 0. Do not write "unknown" codes.
    if let AssociationAnswer::Rejected(rj) = answer {
        if rj.result == 0 && rj.source == 0 && rj.reason == 0 {
            for k in [
                dicom_keys::REJECT_RESULT,
                dicom_keys::REJECT_SOURCE,
                dicom_keys::REJECT_REASON,
            ] {
                d.remove(k);
            }
        }
    }
    let verdict = answer.verdict();
    if let AssociationAnswer::Accepted(ac) = answer {
        if let Ok(table) = Fingerprints::builtin() {
            if let Some(id) = table.identify(
                ac.implementation_class_uid.as_deref(),
                ac.implementation_version_name.as_deref(),
            ) {
                dicom_details::write_identification(d, &id);
            }
        }
    }
    let called = called.unwrap_or(DEFAULT_CALLED_AE);
    d.insert(
        dicom_keys::CALLED_AE.into(),
        Value::String(printable(called.as_bytes(), 64)),
    );
    match verdict {
        Verdict::Accepted => {
            d.insert(dicom_keys::ACCEPTS_ANY_AE.into(), json!(true));
        }
        Verdict::Rejected => {
            d.insert(dicom_keys::ACCEPTS_ANY_AE.into(), json!(false));
        }
        _ => {}
    }
    verdict
}

/// Writes the DICOM facts of a banner if it is one; the protocol (`dicom`) when it was a DICOM
/// answer.
pub fn dicom_from_banner(d: &mut Details, bytes: &[u8]) -> Option<&'static str> {
    if !looks_like_dicom(bytes) {
        return None;
    }
    match put_dicom_banner(d, bytes)? {
        Verdict::Accepted | Verdict::Rejected | Verdict::Aborted => Some("dicom"),
        Verdict::NotDicom | Verdict::NoAnswer => None,
    }
}

/// Header facts of an HTTP response head at the start of a banner (`http.headers`,
/// `http.powered_by`, `http.realm`, `http.cookies`, `http.server`, `http.status`), through the
/// live probe's head parser. Returns whether the banner was an HTTP response.
pub fn http_from_banner(d: &mut Details, bytes: &[u8]) -> bool {
    use medsurface_proto::http;
    if !bytes.starts_with(b"HTTP/") {
        return false;
    }
    // A banner may hold only the head, without the blank line that ends it.
    let parsed = match http::parse_head(bytes, http::MAX_HEAD) {
        Ok(Some((head, _))) => Some(head),
        Ok(None) => {
            let mut closed = bytes[..bytes.len().min(http::MAX_HEAD - 4)].to_vec();
            closed.extend_from_slice(b"\r\n\r\n");
            http::parse_head(&closed, http::MAX_HEAD)
                .ok()
                .flatten()
                .map(|(h, _)| h)
        }
        Err(_) => None,
    };
    let Some(head) = parsed else { return false };
    if head.status != 0 {
        d.insert("http.status".into(), json!(head.status));
    }
    let kept = head.kept_headers();
    if !kept.is_empty() {
        let map: serde_json::Map<String, Value> = kept
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        d.insert("http.headers".into(), Value::Object(map));
    }
    if let Some(s) = head.text("server") {
        d.insert("http.server".into(), Value::String(s));
    }
    if let Some(s) = head.text("x-powered-by") {
        d.insert("http.powered_by".into(), Value::String(s));
    }
    if let Some(r) = head.realm() {
        d.insert("http.realm".into(), Value::String(r));
    }
    let cookies = head.cookie_names();
    if !cookies.is_empty() {
        d.insert(
            "http.cookies".into(),
            Value::Array(cookies.into_iter().map(Value::String).collect()),
        );
    }
    true
}

/// HL7 facts when a banner is an MLLP-framed HL7 message (the live HL7 probe's reader);
/// returns the protocol (`hl7`) when it was one.
pub fn hl7_from_banner(d: &mut Details, bytes: &[u8]) -> Option<&'static str> {
    use medsurface_proto::hl7;
    let start = bytes
        .iter()
        .take(4)
        .position(|b| !matches!(b, b'\r' | b'\n' | b' '))?;
    if bytes[start] != hl7::START_BLOCK {
        return None;
    }
    match hl7::judge(bytes, hl7::FRAME_LIMIT) {
        hl7::Exchange::Answered(answer) => {
            answer.write(d);
            Some("hl7")
        }
        _ => None,
    }
}

/// FHIR facts when a page body is a CapabilityStatement (the same reader as the live probe).
pub fn fhir_from_body(d: &mut Details, body: &str) {
    let t = body.trim_start();
    if !t.starts_with('{') || !t.contains("\"resourceType\"") {
        return;
    }
    if let Some(cap) = medsurface_proto::fhir::parse_capability(t.as_bytes()) {
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                d.insert(k.into(), Value::String(v.clone()));
            }
        };
        put("fhir.software", &cap.software);
        put("fhir.software_version", &cap.software_version);
        put("fhir.implementation", &cap.implementation);
        put("fhir.version", &cap.fhir_version);
        d.insert("fhir.security_declared".into(), json!(cap.security));
    }
}

/// A JSON parse error as a record problem: cut short, or malformed at a column.
pub fn json_problem(e: &serde_json::Error) -> crate::RecordProblem {
    match e.classify() {
        serde_json::error::Category::Eof => crate::RecordProblem::Truncated,
        _ => crate::RecordProblem::Malformed {
            column: e.column(),
            detail: printable(e.to_string().as_bytes(), TEXT_CAP),
        },
    }
}

/// A line that holds nothing (blank, or only whitespace).
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// The protocol name for a service name given by a foreign tool (Shodan module, nmap service,
/// Censys service name, zgrab2 module), in product.md's vocabulary where one applies.
pub fn protocol_name(name: &str) -> Option<String> {
    let n = name.trim();
    // Lower-cased only when needed (module names usually are already).
    let n: Cow<str> = if n.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(n.to_ascii_lowercase())
    } else {
        Cow::Borrowed(n)
    };
    let n = n
        .strip_suffix("-simple-new")
        .or_else(|| n.strip_suffix("-simple"))
        .unwrap_or(&n);
    let mapped = match n {
        "" | "auto" | "unknown" | "tcpwrapped" => return None,
        "http" | "http-alt" | "http-proxy" => "http",
        "https" | "https-alt" | "ssl/http" => "https",
        "dicom" | "dicom-echo" | "acr-nema" => "dicom",
        "hl7" | "hl7v2" => "hl7",
        "elastic" | "elasticsearch" => "elasticsearch",
        "mongodb" | "mongod" | "mongo" => "mongodb",
        "postgres" | "postgresql" => "postgresql",
        "mssql" | "ms-sql-s" => "mssql",
        "ssl" | "tls" => "tls",
        other => other,
    };
    if mapped.len() > 32 || !mapped.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    Some(mapped.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn escape_is_printable(bytes in prop::collection::vec(prop_oneof![
            4 => 0x20u8..0x7f, 1 => any::<u8>(), 1 => Just(b'\\'), 1 => 0xc0u8..0xf5
        ], 0..200), cap in 0usize..220) {
            prop_assert_eq!(escape(&bytes, cap), printable(&bytes, cap));
        }
    }

    proptest! {
        #[test]
        fn escape_str_is_escape(text in prop::collection::vec(prop_oneof![
            8 => proptest::char::range(' ', '~'), 1 => Just('\\'), 1 => any::<char>(),
            1 => proptest::char::range('\0', ' ')
        ], 0..80).prop_map(|cs| cs.into_iter().collect::<String>()), cap in 0usize..100) {
            prop_assert_eq!(escape_str(&text, cap), escape(text.as_bytes(), cap));
        }
    }

    #[test]
    fn escape_matches_printable_on_known_cases() {
        for s in [
            &b"plain"[..],
            b"a\\b\r\n\x1b[2J",
            "Größe\u{202E}x".as_bytes(),
            b"\xff\xfe ok \xc3",
            b"",
        ] {
            for cap in [0, 1, 3, 7, 64] {
                assert_eq!(escape(s, cap), printable(s, cap), "{s:?} {cap}");
            }
        }
    }

    /// `parse_time` without the zone-less shortcut: what it must give for every text.
    fn parse_time_slow(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse::<i64>()
                .ok()
                .and_then(|n| Timestamp::from_second(n).ok());
        }
        if let Ok(t) = s.parse::<Timestamp>() {
            return Some(t);
        }
        s.parse::<jiff::civil::DateTime>()
            .ok()
            .and_then(|dt| jiff::tz::TimeZone::UTC.to_timestamp(dt).ok())
    }

    proptest! {
        #[test]
        fn zoneless_shortcut_changes_no_time(
            date in (1900u32..2200, 0u32..14, 0u32..33),
            sep in prop_oneof![Just('T'), Just('t'), Just(' ')],
            time in (0u32..25, 0u32..61, proptest::option::of(0u32..61)),
            fraction in "(\\.[0-9]{0,12})?",
            zone in prop_oneof![Just(""), Just("Z"), Just("z"), Just("+01:00"), Just("-05:30"),
                Just("[UTC]"), Just("Z[Europe/Zurich]"), Just("+0100"), Just(" "), Just("x")],
        ) {
            let (y, mo, d) = date;
            let (h, mi, sec) = time;
            let sec = sec.map(|s| format!(":{s:02}")).unwrap_or_default();
            let s = format!("{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}{sec}{fraction}{zone}");
            prop_assert_eq!(parse_time(&s), parse_time_slow(&s), "{}", s);
        }
    }

    #[test]
    fn zoneless_shortcut_on_known_cases() {
        for s in [
            "2025-03-01T10:15:02.481920",
            "2025-03-01T10:15:02",
            "2025-03-01T10:15:02Z",
            "2025-03-01T10:15:02.481920Z",
            "2025-03-01T10:15:02.481920+01:00",
            "2025-03-01T10:15:02-01:00",
            "2025-03-01T10:15:02.",
            "2025-03-01T10:15:02.1234567891",
            "2025-13-01T10:15:02",
            "2025-02-30T10:15:02.5",
            "2025-03-01 10:15:02",
            "9999-12-31T23:59:59.999999999",
        ] {
            assert_eq!(parse_time(s), parse_time_slow(s), "{s}");
        }
        assert!(is_zoneless_civil("2025-03-01T10:15:02.481920"));
        assert!(!is_zoneless_civil("2025-03-01T10:15:02.481920Z"));
    }

    #[test]
    fn times_in_every_shape() {
        let want: Timestamp = "2025-03-01T10:15:02.48192Z".parse().unwrap();
        assert_eq!(parse_time("2025-03-01T10:15:02.481920"), Some(want));
        assert_eq!(parse_time("2025-03-01T10:15:02.481920Z"), Some(want));
        assert_eq!(parse_time("2025-03-01T11:15:02.481920+01:00"), Some(want));
        assert_eq!(
            parse_time("1600000000"),
            Some(Timestamp::from_second(1_600_000_000).unwrap())
        );
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time(""), None);
        assert_eq!(parse_time("99999999999999999999999"), None);
    }

    #[test]
    fn addresses_and_ports() {
        assert_eq!(ip_from_int(3221225994), parse_ip("192.0.2.10"));
        assert_eq!(ip_from_int(-1), None);
        assert_eq!(ip_from_int(1 << 40), None);
        assert_eq!(port_from(Some(104)), Ok(104));
        assert!(port_from(Some(65536)).is_err() && port_from(Some(-1)).is_err());
        assert_eq!(
            port_from(None),
            Err(crate::RecordProblem::Missing { field: "port" })
        );
    }

    #[test]
    fn asn_text_is_format() {
        for n in [0, 7, 10, 64496, 99_999, 4_200_000_000, u32::MAX] {
            assert_eq!(asn_text(n), format!("AS{n}"));
        }
    }

    #[test]
    fn hex_and_asn() {
        assert_eq!(unhex("0203ff"), Some(vec![2, 3, 255]));
        assert_eq!(unhex("0g"), None);
        assert_eq!(unhex("abc"), None);
        let mut d = Details::new();
        put_asn(&mut d, Some("AS64496"), None);
        assert_eq!(d[keys::NET_ASN], "AS64496");
        put_asn(&mut d, None, Some(64500));
        assert_eq!(d[keys::NET_ASN], "AS64500");
    }

    #[test]
    fn peer_text_is_escaped_and_bounded() {
        let mut d = Details::new();
        put_text(&mut d, "net.org", Some("Evil\u{1b}[2J Org"));
        assert_eq!(d["net.org"], "Evil\\x1b[2J Org");
        put_text(&mut d, "geo.city", Some("   "));
        assert!(!d.contains_key("geo.city"));
        put_body(&mut d, Cow::Owned("é".repeat(BODY_CAP)));
        assert!(d["_http.body"].as_str().unwrap().len() <= BODY_CAP);
    }
}
