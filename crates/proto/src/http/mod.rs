//! HTTP/1.1 as the web probes speak it: the request we send, the response head we read, body
//! framing (Content-Length, chunked, until close) and the facts kept from a response.
//!
//! The live probe speaks HTTP itself over the stream the engine connected, instead of using a
//! client library: it must run on a stream it was handed (plain or TLS), cap every byte it
//! reads (head, chunk lines, trailers, body) and send exactly the request this module encodes,
//! nothing more. `httparse` reads the head; everything else here is small and bounded.
//!
//! Everything taken from a response is peer text and leaves this module through
//! [`printable`]; cookie values are never kept, only their names.

pub mod html;

use medsurface_model::text::printable;

/// Most bytes of a response head we read before giving up on it.
pub const MAX_HEAD: usize = 32 * 1024;
/// Most header lines we parse.
pub const MAX_HEADERS: usize = 96;
/// Most bytes of one header value kept in `http.headers`.
pub const HEADER_VALUE_CAP: usize = 512;
/// Most headers kept in `http.headers`.
pub const HEADERS_KEPT: usize = 48;
/// Longest chunk-size line or trailer section we accept.
const MAX_CHUNK_LINE: usize = 1024;
const MAX_TRAILERS: usize = 8 * 1024;

/// Why a response could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("the response head is longer than {limit} bytes")]
    HeadTooLarge { limit: usize },
    #[error("the response has more than {MAX_HEADERS} header lines")]
    TooManyHeaders,
    #[error("the response head is not HTTP/1.x")]
    NotHttp,
    #[error("malformed chunked body")]
    BadChunk,
    #[error("a request target or host contains characters HTTP does not allow")]
    BadRequestTarget,
}

impl HttpError {
    /// A stable short name, recorded as an outcome detail.
    pub fn kind(self) -> &'static str {
        match self {
            HttpError::HeadTooLarge { .. } => "head-too-large",
            HttpError::TooManyHeaders => "too-many-headers",
            HttpError::NotHttp => "not-http",
            HttpError::BadChunk => "bad-chunk",
            HttpError::BadRequestTarget => "bad-request-target",
        }
    }
}

/// One GET request as we send it.
#[derive(Debug, Clone)]
pub struct Get<'a> {
    /// `Host` header value (`ip` or `ip:port`; the probe never resolves names).
    pub host: &'a str,
    /// Origin-form target, starting with `/`.
    pub target: &'a str,
    pub user_agent: &'a str,
    pub accept: &'a str,
}

impl Get<'_> {
    /// The request bytes. Refuses a target, host or header with characters that would let a
    /// peer-supplied redirect smuggle a header or a second request.
    pub fn encode(&self) -> Result<Vec<u8>, HttpError> {
        let clean = |s: &str| s.bytes().all(|b| b > 0x20 && b < 0x7f);
        let clean_text = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b));
        if !self.target.starts_with('/')
            || !clean(self.target)
            || !clean(self.host)
            || !clean_text(self.user_agent)
            || !clean_text(self.accept)
        {
            return Err(HttpError::BadRequestTarget);
        }
        Ok(format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\nAccept: {}\r\nAccept-Encoding: identity\r\nConnection: keep-alive\r\n\r\n",
            self.target, self.host, self.user_agent, self.accept
        )
        .into_bytes())
    }
}

/// A response head. Header names are lower-cased; values are raw bytes (peer text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    pub headers: Vec<(String, Vec<u8>)>,
}

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (1xx, 204, 304).
    Empty,
    Length(u64),
    Chunked,
    /// The body ends when the server closes the connection.
    UntilClose,
}

