//! Redis (and its forks): `INFO server`, and the reader of its RESP2 answer.
//!
//! The probe sends one command, `INFO server` (an array of two bulk strings), which returns the
//! server section only: version, mode, OS — no keys, no data. The answer is a bulk string of
//! `field:value` lines (`redis_version:7.0.15`); `-NOAUTH Authentication required.` means a
//! password is demanded; `-DENIED …` is protected mode refusing a non-loopback client without a
//! password configured (access refused, not a password demanded: `db.auth_required` stays
//! unset); other errors (`-ERR unknown command`, `-NOPERM`) name Redis and nothing more.
//! Valkey answers like Redis and adds `server_name:valkey` and `valkey_version`. Source: Redis
//! documentation, "Redis serialization protocol specification" and the `INFO` command page.

use super::{version_text, DbFacts};

/// `INFO server` as a RESP array.
pub const INFO_SERVER: &[u8] = b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n";

/// The largest answer we accept: the server section is about 1 KiB.
pub const REPLY_LIMIT: usize = 16 * 1024;

/// Why bytes are not a RESP reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RespError {
    #[error("not RESP: first byte 0x{0:02x}")]
    NotResp(u8),
    #[error("reply longer than the limit {limit}")]
    TooLong { limit: usize },
    #[error("malformed RESP length")]
    BadLength,
}

/// A reply, as far as the probe cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+…` or `$…` (the text).
    Text(Vec<u8>),
    /// `-…`: the error line.
    Error(Vec<u8>),
    /// `:`, `*`, `$-1` and other well-formed replies we do not read.
    Other,
}

/// Reads one reply at the start of `buf`.
pub fn read_reply(buf: &[u8], limit: usize) -> Result<Option<Reply>, RespError> {
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    if !matches!(kind, b'+' | b'-' | b'$' | b':' | b'*') {
        return Err(RespError::NotResp(kind));
    }
    let window = &buf[..buf.len().min(limit)];
    let Some(eol) = window.windows(2).position(|w| w == b"\r\n") else {
        return if buf.len() >= limit {
            Err(RespError::TooLong { limit })
        } else {
            Ok(None)
        };
    };
    let line = &buf[1..eol];
    match kind {
        b'+' => Ok(Some(Reply::Text(line.to_vec()))),
        b'-' => Ok(Some(Reply::Error(line.to_vec()))),
        b'$' => {
            let text = std::str::from_utf8(line).map_err(|_| RespError::BadLength)?;
            let len: i64 = text.parse().map_err(|_| RespError::BadLength)?;
            if len < 0 {
                return Ok(Some(Reply::Other));
            }
            let len = usize::try_from(len).map_err(|_| RespError::BadLength)?;
            let start = eol + 2;
            if len > limit.saturating_sub(start + 2) {
                return Err(RespError::TooLong { limit });
            }
            if buf.len() < start + len + 2 {
                return Ok(None);
            }
            Ok(Some(Reply::Text(buf[start..start + len].to_vec())))
        }
        _ => Ok(Some(Reply::Other)),
    }
}

/// The facts of the answer to `INFO server`.
pub fn facts(reply: &Reply) -> DbFacts {
    let mut facts = DbFacts::product("Redis");
    match reply {
        Reply::Text(text) => {
            let mut redis_version = None;
            let mut valkey_version = None;
            let mut server_name = None;
            for line in text.split(|&b| b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let Some(colon) = line.iter().position(|&b| b == b':') else {
                    continue;
                };
                let (key, value) = (&line[..colon], &line[colon + 1..]);
                match key {
                    b"redis_version" => redis_version = version_text(value),
                    b"valkey_version" => valkey_version = version_text(value),
                    b"server_name" => server_name = Some(value.to_ascii_lowercase()),
                    _ => {}
                }
            }
            if server_name.as_deref() == Some(b"valkey") || valkey_version.is_some() {
                facts.product = Some("Valkey");
                facts.version = valkey_version.or(redis_version);
            } else {
                facts.version = redis_version;
            }
            facts.auth_required = Some(false);
        }
        Reply::Error(line) => {
            if line.starts_with(b"NOAUTH") {
                facts.auth_required = Some(true);
            }
        }
        Reply::Other => {}
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Vec<u8> {
        format!("${}\r\n{s}\r\n", s.len()).into_bytes()
    }

    #[test]
    fn info_answer_gives_version_and_open_access() {
        let info = "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nos:Linux\r\n";
        let r = read_reply(&bulk(info), REPLY_LIMIT).unwrap().unwrap();
        let f = facts(&r);
        assert_eq!(f.product, Some("Redis"));
        assert_eq!(f.version.as_deref(), Some("7.0.15"));
        assert_eq!(f.auth_required, Some(false));
        let valkey =
            "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.0.1\r\n";
        let f = facts(&read_reply(&bulk(valkey), REPLY_LIMIT).unwrap().unwrap());
        assert_eq!(
            (f.product, f.version.as_deref()),
            (Some("Valkey"), Some("8.0.1"))
        );
    }

    #[test]
    fn errors() {
        let r = read_reply(b"-NOAUTH Authentication required.\r\n", REPLY_LIMIT)
            .unwrap()
            .unwrap();
        assert_eq!(facts(&r).auth_required, Some(true));
        let r = read_reply(
            b"-DENIED Redis is running in protected mode\r\n",
            REPLY_LIMIT,
        )
        .unwrap()
        .unwrap();
        assert_eq!(facts(&r).auth_required, None);
        assert_eq!(facts(&r).product, Some("Redis"));
    }

    #[test]
    fn hostile_replies_are_bounded() {
        assert_eq!(read_reply(b"", 64), Ok(None));
        assert_eq!(read_reply(b"$5\r\nab", 64), Ok(None));
        assert_eq!(
            read_reply(b"$99999999999\r\n", 64),
            Err(RespError::TooLong { limit: 64 })
        );
        assert_eq!(read_reply(b"$-5\r\n", 64), Ok(Some(Reply::Other)));
        assert_eq!(read_reply(b"$x\r\n", 64), Err(RespError::BadLength));
        assert_eq!(
            read_reply(b"$99999999999999999999999\r\n", 64),
            Err(RespError::BadLength)
        );
        assert_eq!(
            read_reply(&[b'+'; 100], 64),
            Err(RespError::TooLong { limit: 64 })
        );
        assert_eq!(
            read_reply(b"HTTP/1.0 400", 64),
            Err(RespError::NotResp(b'H'))
        );
    }
}
