//! PostgreSQL frontend/backend protocol 3.0: the SSLRequest, a StartupMessage naming
//! medsurface, Terminate, and the reader of what the server answers before a session starts.
//!
//! The probe sends SSLRequest (and, on `S`, runs TLS), then a StartupMessage with user and
//! database `medsurface`. The first answer tells all we want: `AuthenticationOk` means the
//! server let an unknown user in without a password (trust authentication: `db.auth_required`
//! is false, even if the session then fails because no role `medsurface` exists); any other
//! authentication request (cleartext, MD5, SASL/SCRAM, GSS, SSPI) means it demands one. An
//! ErrorResponse before authentication (pg_hba rejection, too many clients, starting up) names
//! PostgreSQL and nothing else: access was refused, which is not the same as a password being
//! demanded, so `db.auth_required` stays unset. `server_version` is recorded only when it
//! arrives in a ParameterStatus (after a successful start). The probe sends Terminate at once.
//! Source: PostgreSQL documentation, chapter "Frontend/Backend Protocol", sections "Message
//! Flow" and "Message Formats".

use super::{version_text, DbFacts};

pub const PRODUCT: &str = "PostgreSQL";

/// SSLRequest: length 8, code 80877103.
pub const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// Terminate.
pub const TERMINATE: [u8; 5] = [b'X', 0, 0, 0, 4];

/// Protocol 3.0.
const PROTOCOL_3_0: u32 = 196_608;

/// The largest backend message we accept. Pre-session messages are tiny; an ErrorResponse
/// carries a sentence or two.
pub const MESSAGE_LIMIT: usize = 8 * 1024;

/// A StartupMessage for `user` and `database`, naming medsurface as the application.
pub fn startup_message(user: &str, database: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(PROTOCOL_3_0.to_be_bytes());
    for (k, v) in [
        ("user", user),
        ("database", database),
        ("application_name", "medsurface"),
    ] {
        body.extend(k.as_bytes());
        body.push(0);
        body.extend(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut out = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    out.extend(body);
    out
}

/// The one-byte answer to SSLRequest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslAnswer {
    /// `S`: the server will run TLS.
    Willing,
    /// `N`: the server does not do TLS; continue in clear.
    Unwilling,
    /// `E`: an error message follows (a server too old for SSLRequest, or one refusing us).
    Error,
}

/// Why bytes are not a PostgreSQL answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PgError {
    #[error("not PostgreSQL: unexpected byte 0x{0:02x}")]
    NotPostgres(u8),
    #[error("message length {declared} outside 4..={limit}")]
    BadLength { declared: u64, limit: usize },
}

/// Reads the answer to SSLRequest.
pub fn read_ssl_answer(buf: &[u8]) -> Result<Option<SslAnswer>, PgError> {
    match buf.first() {
        None => Ok(None),
        Some(b'S') => Ok(Some(SslAnswer::Willing)),
        Some(b'N') => Ok(Some(SslAnswer::Unwilling)),
        Some(b'E') => Ok(Some(SslAnswer::Error)),
        Some(&other) => Err(PgError::NotPostgres(other)),
    }
}

/// One backend message, reduced to what the probe needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `R`: authentication request; 0 = Ok, 3 = cleartext, 5 = MD5, 7 = GSS, 9 = SSPI,
    /// 10 = SASL, others are continuations.
    Authentication(u32),
    /// `S`: a run-time parameter (escaped, capped).
    ParameterStatus { name: String, value: String },
    /// `E`: an error; only the severity and SQLSTATE code are kept (the text may quote us or
    /// the server's configuration and says nothing a signature needs).
    ErrorResponse {
        severity: Option<String>,
        code: Option<String>,
    },
    /// `Z`: ready for query — the session has started.
    ReadyForQuery,
    /// Anything else well-formed (`K` BackendKeyData, `N` NoticeResponse, `v` …).
    Other(u8),
}

/// Reads one backend message at the start of `buf`; returns it and the bytes it used.
pub fn read_message(buf: &[u8], limit: usize) -> Result<Option<(Message, usize)>, PgError> {
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    if !kind.is_ascii_alphabetic() {
        return Err(PgError::NotPostgres(kind));
    }
    if buf.len() < 5 {
        return Ok(None);
    }
    let declared = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as u64;
    if declared < 4 || declared > limit as u64 {
        return Err(PgError::BadLength { declared, limit });
    }
    let total = 1 + declared as usize;
    if buf.len() < total {
        return Ok(None);
    }
    let body = &buf[5..total];
    let message = match kind {
        b'R' if body.len() >= 4 => {
            Message::Authentication(u32::from_be_bytes([body[0], body[1], body[2], body[3]]))
        }
        b'S' => {
            let mut parts = body.split(|&b| b == 0);
            let name = parts.next().unwrap_or_default();
            let value = parts.next().unwrap_or_default();
            Message::ParameterStatus {
                name: medsurface_model::text::printable(name, 64),
                value: version_text(value).unwrap_or_default(),
            }
        }
        b'E' => {
            let mut severity = None;
            let mut code = None;
            for field in body.split(|&b| b == 0).filter(|f| !f.is_empty()) {
                let text = medsurface_model::text::printable(&field[1..], 16);
                match field[0] {
                    b'S' => severity = Some(text),
                    b'C' => code = Some(text),
                    _ => {}
                }
            }
            Message::ErrorResponse { severity, code }
        }
        b'Z' => Message::ReadyForQuery,
        other => Message::Other(other),
    };
    Ok(Some((message, total)))
}