/// Parses a response head from the start of `buf`. `Ok(None)`: more bytes needed (and fewer
/// than `limit` seen). `Ok(Some((head, used)))`: the head and its length in bytes.
pub fn parse_head(buf: &[u8], limit: usize) -> Result<Option<(Head, usize)>, HttpError> {
    // A TLS record or binary protocol is recognised early, without waiting for a full head.
    if buf.len() >= 5 && !buf.starts_with(b"HTTP/") {
        return Err(HttpError::NotHttp);
    }
    if !buf.is_empty() && !b"HTTP/".starts_with(&buf[..buf.len().min(5)]) {
        return Err(HttpError::NotHttp);
    }
    let view = &buf[..buf.len().min(limit)];
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(view) {
        Ok(httparse::Status::Complete(used)) => {
            let head = Head {
                status: response.code.unwrap_or(0),
                minor_version: response.version.unwrap_or(0),
                headers: response
                    .headers
                    .iter()
                    .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
                    .collect(),
            };
            Ok(Some((head, used)))
        }
        Ok(httparse::Status::Partial) if view.len() >= limit => {
            Err(HttpError::HeadTooLarge { limit })
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HttpError::TooManyHeaders),
        Err(_) => Err(HttpError::NotHttp),
    }
}

impl Head {
    /// The first value of header `name` (lower-case).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// A header value as bounded, printable text.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(|v| printable(trim(v), HEADER_VALUE_CAP))
            .filter(|s| !s.is_empty())
    }

    /// How the body is delimited (RFC 9112 §6.3), for a response to GET.
    pub fn framing(&self) -> Framing {
        if (100..200).contains(&self.status) || self.status == 204 || self.status == 304 {
            return Framing::Empty;
        }
        let chunked = self
            .headers
            .iter()
            .filter(|(n, _)| n == "transfer-encoding")
            .any(|(_, v)| contains_token(v, b"chunked"));
        if chunked {
            return Framing::Chunked;
        }
        match self.get("content-length") {
            Some(v) => match std::str::from_utf8(trim(v))
                .ok()
                .and_then(|s| s.parse().ok())
            {
                Some(n) => Framing::Length(n),
                None => Framing::UntilClose,
            },
            None => Framing::UntilClose,
        }
    }

    /// Whether the connection may carry another request after this response.
    pub fn keeps_alive(&self) -> bool {
        let conn = self.get("connection").unwrap_or(b"");
        if contains_token(conn, b"close") {
            return false;
        }
        self.minor_version >= 1 || contains_token(conn, b"keep-alive")
    }

    /// The realm of the first `WWW-Authenticate` challenge that names one.
    pub fn realm(&self) -> Option<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "www-authenticate")
            .find_map(|(_, v)| auth_param(v, b"realm"))
            .map(|r| printable(&r, HEADER_VALUE_CAP))
    }

    /// The names of the cookies set, sorted and deduplicated. Values are never looked at
    /// beyond the first `=`.
    pub fn cookie_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .filter_map(|(_, v)| {
                let pair = v.split(|&b| b == b';').next()?;
                let eq = pair.iter().position(|&b| b == b'=')?;
                let name = trim(&pair[..eq]);
                (!name.is_empty()).then(|| printable(name, 128))
            })
            .collect();
        names.sort();
        names.dedup();
        names.truncate(32);
        names
    }

    /// The headers for `http.headers`: name → printable value, capped in count and size,
    /// `Set-Cookie` reduced to cookie names (values may be session tokens).
    pub fn kept_headers(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (name, value) in &self.headers {
            if out.len() >= HEADERS_KEPT {
                break;
            }
            let name = printable(name.as_bytes(), 64);
            if name == "set-cookie" {
                continue; // cookie names only, listed once below
            }
            let value = printable(trim(value), HEADER_VALUE_CAP);
            match out.iter_mut().find(|(n, _)| *n == name) {
                Some((_, v)) => {
                    if v.len() + value.len() + 2 <= HEADER_VALUE_CAP {
                        v.push_str(", ");
                        v.push_str(&value);
                    }
                }
                None => out.push((name, value)),
            }
        }
        let cookies = self.cookie_names();
        if !cookies.is_empty() && out.len() < HEADERS_KEPT {
            out.push(("set-cookie".into(), cookies.join(", ")));
        }
        out
    }

    /// Whether the body is JSON by its media type.
    pub fn is_json(&self) -> bool {
        self.get("content-type").is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.windows(4).any(|w| w == b"json")
        })
    }
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &v[start..end]
}

fn contains_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| trim(t).eq_ignore_ascii_case(token))
}

