//! Shodan banners (newline-delimited JSON, one banner per line) → one observation each.
//!
//! The record is read into a borrowed, lenient struct (see `loose`): only the fields we use are
//! looked at, strings without escapes are not copied, and any field may be null, missing or of
//! an unexpected type (field-notes.md) without failing the line. Only an address and a port are
//! required; a banner without a usable timestamp gets the import's start time, and says so in the
//! report.
//!
//! Mapping (keys of `medsurface_model::fields` unless marked *import-only*, see `crate::keys`):
//! - `data` → `banner.text`/`banner.bytes`; an HTTP head in it → `http.headers`, `http.server`,
//!   `http.powered_by`, `http.realm`, `http.cookies` (the live probe's head parser); a DICOM
//!   answer in it (text form or raw PDU, or the hex of `opts.raw`) → `dicom.*` through the DICOM
//!   banner parser of `medsurface-proto`.
//! - `http.status`/`title`/`server`/`favicon.hash`/`favicon.location` → `http.*`;
//!   `http.html` → transient `_http.body` (capped), and `fhir.*` when it is a
//!   CapabilityStatement.
//! - `ssl.cert` → `tls.cert_subject`/`issuer`/`org`/`not_before`/`not_after`/`expired`,
//!   `ssl.cipher` → `tls.version`/`tls.cipher`.
//! - *import-only*: `location` → `geo.country`/`geo.city`; `org`, `isp`, `asn`, `hostnames`,
//!   `domains` → `net.*`; `product`, `version`, `cpe23`, `tags`, `vulns` (CVE ids), `os`,
//!   `_shodan.module` → `shodan.*`.

use std::borrow::Cow;
use std::net::IpAddr;
use std::ops::Range;

use medsurface_model::{Details, Observation, Source, Transport};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::common::{self, put_list, put_text};
use crate::keys as k;
use crate::loose::{Keys, LBool, LInt, LList, LStr, Obj, Pairs};
use crate::pipeline::{Ctx, Parsed};
use crate::RecordProblem;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Banner<'a> {
    #[serde(borrow)]
    ip_str: LStr<'a>,
    #[serde(borrow)]
    ipv6: LStr<'a>,
    ip: LInt,
    port: LInt,
    #[serde(borrow)]
    transport: LStr<'a>,
    #[serde(borrow)]
    timestamp: LStr<'a>,
    #[serde(borrow)]
    data: LStr<'a>,
    #[serde(borrow)]
    hostnames: LList<LStr<'a>>,
    #[serde(borrow)]
    domains: LList<LStr<'a>>,
    #[serde(borrow)]
    org: LStr<'a>,
    #[serde(borrow)]
    isp: LStr<'a>,
    #[serde(borrow)]
    asn: LStr<'a>,
    #[serde(borrow)]
    os: LStr<'a>,
    #[serde(borrow)]
    product: LStr<'a>,
    #[serde(borrow)]
    version: LStr<'a>,
    #[serde(borrow)]
    cpe23: LList<LStr<'a>>,
    #[serde(borrow)]
    cpe: LList<LStr<'a>>,
    #[serde(borrow)]
    tags: LList<LStr<'a>>,
    #[serde(borrow)]
    vulns: Keys<'a>,
    #[serde(borrow)]
    location: Obj<Location<'a>>,
    #[serde(borrow, rename = "_shodan")]
    meta: Obj<Meta<'a>>,
    #[serde(borrow)]
    http: Obj<Http<'a>>,
    #[serde(borrow)]
    ssl: Obj<Ssl<'a>>,
    #[serde(borrow)]
    opts: Obj<Opts<'a>>,
    #[serde(borrow)]
    mongodb: Obj<Mongo<'a>>,
    #[serde(borrow)]
    elastic: Obj<Elastic<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Mongo<'a> {
    authentication: LBool,
    #[serde(borrow, rename = "buildInfo")]
    build_info: Obj<BuildInfo<'a>>,
    #[serde(borrow, rename = "listDatabases")]
    list_databases: Obj<ListDatabases<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct BuildInfo<'a> {
    #[serde(borrow)]
    version: LStr<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListDatabases<'a> {
    #[serde(borrow)]
    databases: LList<Obj<Named<'a>>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Named<'a> {
    #[serde(borrow)]
    name: LStr<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Elastic<'a> {
    #[serde(borrow)]
    indices: Keys<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Location<'a> {
    #[serde(borrow)]
    country_code: LStr<'a>,
    #[serde(borrow)]
    city: LStr<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Meta<'a> {
    #[serde(borrow)]
    module: LStr<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Opts<'a> {
    #[serde(borrow)]
    raw: LStr<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Http<'a> {
    status: LInt,
    #[serde(borrow)]
    title: LStr<'a>,
    #[serde(borrow)]
    server: LStr<'a>,
    #[serde(borrow)]
    html: LStr<'a>,
    #[serde(borrow)]
    favicon: Obj<Favicon<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Favicon<'a> {
    hash: LInt,
    #[serde(borrow)]
    location: LStr<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Ssl<'a> {
    #[serde(borrow)]
    cert: Obj<Cert<'a>>,
    #[serde(borrow)]
    cipher: Obj<Cipher<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Cert<'a> {
    #[serde(borrow)]
    subject: Pairs<'a>,
    #[serde(borrow)]
    issuer: Pairs<'a>,
    expired: LBool,
    #[serde(borrow)]
    issued: LStr<'a>,
    #[serde(borrow)]
    expires: LStr<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Cipher<'a> {
    #[serde(borrow)]
    version: LStr<'a>,
    #[serde(borrow)]
    name: LStr<'a>,
}