/// What the probe should do after a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Read another message (after AuthenticationOk, until ReadyForQuery or an error).
    Continue,
    /// Enough: send Terminate.
    Stop,
}

/// Folds the backend's messages into facts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    pub facts: DbFacts,
    /// The authentication request code the server answered with, if any.
    pub auth_code: Option<u32>,
    /// SQLSTATE of an ErrorResponse, if one came.
    pub error_code: Option<String>,
    /// Whether any well-formed backend message came (what lets us name the product).
    pub heard: bool,
}

impl Session {
    pub fn new() -> Session {
        Session {
            facts: DbFacts::product(PRODUCT),
            ..Session::default()
        }
    }

    pub fn observe(&mut self, message: &Message) -> Next {
        self.heard = true;
        match message {
            Message::Authentication(0) => {
                self.auth_code = Some(0);
                self.facts.auth_required = Some(false);
                Next::Continue
            }
            Message::Authentication(code) => {
                self.auth_code.get_or_insert(*code);
                if self.facts.auth_required.is_none() {
                    self.facts.auth_required = Some(true);
                }
                Next::Stop
            }
            Message::ParameterStatus { name, value } => {
                if name == "server_version" && !value.is_empty() {
                    self.facts.version = Some(value.clone());
                }
                Next::Continue
            }
            Message::ErrorResponse { code, .. } => {
                self.error_code = code.clone();
                Next::Stop
            }
            Message::ReadyForQuery => Next::Stop,
            Message::Other(_) => Next::Continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend(((body.len() + 4) as u32).to_be_bytes());
        out.extend(body);
        out
    }

    #[test]
    fn startup_message_layout() {
        let m = startup_message("medsurface", "medsurface");
        assert_eq!(
            u32::from_be_bytes([m[0], m[1], m[2], m[3]]) as usize,
            m.len()
        );
        assert_eq!(&m[4..8], &[0, 3, 0, 0]);
        assert!(m.ends_with(b"application_name\0medsurface\0\0"));
        assert_eq!(
            u32::from_be_bytes([
                SSL_REQUEST[4],
                SSL_REQUEST[5],
                SSL_REQUEST[6],
                SSL_REQUEST[7]
            ]),
            80_877_103
        );
    }

    #[test]
    fn trust_then_session_records_version() {
        let mut buf = msg(b'R', &0u32.to_be_bytes());
        buf.extend(msg(
            b'S',
            b"server_version\x0015.18 (Debian 15.18-0+deb12u1)\0",
        ));
        buf.extend(msg(b'Z', b"I"));
        let mut s = Session::new();
        let mut at = 0;
        while let Some((m, used)) = read_message(&buf[at..], MESSAGE_LIMIT).unwrap() {
            at += used;
            if s.observe(&m) == Next::Stop {
                break;
            }
        }
        assert_eq!(at, buf.len());
        assert_eq!(s.facts.auth_required, Some(false));
        assert_eq!(
            s.facts.version.as_deref(),
            Some("15.18 (Debian 15.18-0+deb12u1)")
        );
    }

    #[test]
    fn password_demanded_and_errors() {
        let mut s = Session::new();
        let (m, _) = read_message(&msg(b'R', &[0, 0, 0, 10, b'S', b'C']), MESSAGE_LIMIT)
            .unwrap()
            .unwrap();
        assert_eq!(m, Message::Authentication(10));
        assert_eq!(s.observe(&m), Next::Stop);
        assert_eq!(s.facts.auth_required, Some(true));

        let mut s = Session::new();
        let e = msg(
            b'E',
            b"SFATAL\0VFATAL\0C28000\0Mno pg_hba.conf entry for host\0\0",
        );
        let (m, _) = read_message(&e, MESSAGE_LIMIT).unwrap().unwrap();
        assert_eq!(
            m,
            Message::ErrorResponse {
                severity: Some("FATAL".into()),
                code: Some("28000".into())
            }
        );
        assert_eq!(s.observe(&m), Next::Stop);
        assert_eq!(s.facts.auth_required, None);
        assert_eq!(s.error_code.as_deref(), Some("28000"));
    }

    #[test]
    fn hostile_lengths_and_bytes() {
        assert_eq!(read_message(b"", 64), Ok(None));
        assert_eq!(read_message(b"R\0\0", 64), Ok(None));
        assert_eq!(
            read_message(b"R\xff\xff\xff\xff", 64),
            Err(PgError::BadLength {
                declared: 0xffff_ffff,
                limit: 64
            })
        );
        assert_eq!(
            read_message(b"R\0\0\0\x02", 64),
            Err(PgError::BadLength {
                declared: 2,
                limit: 64
            })
        );
        assert_eq!(
            read_message(b"\x16\x03\x01", 64),
            Err(PgError::NotPostgres(0x16))
        );
        assert_eq!(read_ssl_answer(b"H"), Err(PgError::NotPostgres(b'H')));
        assert_eq!(read_ssl_answer(b"S"), Ok(Some(SslAnswer::Willing)));
        // A truncated R body is still a well-formed message, just not one we understand.
        assert_eq!(
            read_message(&msg(b'R', b"x"), 64).unwrap().unwrap().0,
            Message::Other(b'R')
        );
    }
}