/// The value of auth-param `name` in a challenge (`Basic realm="Orthanc Secure Area"`).
fn auth_param(value: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    let lower = value.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = find(&lower[from..], name) {
        let at = from + pos;
        let before_ok = at == 0 || matches!(lower[at - 1], b' ' | b',' | b'\t');
        let mut i = at + name.len();
        while i < value.len() && value[i] == b' ' {
            i += 1;
        }
        if before_ok && i < value.len() && value[i] == b'=' {
            i += 1;
            while i < value.len() && value[i] == b' ' {
                i += 1;
            }
            if value.get(i) == Some(&b'"') {
                let mut out = Vec::new();
                let mut j = i + 1;
                while j < value.len() && value[j] != b'"' {
                    if value[j] == b'\\' && j + 1 < value.len() {
                        j += 1;
                    }
                    out.push(value[j]);
                    j += 1;
                }
                return Some(out);
            }
            let end = value[i..]
                .iter()
                .position(|&b| b == b',' || b == b' ')
                .map_or(value.len(), |e| i + e);
            return Some(value[i..end].to_vec());
        }
        from = at + 1;
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// An incremental decoder of a chunked body. Chunk sizes are checked against nothing but the
/// caller's cap: data is handed over as it arrives, and the caller stops reading at its cap.
#[derive(Debug, Clone, Default)]
pub struct Chunked {
    state: ChunkState,
    line: Vec<u8>,
    trailer_bytes: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Size,
    Data(u64),
    DataEnd,
    Trailer,
    Done,
}

impl Chunked {
    pub fn new() -> Chunked {
        Chunked::default()
    }

    /// Whether the terminating chunk and trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decodes `input`, appending body bytes to `out` (never more than `cap - out.len()`;
    /// what is over the cap is dropped). Returns the bytes of `input` consumed; input after the
    /// end of the body is left unconsumed.
    pub fn push(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        cap: usize,
    ) -> Result<usize, HttpError> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                ChunkState::Done => break,
                ChunkState::Size | ChunkState::DataEnd | ChunkState::Trailer => {
                    let b = input[i];
                    i += 1;
                    if b != b'\n' {
                        self.line.push(b);
                        if self.line.len() > MAX_CHUNK_LINE {
                            return Err(HttpError::BadChunk);
                        }
                        continue;
                    }
                    let line = std::mem::take(&mut self.line);
                    let line = trim(&line);
                    match self.state {
                        ChunkState::Size => {
                            let size = line.split(|&b| b == b';').next().unwrap_or(b"");
                            let size = std::str::from_utf8(trim(size))
                                .ok()
                                .and_then(|s| u64::from_str_radix(s, 16).ok())
                                .ok_or(HttpError::BadChunk)?;
                            self.state = if size == 0 {
                                ChunkState::Trailer
                            } else {
                                ChunkState::Data(size)
                            };
                        }
                        ChunkState::DataEnd => {
                            if !line.is_empty() {
                                return Err(HttpError::BadChunk);
                            }
                            self.state = ChunkState::Size;
                        }
                        _ => {
                            self.trailer_bytes += line.len() + 2;
                            if self.trailer_bytes > MAX_TRAILERS {
                                return Err(HttpError::BadChunk);
                            }
                            if line.is_empty() {
                                self.state = ChunkState::Done;
                            }
                        }
                    }
                }
                ChunkState::Data(left) => {
                    let take = (input.len() - i).min(usize::try_from(left).unwrap_or(usize::MAX));
                    let room = cap.saturating_sub(out.len());
                    out.extend_from_slice(&input[i..i + take.min(room)]);
                    i += take;
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    };
                }
            }
        }
        Ok(i)
    }
}

/// A URL the probe may fetch: always on the service it is talking to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub tls: bool,
    /// Host as written in URLs (`127.0.0.1`, `[::1]`).
    pub host: String,
    pub port: u16,
}

impl Origin {
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    fn default_port(&self) -> u16 {
        if self.tls {
            443
        } else {
            80
        }
    }