/// Parses one line of a Shodan export on its own: what [`Lines`] must give for every line of a
/// chunk (the tests compare the two).
#[cfg(test)]
pub fn parse_line(line: &[u8], ctx: &Ctx) -> Result<Option<Parsed>, RecordProblem> {
    if common::is_blank(line) {
        return Ok(None);
    }
    parsed(banner_alone(line), ctx)
}

/// The observation of a banner, or the record's problem.
fn parsed(banner: serde_json::Result<Banner>, ctx: &Ctx) -> Result<Option<Parsed>, RecordProblem> {
    let mut b = banner.map_err(|e| common::json_problem(&e))?;
    let obs = observation(&mut b, ctx)?;
    let time_assumed = obs.1;
    Ok(Some(Parsed {
        observations: vec![obs.0],
        time_assumed,
    }))
}

/// One line read alone. Valid UTF-8 (the normal case) is read as text, so serde_json does not
/// check each string's UTF-8 again; the result is the same as reading the bytes (`from_str`
/// only skips that check, and unescaped strings of valid text are valid).
fn banner_alone(line: &[u8]) -> serde_json::Result<Banner<'_>> {
    match std::str::from_utf8(line) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(line),
    }
}

/// Shodan's line parser for the pipeline: each line parses exactly as [`banner_alone`] reads it,
/// but one JSON deserializer reads the lines of a chunk one after the other. serde_json unescapes
/// strings into a buffer of its deserializer; page bodies are kilobytes of escaped text, and a
/// new deserializer per line grew that buffer from nothing for every banner. The chunk is also
/// checked for UTF-8 once, so that no string is checked again.
pub struct Lines;

/// A chunk being read by [`Lines`].
pub struct Chunk<'a> {
    data: &'a [u8],
    /// The chunk's longest valid UTF-8 prefix: all of it, unless the file is not UTF-8.
    text: &'a str,
    /// A deserializer over `text[base..]`, and `base`; it stands where the last banner it read
    /// ended.
    stream: Option<(usize, Stream<'a>)>,
    /// For [`Paged`]: a line without its page body, and the searcher for the body's key.
    paged: Paged,
}

type Stream<'a> = serde_json::StreamDeserializer<'a, serde_json::de::StrRead<'a>, Banner<'a>>;

impl crate::pipeline::ChunkParser for Lines {
    type State<'a> = Chunk<'a>;

    fn start<'a>(&self, data: &'a [u8]) -> Chunk<'a> {
        let text = match std::str::from_utf8(data) {
            Ok(text) => text,
            Err(e) => std::str::from_utf8(&data[..e.valid_up_to()]).unwrap_or_default(),
        };
        Chunk {
            data,
            text,
            stream: None,
            paged: Paged::new(),
        }
    }

    fn parse(
        &self,
        chunk: &mut Chunk<'_>,
        line: Range<usize>,
        ctx: &Ctx,
    ) -> Result<Option<Parsed>, RecordProblem> {
        if common::is_blank(&chunk.data[line.clone()]) {
            return Ok(None);
        }
        let text = chunk.text.get(line.clone());
        if let Some(done) = text.and_then(|text| chunk.paged.parse(text, ctx)) {
            return done;
        }
        parsed(chunk.banner(line), ctx)
    }
}

impl<'a> Chunk<'a> {
    /// The banner of the (non-blank) line `data[line]`, as [`banner_alone`] reads it.
    fn banner(&mut self, line: Range<usize>) -> serde_json::Result<Banner<'a>> {
        match self.streamed(line.clone()) {
            Some(banner) => Ok(banner),
            None => banner_alone(&self.data[line]),
        }
    }

    /// The banner read by the chunk's deserializer, when that is sure to be what reading the line
    /// alone gives: a value that starts in the line (only JSON whitespace lies between where the
    /// deserializer stands and the line: line endings, blank lines) and ends in it, followed by
    /// nothing but whitespace, is read from the same bytes either way. Anything else (a JSON
    /// error, a value running past the line's end, trailing characters) is left to
    /// [`banner_alone`], which gives the error of the line alone; the deserializer is then
    /// dropped and the next line starts a new one.
    fn streamed(&mut self, line: Range<usize>) -> Option<Banner<'a>> {
        if line.end > self.text.len() {
            return None;
        }
        let data = self.data;
        let usable = |at: usize| at <= line.start && data[at..line.start].iter().all(is_json_space);
        if !matches!(&self.stream, Some((base, s)) if usable(base + s.byte_offset())) {
            let text = self.text.get(line.start..)?;
            let stream = serde_json::Deserializer::from_str(text).into_iter();
            self.stream = Some((line.start, stream));
        }
        let (base, stream) = self.stream.as_mut()?;
        let read = stream.next();
        let end = *base + stream.byte_offset();
        match read {
            Some(Ok(banner))
                if end <= line.end && data[end..line.end].iter().all(is_json_space) =>
            {
                Some(banner)
            }
            _ => {
                self.stream = None;
                None
            }
        }
    }
}

