//! Elasticsearch (and OpenSearch) over HTTP: `GET /` and `GET /_cat/indices?h=index`, and a
//! small bounded reader of HTTP/1.1 responses.
//!
//! `GET /` answers with the node name, `cluster_name`, and `version.number` (OpenSearch adds
//! `version.distribution: "opensearch"`) when the API is open, and with 401 and
//! `WWW-Authenticate: Basic realm="security"` when security is on. `_cat/indices?h=index`
//! lists index names only, one per line (names are metadata; no document is read). Sources:
//! Elasticsearch REST API reference, "Root API" (`GET /`) and "cat indices API"; OpenSearch
//! documentation, same endpoints.
//!
//! The HTTP reader is deliberately small (status, two headers, a body by Content-Length or
//! chunked, at most a limit), because these two answers are all it must read; it is not a
//! general HTTP client.

use super::{name_list, version_text, DbFacts};

/// The largest response (head and body) we accept.
pub const RESPONSE_LIMIT: usize = 64 * 1024;

/// Most header bytes.
const HEAD_LIMIT: usize = 8 * 1024;

/// A GET request for `path` naming the scanner. `host` is the `Host` header value.
pub fn get_request(path: &str, host: &str, user_agent: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\nAccept: application/json\r\n\r\n"
    )
    .into_bytes()
}

/// Why bytes are not an HTTP response we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("not HTTP")]
    NotHttp,
    #[error("response longer than the limit {limit}")]
    TooLong { limit: usize },
    #[error("malformed HTTP response")]
    Malformed,
}

/// A response, reduced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// `WWW-Authenticate`, escaped.
    pub www_authenticate: Option<String>,
    /// `X-elastic-product`, escaped.
    pub elastic_product: Option<String>,
    /// The peer will close after this response (`Connection: close` or HTTP/1.0).
    pub closes: bool,
    pub body: Vec<u8>,
}

/// Reads one response at the start of `buf`. `eof`: the peer has closed (a body without length
/// ends there).
pub fn read_response(buf: &[u8], limit: usize, eof: bool) -> Result<Option<Response>, HttpError> {
    let probe = &buf[..buf.len().min(5)];
    if !b"HTTP/".starts_with(probe) {
        return Err(HttpError::NotHttp);
    }
    let window = &buf[..buf.len().min(HEAD_LIMIT)];
    let Some(head_end) = window.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() >= HEAD_LIMIT.min(limit) {
            Err(HttpError::TooLong { limit })
        } else if eof {
            Err(HttpError::Malformed)
        } else {
            Ok(None)
        };
    };
    let head = &buf[..head_end];
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next().ok_or(HttpError::Malformed)?;
    let mut parts = status_line.splitn(3, |&b| b == b' ');
    let version = parts.next().unwrap_or_default();
    let status: u16 = parts
        .next()
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..600).contains(s))
        .ok_or(HttpError::Malformed)?;
    let mut response = Response {
        status,
        www_authenticate: None,
        elastic_product: None,
        closes: version == b"HTTP/1.0",
        body: Vec::new(),
    };
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].to_ascii_lowercase();
        let value = line[colon + 1..].trim_ascii();
        match name.as_slice() {
            b"content-length" => {
                content_length = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse::<usize>().ok());
                if content_length.is_none() {
                    return Err(HttpError::Malformed);
                }
            }
            b"transfer-encoding" => chunked = value.to_ascii_lowercase().ends_with(b"chunked"),
            b"connection" => response.closes |= value.eq_ignore_ascii_case(b"close"),
            b"www-authenticate" => response.www_authenticate = version_text(value),
            b"x-elastic-product" => response.elastic_product = version_text(value),
            _ => {}
        }
    }
    let body_start = head_end + 4;
    let rest = &buf[body_start..];
    if chunked {
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            let Some(eol) = rest[at..].windows(2).position(|w| w == b"\r\n") else {
                return incomplete(buf, limit, eof);
            };
            let size_text = rest[at..at + eol]
                .split(|&b| b == b';')
                .next()
                .unwrap_or_default();
            let size = std::str::from_utf8(size_text.trim_ascii())
                .ok()
                .and_then(|s| usize::from_str_radix(s, 16).ok())
                .ok_or(HttpError::Malformed)?;
            if size > limit || body.len() + size > limit {
                return Err(HttpError::TooLong { limit });
            }
            at += eol + 2;
            if size == 0 {
                response.body = body;
                return Ok(Some(response));
            }
            if rest.len() < at + size + 2 {
                return incomplete(buf, limit, eof);
            }
            body.extend_from_slice(&rest[at..at + size]);
            at += size + 2;
        }
    }
    match content_length {
        Some(n) if n > limit.saturating_sub(body_start) => Err(HttpError::TooLong { limit }),
        Some(n) if rest.len() >= n => {
            response.body = rest[..n].to_vec();
            Ok(Some(response))
        }
        Some(_) => incomplete(buf, limit, eof),
        None if eof => {
            response.body = rest.to_vec();
            response.closes = true;
            Ok(Some(response))
        }
        None if buf.len() >= limit => Err(HttpError::TooLong { limit }),
        None => Ok(None),
    }
}

fn incomplete(buf: &[u8], limit: usize, eof: bool) -> Result<Option<Response>, HttpError> {
    if buf.len() >= limit {
        Err(HttpError::TooLong { limit })
    } else if eof {
        Err(HttpError::Malformed)
    } else {
        Ok(None)
    }
}