    /// The `Host` header value.
    pub fn authority(&self) -> String {
        if self.port == self.default_port() {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The absolute URL of an origin-form target.
    pub fn url(&self, target: &str) -> String {
        format!("{}://{}{}", self.scheme(), self.authority(), target)
    }
}

/// Where a `Location` (or a `<link href>`) points, seen from `base` (an origin-form target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Same scheme and port: a target the probe may fetch on the same connection's service.
    Same(String),
    /// Elsewhere (another scheme, port or an unusable reference): recorded, not fetched.
    Elsewhere(String),
}

/// Resolves a reference against `base` on `origin`. A reference naming another host name but
/// the same scheme and port counts as the same service: the probe never resolves names, it
/// only ever talks to the address it was given, so following cannot reach another machine.
pub fn resolve(origin: &Origin, base: &str, reference: &[u8]) -> Resolved {
    let text = printable(trim(reference), 2048);
    let r = text.as_str();
    if r.is_empty() || r.contains('\\') {
        return Resolved::Elsewhere(text);
    }
    let lower = r.to_ascii_lowercase();
    let (scheme_tls, rest) = if let Some(rest) = lower.strip_prefix("http://") {
        (Some(false), &r[r.len() - rest.len()..])
    } else if let Some(rest) = lower.strip_prefix("https://") {
        (Some(true), &r[r.len() - rest.len()..])
    } else if let Some(rest) = r.strip_prefix("//") {
        (Some(origin.tls), rest)
    } else if lower.contains(':') && lower.find(':') < lower.find('/').or(Some(lower.len())) {
        // Another scheme (javascript:, data:, ftp:).
        return Resolved::Elsewhere(text);
    } else {
        (None, r)
    };
    let path = match scheme_tls {
        Some(tls) => {
            let (authority, path) = match rest.find(['/', '?', '#']) {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            let authority = authority.rsplit('@').next().unwrap_or(authority);
            let port = match authority.rfind(':') {
                Some(i) if !authority[i..].contains(']') => authority[i + 1..].parse().ok(),
                _ => Some(if tls { 443 } else { 80 }),
            };
            if tls != origin.tls || port != Some(origin.port) {
                return Resolved::Elsewhere(text);
            }
            if path.starts_with('/') {
                path.to_string()
            } else {
                format!("/{path}")
            }
        }
        None if r.starts_with('/') => r.to_string(),
        None => {
            let dir = match base.split(['?', '#']).next().unwrap_or("/").rfind('/') {
                Some(i) => &base[..=i],
                None => "/",
            };
            format!("{dir}{r}")
        }
    };
    let path = path.split('#').next().unwrap_or("/");
    match normalize(path) {
        Some(p) => Resolved::Same(p),
        None => Resolved::Elsewhere(text),
    }
}

/// Removes `.` and `..` segments; refuses characters a request line cannot carry.
fn normalize(target: &str) -> Option<String> {
    let (path, query) = match target.find('?') {
        Some(i) => (&target[..i], Some(&target[i..])),
        None => (target, None),
    };
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let mut s = format!("/{}", out.join("/"));
    if let Some(q) = query {
        s.push_str(q);
    }
    s.bytes().all(|b| b > 0x20 && b < 0x7f).then_some(s)
}

/// A random string of lower-case hex, for query keys that cannot match anything.
pub fn random_hex(bytes: usize) -> Option<String> {
    let mut buf = vec![0u8; bytes.min(64)];
    getrandom::fill(&mut buf).ok()?;
    Some(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// SHA-256 of `body` in lower-case hex.
pub fn sha256_hex(body: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, body)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &[u8]) -> Head {
        parse_head(raw, MAX_HEAD).unwrap().unwrap().0
    }

    #[test]
    fn reads_orthanc_locked_head() {
        let h = head(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"Orthanc Secure Area\"\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(h.status, 401);
        assert_eq!(h.realm().as_deref(), Some("Orthanc Secure Area"));
        assert_eq!(h.framing(), Framing::Length(0));
        assert!(h.keeps_alive());
    }

    #[test]
    fn cookie_values_never_kept() {
        let h = head(b"HTTP/1.1 200 OK\r\nSet-Cookie: JSESSIONID=secret123; Path=/\r\nSet-Cookie: b=zzz\r\nServer: x\r\n\r\n");
        assert_eq!(h.cookie_names(), ["JSESSIONID", "b"]);
        let kept = format!("{:?}", h.kept_headers());
        assert!(
            !kept.contains("secret123") && !kept.contains("zzz"),
            "{kept}"
        );
        assert!(kept.contains("JSESSIONID"));
    }

    #[test]
    fn partial_huge_and_garbage_heads() {
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nA: b\r\n", MAX_HEAD),
            Ok(None)
        );
        assert_eq!(parse_head(b"HTT", MAX_HEAD), Ok(None));
        assert_eq!(
            parse_head(b"\x16\x03\x01\x00\x02", MAX_HEAD),
            Err(HttpError::NotHttp)
        );
        assert_eq!(
            parse_head(b"SSH-2.0-x\r\n", MAX_HEAD),
            Err(HttpError::NotHttp)
        );
        let mut big = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 100));
        assert_eq!(
            parse_head(&big, 64),
            Err(HttpError::HeadTooLarge { limit: 64 })
        );
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..200 {
            many.extend(format!("X{i}: y\r\n").as_bytes());
        }
        many.extend(b"\r\n");
        assert_eq!(parse_head(&many, MAX_HEAD), Err(HttpError::TooManyHeaders));
    }