/// Banners with a page body, read without serde_json scanning the body: most of a Shodan export
/// is `http.html` (kilobytes per page), and serde_json looks at strings a byte at a time where
/// `memchr` looks at them 32 bytes at a time. The body is cut out of the line (`"html": ""`
/// stays), the rest goes through serde_json as usual, and the body is unescaped here.
///
/// The result is exactly [`banner_alone`]'s (a test compares the two on hostile lines), because
/// this path gives up (and the line is read the usual way) unless all of this holds:
/// - the body holds no control character and no escape that serde_json would refuse (its errors
///   stay its own); the escapes it takes are read as it reads them;
/// - the rest of the line parses (an error must be the whole line's, with its column);
/// - the `http.html` that serde_json read is the very empty string left where the body was cut
///   (its address says so): a first `"html": "` belonging to another object, or an `http.html`
///   that is not a string, fails that test.
///
/// Outside a string, `"html": "` can only be a key `html` and the start of its string value (in
/// a string every `"` is escaped), so on a valid line the cut always lands on a whole value.
struct Paged {
    key: memchr::memmem::Finder<'static>,
    /// The line being read, without its body.
    rest: String,
}

/// The key whose string value [`Paged`] cuts out, with the value's opening quote.
const HTML_KEY: &[u8] = br#""html": ""#;

impl Paged {
    fn new() -> Paged {
        Paged {
            key: memchr::memmem::Finder::new(HTML_KEY),
            rest: String::new(),
        }
    }

    /// What [`parsed`] gives for `line` alone, or `None` when the line is not for this path.
    fn parse(&mut self, line: &str, ctx: &Ctx) -> Option<Result<Option<Parsed>, RecordProblem>> {
        let start = self.key.find(line.as_bytes())? + HTML_KEY.len();
        let (end, body) = string_body(line, start)?;
        self.rest.clear();
        self.rest.push_str(&line[..start]);
        self.rest.push_str(&line[end..]);
        let mut b: Banner = serde_json::from_str(&self.rest).ok()?;
        let html = &mut b.http.0.as_mut()?.html.0;
        let cut_here = self.rest[start..].as_ptr();
        match html {
            Some(Cow::Borrowed(s)) if s.is_empty() && std::ptr::eq(s.as_ptr(), cut_here) => {}
            _ => return None,
        }
        *html = Some(body);
        Some(parsed(Ok(b), ctx))
    }
}

/// The body of the JSON string whose first byte is `line[start]` (just after its opening
/// quote), unescaped, and where its closing quote is; `None` if it holds a control character or
/// an escape serde_json would refuse, or does not end in the line.
fn string_body(line: &str, start: usize) -> Option<(usize, Cow<'_, str>)> {
    let bytes = line.as_bytes();
    let mut escaped = false;
    let mut at = start;
    let end = loop {
        let i = at + memchr::memchr2(b'"', b'\\', &bytes[at..])?;
        if bytes[i] == b'"' {
            break i;
        }
        at = i + unescape(&bytes[i..])?.1;
        escaped = true;
    };
    if has_control(&bytes[start..end]) {
        return None;
    }
    if !escaped {
        return Some((end, Cow::Borrowed(&line[start..end])));
    }
    let mut body = String::with_capacity(end - start);
    let mut at = start;
    while let Some(i) = memchr::memchr(b'\\', &bytes[at..end]) {
        let i = at + i;
        body.push_str(&line[at..i]);
        let (c, len) = unescape(&bytes[i..])?;
        body.push(c);
        at = i + len;
    }
    body.push_str(&line[at..end]);
    Some((end, Cow::Owned(body)))
}

/// The character of the escape at the start of `bytes` (`\n`, `\u00e9`, a surrogate pair
/// `\ud83d\ude00`, …) and its length, exactly as serde_json reads it; `None` for whatever
/// serde_json refuses (an unknown escape, a lone surrogate, too few hex digits).
fn unescape(bytes: &[u8]) -> Option<(char, usize)> {
    let c = match bytes.get(1)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let hex = |at: usize| -> Option<u32> {
                let digits = std::str::from_utf8(bytes.get(at..at + 4)?).ok()?;
                // `from_str_radix` would also take a sign.
                digits
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit())
                    .then(|| u32::from_str_radix(digits, 16).ok())?
            };
            let n = hex(2)?;
            return match n {
                0xD800..=0xDBFF => {
                    if bytes.get(6..8)? != b"\\u" {
                        return None;
                    }
                    let low = hex(8)?;
                    if !(0xDC00..=0xDFFF).contains(&low) {
                        return None;
                    }
                    let c = char::from_u32(((n - 0xD800) << 10 | (low - 0xDC00)) + 0x1_0000)?;
                    Some((c, 12))
                }
                0xDC00..=0xDFFF => None,
                _ => Some((char::from_u32(n)?, 6)),
            };
        }
        _ => return None,
    };
    Some((c, 2))
}