/// What `GET /` said. `None`: not Elasticsearch or OpenSearch.
pub fn root_facts(response: &Response) -> Option<DbFacts> {
    if response.status == 401 || response.status == 403 {
        let realm_security = response.www_authenticate.as_deref().is_some_and(|w| {
            w.contains("realm=\\\"security\\\"") || w.contains("realm=\"security\"")
        });
        let says_elastic = response.elastic_product.as_deref() == Some("Elasticsearch");
        let security_exception = serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|v| {
                v.pointer("/error/type")
                    .and_then(|t| t.as_str())
                    .map(|t| t == "security_exception")
            })
            .unwrap_or(false);
        if realm_security || says_elastic || security_exception {
            let mut facts = DbFacts::product("Elasticsearch");
            facts.auth_required = Some(true);
            return Some(facts);
        }
        return None;
    }
    if response.status != 200 {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&response.body).ok()?;
    let number = json.pointer("/version/number")?.as_str()?;
    let opensearch = json
        .pointer("/version/distribution")
        .and_then(|d| d.as_str())
        == Some("opensearch");
    let elastic = response.elastic_product.as_deref() == Some("Elasticsearch")
        || json.get("tagline").and_then(|t| t.as_str()) == Some("You Know, for Search")
        || json.get("cluster_name").is_some();
    if !(elastic || opensearch) {
        return None;
    }
    Some(DbFacts {
        product: Some(if opensearch {
            "OpenSearch"
        } else {
            "Elasticsearch"
        }),
        version: version_text(number.as_bytes()),
        auth_required: Some(false),
        databases: None,
    })
}

/// Index names from `_cat/indices?h=index` (one per line). `None` unless the answer is 200.
pub fn index_names(response: &Response) -> Option<Vec<String>> {
    (response.status == 200).then(|| name_list(response.body.split(|&b| b == b'\n')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> Vec<u8> {
        format!("HTTP/1.1 200 OK\r\nX-elastic-product: Elasticsearch\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len()).into_bytes()
    }

    #[test]
    fn open_cluster() {
        let body = r#"{"name":"n1","cluster_name":"clinical","version":{"number":"8.13.4","build_flavor":"default"},"tagline":"You Know, for Search"}"#;
        let buf = ok(body);
        for cut in 0..buf.len() {
            assert_eq!(
                read_response(&buf[..cut], RESPONSE_LIMIT, false),
                Ok(None),
                "cut {cut}"
            );
        }
        let r = read_response(&buf, RESPONSE_LIMIT, false).unwrap().unwrap();
        let f = root_facts(&r).unwrap();
        assert_eq!(
            (f.product, f.version.as_deref(), f.auth_required),
            (Some("Elasticsearch"), Some("8.13.4"), Some(false))
        );
        let list = read_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\npatie\n\r\n7\r\n.kibana\r\n0\r\n\r\n", RESPONSE_LIMIT, false).unwrap().unwrap();
        assert_eq!(
            index_names(&list),
            Some(vec![".kibana".to_string(), "patie".to_string()])
        );
    }

    #[test]
    fn locked_cluster() {
        let r = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"security\", charset=\"UTF-8\"\r\ncontent-length: 2\r\n\r\n{}";
        let r = read_response(r, RESPONSE_LIMIT, false).unwrap().unwrap();
        let f = root_facts(&r).unwrap();
        assert_eq!(
            (f.product, f.auth_required, f.version),
            (Some("Elasticsearch"), Some(true), None)
        );
        // A 401 from something else is not Elasticsearch.
        let r = read_response(b"HTTP/1.1 401 No\r\nWWW-Authenticate: Basic realm=\"Orthanc Secure Area\"\r\ncontent-length: 0\r\n\r\n", RESPONSE_LIMIT, false).unwrap().unwrap();
        assert_eq!(root_facts(&r), None);
    }

    #[test]
    fn hostile_responses() {
        assert_eq!(
            read_response(b"SSH-2.0", 64, false),
            Err(HttpError::NotHttp)
        );
        assert_eq!(read_response(b"HTT", 64, false), Ok(None));
        assert_eq!(
            read_response(
                b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999\r\n\r\n",
                1024,
                false
            ),
            Err(HttpError::TooLong { limit: 1024 })
        );
        assert_eq!(
            read_response(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffff\r\n",
                1024,
                false
            ),
            Err(HttpError::TooLong { limit: 1024 })
        );
        assert_eq!(
            read_response(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                1024,
                false
            ),
            Err(HttpError::Malformed)
        );
        assert_eq!(
            read_response(b"HTTP/1.1 999 What\r\n\r\n", 1024, false),
            Err(HttpError::Malformed)
        );
        let huge_head = [&b"HTTP/1.1 200 OK\r\nX: "[..], &[b'a'; 9000]].concat();
        assert_eq!(
            read_response(&huge_head, RESPONSE_LIMIT, false),
            Err(HttpError::TooLong {
                limit: RESPONSE_LIMIT
            })
        );
        assert_eq!(
            read_response(
                b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc",
                1024,
                true
            ),
            Err(HttpError::Malformed)
        );
        let r = read_response(b"HTTP/1.0 200 OK\r\n\r\n{}", 1024, true)
            .unwrap()
            .unwrap();
        assert!(r.closes);
        assert_eq!(root_facts(&r), None);
    }
}