    #[test]
    fn chunked_bodies_decode_incrementally_and_respect_the_cap() {
        let raw = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        let body_end = raw.len() - b"NEXT".len();
        for split in 0..=body_end {
            let mut c = Chunked::new();
            let mut out = Vec::new();
            let a = c.push(&raw[..split], &mut out, 1 << 20).unwrap();
            assert_eq!(a, split);
            let b = c.push(&raw[split..], &mut out, 1 << 20).unwrap();
            assert!(c.is_done());
            assert_eq!(out, b"hello world");
            assert_eq!(&raw[split + b..], b"NEXT");
        }
        let mut c = Chunked::new();
        let mut out = Vec::new();
        c.push(b"ffffffffffffffff\r\nabcdef", &mut out, 3).unwrap();
        assert_eq!(out, b"abc");
        assert!(Chunked::new().push(b"zz\r\n", &mut out, 10).is_err());
        assert!(Chunked::new().push(&[b'1'; 5000], &mut out, 10).is_err());
    }

    #[test]
    fn redirects_resolve_on_the_same_service_only() {
        let o = Origin {
            tls: false,
            host: "127.0.0.1".into(),
            port: 8042,
        };
        assert_eq!(
            resolve(&o, "/", b"app/explorer.html"),
            Resolved::Same("/app/explorer.html".into())
        );
        assert_eq!(
            resolve(&o, "/app/explorer.html", b"images/favicon.ico"),
            Resolved::Same("/app/images/favicon.ico".into())
        );
        assert_eq!(
            resolve(&o, "/a/b", b"../c?x=1#f"),
            Resolved::Same("/c?x=1".into())
        );
        assert_eq!(
            resolve(&o, "/", b"http://localhost:8042/x"),
            Resolved::Same("/x".into())
        );
        assert_eq!(
            resolve(&o, "/", b"HTTP://h:8042"),
            Resolved::Same("/".into())
        );
        assert!(matches!(
            resolve(&o, "/", b"https://127.0.0.1:8042/"),
            Resolved::Elsewhere(_)
        ));
        assert!(matches!(
            resolve(&o, "/", b"http://127.0.0.1/"),
            Resolved::Elsewhere(_)
        ));
        assert!(matches!(
            resolve(&o, "/", b"javascript:alert(1)"),
            Resolved::Elsewhere(_)
        ));
        assert!(matches!(
            resolve(&o, "/", b"/a\r\nX-Injected: 1"),
            Resolved::Elsewhere(_)
        ));
        let tls = Origin {
            tls: true,
            host: "[::1]".into(),
            port: 443,
        };
        assert_eq!(
            resolve(&tls, "/", b"https://[::1]/login"),
            Resolved::Same("/login".into())
        );
        assert_eq!(tls.url("/x"), "https://[::1]/x");
    }

    #[test]
    fn requests_refuse_smuggling() {
        let g = Get {
            host: "127.0.0.1",
            target: "/a b",
            user_agent: "ua",
            accept: "*/*",
        };
        assert_eq!(g.encode(), Err(HttpError::BadRequestTarget));
        let g = Get {
            host: "127.0.0.1:80",
            target: "/",
            user_agent: "medsurface/0.1",
            accept: "*/*",
        };
        let bytes = String::from_utf8(g.encode().unwrap()).unwrap();
        assert!(bytes
            .starts_with("GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\nUser-Agent: medsurface/0.1\r\n"));
    }
}