/// Whether any byte is a control character (which JSON strings may not hold raw). Whole blocks
/// are tested without stopping early, which the compiler turns into vector instructions.
fn has_control(bytes: &[u8]) -> bool {
    let (blocks, tail) = bytes.as_chunks::<32>();
    blocks
        .iter()
        .any(|block| block.iter().fold(false, |any, &b| any | (b < 0x20)))
        || tail.iter().any(|&b| b < 0x20)
}

/// The whitespace JSON allows between values.
fn is_json_space(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn address(b: &Banner) -> Result<IpAddr, RecordProblem> {
    if let Some(s) = b.ip_str.get() {
        return common::parse_ip(s).ok_or(RecordProblem::Invalid { field: "ip_str" });
    }
    if let Some(s) = b.ipv6.get() {
        return common::parse_ip(s).ok_or(RecordProblem::Invalid { field: "ipv6" });
    }
    match b.ip.0 {
        Some(n) => common::ip_from_int(n).ok_or(RecordProblem::Invalid { field: "ip" }),
        None => Err(RecordProblem::Missing { field: "ip_str" }),
    }
}

fn observation(b: &mut Banner, ctx: &Ctx) -> Result<(Observation, bool), RecordProblem> {
    let ip = address(b)?;
    let port = common::port_from(b.port.0)?;
    let transport = match b.transport.get() {
        Some(t) if t.eq_ignore_ascii_case("udp") => Transport::Udp,
        _ => Transport::Tcp,
    };
    let parsed_time = b.timestamp.get().and_then(common::parse_time);
    let seen_at = parsed_time.unwrap_or(ctx.fallback_time);
    let module = b.meta.get().and_then(|m| m.module.get());

    let mut d = Details::new();
    import_only_facts(&mut d, b, module);
    let mut protocol = module.and_then(common::protocol_name);

    // The raw banner, and what the shared parsers read in it.
    // Binary banners survive JSON as one character per byte; ASCII needs no conversion.
    let data: Cow<[u8]> = match &b.data.0 {
        Some(s) if s.is_ascii() => Cow::Borrowed(s.as_bytes()),
        Some(s) => Cow::Owned(medsurface_proto::dicom::banner::bytes_from_json_string(s)),
        None => Cow::Borrowed(&[][..]),
    };
    common::put_banner(&mut d, &data);
    let mut dicom = common::dicom_from_banner(&mut d, &data);
    if dicom.is_none() && (module == Some("dicom") || common::looks_like_dicom(&data)) {
        if let Some(raw) = b
            .opts
            .get()
            .and_then(|o| o.raw.get())
            .and_then(common::unhex)
        {
            dicom = common::dicom_from_banner(&mut d, &raw);
        }
    }
    if let Some(p) = dicom {
        protocol = Some(p.to_string());
    }
    let is_http = common::http_from_banner(&mut d, &data);
    if let Some(p) = common::hl7_from_banner(&mut d, &data) {
        protocol = Some(p.to_string());
    }
    db_facts(&mut d, b, module);

    // The page body is moved into the observation, not copied.
    let html = b.http.0.as_mut().and_then(|h| h.html.0.take());
    if let Some(h) = b.http.get() {
        if let Some(s) = h.status.0.filter(|s| (100..1000).contains(s)) {
            d.insert("http.status".into(), json!(s));
        }
        put_text(&mut d, "http.title", h.title.get());
        put_text(&mut d, "http.server", h.server.get());
        if let Some(f) = h.favicon.get() {
            if let Some(hash) = f.hash.0.and_then(|h| i32::try_from(h).ok()) {
                d.insert("http.favicon_hash".into(), json!(hash));
            }
            put_text(&mut d, "http.favicon_url", f.location.get());
        }
        if let Some(html) = html {
            common::fhir_from_body(&mut d, &html);
            common::put_body(&mut d, html);
        }
        if protocol.is_none() || is_http {
            protocol.get_or_insert_with(|| "http".to_string());
        }
    }

    if let Some(ssl) = b.ssl.get() {
        if let Some(c) = ssl.cert.get() {
            put_dn(&mut d, "tls.cert_subject", &c.subject);
            put_dn(&mut d, "tls.cert_issuer", &c.issuer);
            put_text(&mut d, "tls.cert_org", c.subject.get("O"));
            if let Some(t) = c.issued.get().and_then(asn1_time) {
                d.insert("tls.cert_not_before".into(), Value::String(t));
            }
            if let Some(t) = c.expires.get().and_then(asn1_time) {
                d.insert("tls.cert_not_after".into(), Value::String(t));
            }
            if let Some(e) = c.expired.0 {
                d.insert("tls.cert_expired".into(), json!(e));
            }
        }
        if let Some(c) = ssl.cipher.get() {
            put_text(&mut d, "tls.version", c.version.get());
            put_text(&mut d, "tls.cipher", c.name.get());
        }
        if protocol.as_deref() == Some("http") {
            protocol = Some("https".into());
        }
    }

    Ok((
        Observation {
            ip,
            port,
            transport,
            hostname: None,
            protocol,
            probe: Source::Shodan.as_str().to_string(),
            source: Source::Shodan,
            seen_at,
            details: d,
        },
        parsed_time.is_none(),
    ))
}

/// The import-only facts (`shodan.*`, `net.*`, `geo.*`), written first and largest key first.
/// `Details` is a B-tree whose nodes are searched from their smallest key, so each insert walks
/// past every smaller key already there; these keys sort after every protocol key but `tls.*`,
/// so written first, in descending order, each insert (and each later protocol key's) stops at
/// the first key it meets. No other code writes these keys, so the map is the same in any order.
fn import_only_facts(d: &mut Details, b: &Banner, module: Option<&str>) {
    let mut vulns: Vec<&str> = b
        .vulns
        .0
        .iter()
        .map(|v| v.trim_start_matches('~'))
        .filter(|v| is_vuln_id(v))
        .collect();
    vulns.sort_unstable();
    vulns.dedup();
    put_list(d, k::SHODAN_VULNS, vulns);
    put_text(d, k::SHODAN_VERSION, b.version.get());
    put_list(d, k::SHODAN_TAGS, b.tags.0.iter().filter_map(LStr::get));
    put_text(d, k::SHODAN_PRODUCT, b.product.get());
    put_text(d, k::SHODAN_OS, b.os.get());
    put_text(d, k::SHODAN_MODULE, module);
    let cpes = if b.cpe23.0.is_empty() {
        &b.cpe
    } else {
        &b.cpe23
    };
    put_list(d, k::SHODAN_CPE23, cpes.0.iter().filter_map(LStr::get));
    put_text(d, k::NET_ORG, b.org.get());
    put_text(d, k::NET_ISP, b.isp.get());
    put_list(
        d,
        k::NET_HOSTNAMES,
        b.hostnames.0.iter().filter_map(LStr::get),
    );
    put_list(d, k::NET_DOMAINS, b.domains.0.iter().filter_map(LStr::get));
    common::put_asn(d, b.asn.get(), None);
    if let Some(loc) = b.location.get() {
        common::put_country(d, loc.country_code.get());
        put_text(d, k::GEO_CITY, loc.city.get());
    }
}

/// `db.*` facts, as the live database probes name them, from what Shodan's database modules
/// report: the product (by module), its version, whether authentication was required and the
/// database or index names listed (metadata only). Nothing is inferred where Shodan says nothing.
fn db_facts(d: &mut Details, b: &Banner, module: Option<&str>) {
    use medsurface_proto::db::DbFacts;
    let product_text = b.product.get().unwrap_or_default();
    let product = match module {
        Some("mongodb") => "MongoDB",
        Some("elastic") => "Elasticsearch",
        Some("mysql") if product_text.contains("MariaDB") => "MariaDB",
        Some("mysql") => "MySQL",
        Some("postgresql") => "PostgreSQL",
        Some("redis") => "Redis",
        _ => return,
    };
    let mut facts = DbFacts::product(product);
    let mongo = b.mongodb.get();
    let version = mongo
        .and_then(|m| m.build_info.get())
        .and_then(|bi| bi.version.get())
        .or(b.version.get());
    facts.version = version
        .map(|v| common::escape(v.trim().as_bytes(), 96))
        .filter(|v| !v.is_empty());
    let names: Option<Vec<&str>> = match (module, mongo, b.elastic.get()) {
        (Some("mongodb"), Some(m), _) => {
            facts.auth_required = m.authentication.0;
            m.list_databases.get().map(|l| {
                l.databases
                    .0
                    .iter()
                    .filter_map(|db| db.get().and_then(|n| n.name.get()))
                    .collect()
            })
        }
        // Shodan records an Elasticsearch cluster's indices only when it answered openly.
        (Some("elastic"), _, Some(e)) if !e.indices.0.is_empty() => {
            facts.auth_required = Some(false);
            Some(e.indices.0.iter().map(|i| i.as_ref()).collect())
        }
        _ => None,
    };
    if let Some(names) = names {
        let mut names: Vec<String> = names
            .into_iter()
            .map(|n| common::escape(n.trim().as_bytes(), 128))
            .filter(|n| !n.is_empty())
            .collect();
        names.sort_unstable();
        names.dedup();
        names.truncate(100);
        facts.databases = Some(names);
    }
    facts.write(d);
}

/// `CVE-2023-25690` (Shodan also lists `~CVE-…` for unverified matches in some exports; the
/// marker is kept out of the id).
fn is_vuln_id(v: &str) -> bool {
    let v = v.trim_start_matches('~');
    v.len() <= 32
        && v.starts_with("CVE-")
        && v[4..].bytes().all(|b| b.is_ascii_digit() || b == b'-')
}

/// A distinguished name in the order the record gives it: `CN=host, O=Org`.
fn put_dn(d: &mut Details, key: &str, pairs: &Pairs<'_>) {
    if pairs.0.is_empty() {
        return;
    }
    let mut dn = String::new();
    for (i, (k, v)) in pairs.0.iter().enumerate() {
        if i > 0 {
            dn.push_str(", ");
        }
        dn.push_str(k);
        dn.push('=');
        dn.push_str(v);
    }
    put_text(d, key, Some(&dn));
}

/// Shodan's certificate times (`20260301000000Z`, ASN.1 GeneralizedTime) as RFC 3339.
fn asn1_time(s: &str) -> Option<String> {
    let s = s.trim().strip_suffix('Z')?;
    if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // `YYYY-MM-DDTHH:MM:SS`
    let mut civil = String::with_capacity(19);
    for (part, sep) in [
        (&s[0..4], "-"),
        (&s[4..6], "-"),
        (&s[6..8], "T"),
        (&s[8..10], ":"),
        (&s[10..12], ":"),
        (&s[12..14], ""),
    ] {
        civil.push_str(part);
        civil.push_str(sep);
    }
    common::parse_time(&civil).map(|t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx {
            fallback_time: "2026-01-01T00:00:00Z".parse().unwrap(),
            max_record_bytes: 1 << 20,
        }
    }

    fn one(line: &str) -> Observation {
        parse_line(line.as_bytes(), &ctx())
            .unwrap()
            .unwrap()
            .observations
            .remove(0)
    }

    #[test]
    fn minimal_banner_needs_only_address_and_port() {
        let o = one(r#"{"ip": 3325256727, "port": 104}"#);
        assert_eq!(o.ip.to_string(), "198.51.100.23");
        assert_eq!(o.seen_at, ctx().fallback_time);
        assert_eq!(
            parse_line(br#"{"ip_str": "192.0.2.1"}"#, &ctx()).err(),
            Some(RecordProblem::Missing { field: "port" })
        );
        assert_eq!(
            parse_line(br#"{"ip_str": "192.0.2.300", "port": 1}"#, &ctx()).err(),
            Some(RecordProblem::Invalid { field: "ip_str" })
        );
        assert!(parse_line(b"   ", &ctx()).unwrap().is_none());
    }

    #[test]
    fn nulls_everywhere_do_not_fail_the_line() {
        let o = one(
            r#"{"ip_str": "2001:db8::5", "port": 443, "transport": null, "timestamp": null,
                "data": null, "hostnames": null, "location": null, "http": null, "ssl":
                {"cert": {"serial": 1.2e38, "subject": null, "expired": "no"}, "cipher": 5},
                "vulns": [], "tags": "medical", "_shodan": {"module": null}, "opts": null}"#,
        );
        assert_eq!(o.ip.to_string(), "2001:db8::5");
        assert!(o.details.is_empty(), "{:?}", o.details);
    }

    /// What a parser thread makes of a chunk with [`Lines`], split into lines as the pipeline
    /// splits them (lines longer than `limit` are skipped, unparsed), next to what [`parse_line`]
    /// makes of each line alone.
    fn chunk_and_alone(chunk: &[u8], limit: usize) -> Vec<(String, String)> {
        use crate::pipeline::ChunkParser;
        let mut state = Lines.start(chunk);
        let mut out = Vec::new();
        let mut start = 0;
        while start < chunk.len() {
            let end = chunk[start..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(chunk.len(), |i| start + i);
            let mut line = start..end;
            if line.end > line.start && chunk[line.end - 1] == b'\r' {
                line.end -= 1;
            }
            start = end + 1;
            if line.len() > limit {
                continue;
            }
            out.push((
                show(Lines.parse(&mut state, line.clone(), &ctx())),
                show(parse_line(&chunk[line], &ctx())),
            ));
        }
        out
    }

    fn show(r: Result<Option<Parsed>, RecordProblem>) -> String {
        match r {
            Ok(Some(p)) => format!("{:?} {}", p.observations, p.time_assumed),
            Ok(None) => "none".to_string(),
            Err(e) => format!("{e:?}"),
        }
    }

    /// Lines that read alone give a banner, an error, or nothing; some run into the next line.
    const LINES: &[&[u8]] = &[
        br#"{"ip_str": "192.0.2.1", "port": 104, "data": "HTTP/1.1 200 OK\r\nServer: a\r\n\r\n", "http": {"html": "<p>\u00e9\n</p>", "title": "t"}}"#,
        b"{\"ip_str\": \"192.0.2.2\", \"port\": 80, \"org\": \"\\u4e2d Org\", \"location\": {\"city\": \"Z\xc3\xbcrich\", \"country_code\": \"ch\"}}",
        br#"{"ip": 3325256727, "port": 443, "ssl": {"cert": {"subject": {"CN": "h", "O": "Org"}, "issued": "20250101000000Z"}}}"#,
        br#"{"ip_str": "192.0.2.3", "port": 1} x"#,
        br#"{"ip_str": "192.0.2.3", "port": 1} {"ip_str": "192.0.2.4", "port": 2}"#,
        br#"{"ip_str": "192.0.2.5","#,
        br#""port": 5}"#,
        br#"{"ip_str": "192.0.2.6", "port": 6, "data": "\ud800"}"#,
        b"{\"ip_str\": \"192.0.2.7\", \"port\": 7, \"data\": \"a\xffb\"}",
        b"{\"ip_str\": \"192.0.2.8\", \"port\": 8, \"_shodan\": {\"id\": \"\xff\"}}",
        br#"{"ip_str": "192.0.2.9", "port": 9, "port": 9}"#,
        br#"  {"ip_str": "192.0.2.10", "port": 10}   "#,
        b"\x0b{\"ip_str\": \"192.0.2.11\", \"port\": 11}",
        b"{\"ip_str\": \"192.0.2.12\", \"port\": 12}\r",
        b"[]",
        b"null",
        b"5",
        b"",
        b"   ",
        b"\x0c",
        b"\r",
        b"{",
        b"}",
        // Page bodies, for the path that cuts them out (`Paged`).
        br#"{"ip_str": "192.0.2.13", "port": 80, "http": {"html": "<a href=\"x\">\/\b\f\t\\</a>\r\n", "title": "t"}}"#,
        br#"{"ip_str": "192.0.2.14", "port": 80, "elastic": {"html": "other"}, "http": {"html": "<p>y</p>"}}"#,
        br#"{"ip_str": "192.0.2.15", "port": 80, "http": {"title": "t"}, "html": "top"}"#,
        br#"{"ip_str": "192.0.2.16", "port": 80, "http": {"html": "a", "html": "b"}}"#,
        br#"{"ip_str": "192.0.2.17", "port": 80, "http": {"html": "a\x"}}"#,
        br#"{"ip_str": "192.0.2.18", "port": 80, "http": {"html": "a\ud800b"}}"#,
        br#"{"ip_str": "192.0.2.19", "port": 80, "a\"html": "v", "http": {"html": "w"}}"#,
        br#"{"ip_str": "192.0.2.20", "port": 80, "http": {"html": "ok"}} x"#,
        br#"{"ip_str": "192.0.2.21", "port": 80, "http": {"html": "unterminated"#,
        br#"{"ip_str": "192.0.2.22", "port": 80, "http": {"html": 5, "status": 200}}"#,
        br#"{"ip_str": "192.0.2.23", "port": 80, "http": [{"html": "in a list"}]}"#,
        b"{\"ip_str\": \"192.0.2.24\", \"port\": 80, \"http\": {\"html\": \"a\tb\"}}",
        b"{\"ip_str\": \"192.0.2.25\", \"port\": 80, \"http\": {\"html\": \"\xc3\xa9\xff\"}}",
        br#"{"ip_str": "192.0.2.26", "port": 80, "http": {"html": "{\"resourceType\": \"CapabilityStatement\", \"fhirVersion\": \"4.0.1\", \"software\": {\"name\": \"HAPI\"}}"}}"#,
        br#"{"ip_str": "192.0.2.27", "port": 80, "http": {"html": ""}, "ssl": {"cert": {"subject": {"CN": "h"}}}}"#,
    ];

    proptest::proptest! {
        #[test]
        fn a_chunk_reads_as_its_lines_alone(
            picks in proptest::collection::vec(0..LINES.len(), 0..40),
            crlf in proptest::collection::vec(proptest::bool::ANY, 40),
            last_newline in proptest::bool::ANY,
            limit in 0usize..200,
        ) {
            let mut chunk = Vec::new();
            for (i, &p) in picks.iter().enumerate() {
                chunk.extend_from_slice(LINES[p]);
                if i + 1 < picks.len() || last_newline {
                    chunk.extend_from_slice(if crlf[i] { b"\r\n" } else { b"\n" });
                }
            }
            for (chunked, alone) in chunk_and_alone(&chunk, limit) {
                proptest::prop_assert_eq!(chunked, alone);
            }
        }
    }

    proptest::proptest! {
        /// Page bodies of every shape (escapes, `\u`, raw quotes and control characters,
        /// backslashes at the end) in lines where the first `"html": "` is or is not `http.html`:
        /// the cutting path gives what serde_json alone gives, or leaves the line to it.
        #[test]
        fn a_cut_out_body_reads_as_serde_json_reads_it(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "a", "<p class=\\\"x\\\">", "\\\\", "\\/", "\\n", "\\r\\n", "\\t",
                "\\b", "\\f", "\\u00e9", "\\u00E9", "\\ud83d\\ude00", "\\ud800", "\\udc00",
                "\\u12", "\\u+123", "\\uD83D", "\\u0000", "\\x", "\\", "\"",
                "\t", "\u{1}", "é", "\u{7f}", " ", "}", "\"html\": \"",
            ]), 0..12),
            shape in 0usize..5,
        ) {
            let body: String = pieces.concat();
            let line = match shape {
                0 => format!(r#"{{"ip_str": "192.0.2.1", "port": 80, "http": {{"html": "{body}", "title": "t"}}}}"#),
                1 => format!(r#"{{"ip_str": "192.0.2.1", "port": 80, "other": {{"html": "{body}"}}, "http": {{"html": "x"}}}}"#),
                2 => format!(r#"{{"ip_str": "192.0.2.1", "port": 80, "http": {{"html": "{body}"}}, "data": "{body}"}}"#),
                3 => format!(r#"{{"ip_str": "192.0.2.1", "port": 80, "http": {{"title": "{body}", "html": "{body}"}}}}"#),
                _ => format!(r#"{{"ip_str": "192.0.2.1", "port": 80, "http": {{"html": "{body}"}}"#),
            };
            if let Some(cut) = Paged::new().parse(&line, &ctx()) {
                proptest::prop_assert_eq!(show(cut), show(parse_line(line.as_bytes(), &ctx())));
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn has_control_finds_every_control_byte(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![40 => 0x20u8..=0xff, 1 => 0u8..0x20], 0..200),
        ) {
            proptest::prop_assert_eq!(has_control(&bytes), bytes.iter().any(|&b| b < 0x20));
        }
    }

    #[test]
    fn the_cutting_path_is_taken_and_agrees() {
        // Bodies with and without escapes are read by the cutting path, not left to serde_json.
        for line in [
            r#"{"ip_str": "192.0.2.1", "port": 80, "http": {"html": "<p>plain</p>", "status": 200}}"#,
            r#"{"ip_str": "192.0.2.1", "port": 80, "http": {"html": "<p a=\"b\">\\\/\n\r\t\b\f</p>"}}"#,
            r#"{"ip_str": "192.0.2.1", "port": 80, "http": {"html": "a\\"}}"#,
            r#"{"ip_str": "192.0.2.1", "port": 80, "http": {"html": "\u00e9\u00C9\ud83d\ude00\u0000"}}"#,
        ] {
            let cut = Paged::new().parse(line, &ctx()).expect(line);
            let alone = parse_line(line.as_bytes(), &ctx());
            assert_eq!(show(cut), show(alone), "{line}");
        }
        // Left to serde_json: another object's `html` first, a lone surrogate, a control character.
        for line in [
            r#"{"ip_str": "192.0.2.1", "port": 80, "x": {"html": "a"}, "http": {"html": "b"}}"#,
            r#"{"ip_str": "192.0.2.1", "port": 80, "http": {"html": "\udc00"}}"#,
            "{\"ip_str\": \"192.0.2.1\", \"port\": 80, \"http\": {\"html\": \"\t\"}}",
        ] {
            assert!(Paged::new().parse(line, &ctx()).is_none(), "{line}");
        }
    }

    #[test]
    fn a_record_split_over_two_lines_is_two_bad_lines() {
        let both = chunk_and_alone(
            b"{\"ip_str\": \"192.0.2.5\",\n\"port\": 5}\n{\"ip\": 1, \"port\": 2}",
            1 << 20,
        );
        assert_eq!(both.len(), 3);
        for (chunked, alone) in &both {
            assert_eq!(chunked, alone);
        }
        assert_eq!(both[0].0, "Truncated");
        assert!(both[1].0.starts_with("Malformed"), "{}", both[1].0);
        assert!(both[2].0.starts_with("[Observation"), "{}", both[2].0);
    }

    #[test]
    fn a_skipped_line_is_not_read_with_the_next() {
        // The second line is too long for the pipeline, which never hands it to the parser; the
        // chunk's deserializer must not read it as the start of the third line's record.
        let chunk = b"{\"ip\":1,\"port\":2}\n{\"ip_str\": \"192.0.2.5\",\n  \"port\": 5}";
        let both = chunk_and_alone(chunk, 20);
        assert_eq!(both.len(), 2);
        for (chunked, alone) in &both {
            assert_eq!(chunked, alone);
        }
        assert!(both[0].0.starts_with("[Observation"), "{}", both[0].0);
        assert!(both[1].0.starts_with("Malformed"), "{}", both[1].0);
    }

    /// The import-only facts are written first (see [`import_only_facts`]), which is only the same
    /// map if nothing written after them uses their keys: every one of them must come out as
    /// `import_only_facts` alone writes it.
    #[test]
    fn import_only_facts_are_not_overwritten() {
        let sample = include_str!("../tests/data/shodan-sample.jsonl");
        let rich = r#"{"ip_str": "192.0.2.9", "port": 27017, "asn": "AS64496", "org": "Org",
            "isp": "Isp", "os": "Linux", "product": "MongoDB", "version": "6.0",
            "hostnames": ["h.example"], "domains": ["example"], "cpe23": ["cpe:2.3:a:x"],
            "tags": ["database"], "vulns": {"CVE-2023-1": {}}, "location": {"city": "Bern",
            "country_code": "ch"}, "_shodan": {"module": "mongodb"}, "mongodb":
            {"authentication": false, "listDatabases": {"databases": [{"name": "pacs"}]}},
            "ssl": {"cert": {"subject": {"CN": "h", "O": "Org"}}, "cipher": {"name": "x"}},
            "http": {"title": "t", "html": "<p>x</p>"},
            "data": "HTTP/1.1 200 OK\r\nServer: a\r\n\r\n"}"#;
        let mut seen = 0;
        for line in sample.lines().chain([rich]) {
            let mut b = banner_alone(line.as_bytes()).unwrap();
            let mut alone = Details::new();
            let module = b.meta.get().and_then(|m| m.module.get());
            import_only_facts(&mut alone, &b, module);
            let (obs, _) = observation(&mut b, &ctx()).unwrap();
            for (key, value) in &alone {
                assert_eq!(obs.details.get(key), Some(value), "{key} in {line}");
                seen += 1;
            }
        }
        assert!(seen > 100, "{seen}");
    }

    #[test]
    fn certificate_times_and_vuln_ids() {
        assert_eq!(
            asn1_time("20260301000000Z").as_deref(),
            Some("2026-03-01T00:00:00Z")
        );
        assert_eq!(asn1_time("2026"), None);
        assert!(is_vuln_id("CVE-2023-25690") && is_vuln_id("~CVE-2023-1"));
        assert!(!is_vuln_id("CVE-\u{1b}[2J") && !is_vuln_id("ms17-010"));
    }
}
