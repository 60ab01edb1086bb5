//! MySQL and MariaDB: the server greeting (Initial Handshake Packet), read and nothing sent.
//!
//! A MySQL-protocol server speaks first: a packet with protocol version 10 (or 9 on ancient
//! servers), the server version as a NUL-terminated string, a connection id, the first part of
//! the authentication scramble, capability flags, and (protocol 10 with `CLIENT_PLUGIN_AUTH`)
//! the default authentication plugin name. Or it sends an error packet (`0xff`, e.g. 1130
//! "Host … is not allowed to connect", 1040 "Too many connections"). The probe reads it and
//! closes: it never attempts a login, so it cannot know whether authentication would be
//! demanded, and `db.auth_required` is not written. MariaDB prefixes its version with `5.5.5-`
//! for old replication clients; that prefix is removed. Source: MySQL Source Code
//! Documentation, "Protocol::Handshake" and "Protocol::HandshakeV10"; MariaDB Knowledge Base,
//! "Connection" (initial handshake packet).

use super::{version_text, DbFacts};

/// The largest packet we accept: a greeting is under 128 bytes; an error packet holds one
/// sentence.
pub const PACKET_LIMIT: usize = 4 * 1024;

/// `CLIENT_PLUGIN_AUTH` capability bit.
const CLIENT_PLUGIN_AUTH: u32 = 1 << 19;

/// Why bytes are not a MySQL greeting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MysqlError {
    #[error("packet length {declared} exceeds the limit {limit}")]
    TooLong { declared: usize, limit: usize },
    #[error("not a MySQL greeting (first payload byte 0x{0:02x})")]
    NotMysql(u8),
    #[error("the greeting is malformed")]
    Malformed,
}

/// What the greeting said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Greeting {
    Handshake {
        protocol: u8,
        /// The version as sent (escaped, capped), `5.5.5-` prefix removed.
        version: String,
        /// The default authentication plugin (`mysql_native_password`, `caching_sha2_password`,
        /// …), when announced.
        auth_plugin: Option<String>,
        capabilities: u32,
    },
    /// An error packet instead of a greeting: the error number.
    Error { code: u16 },
}

impl Greeting {
    /// The facts for the `db.*` keys: product (MariaDB when the version says so, else MySQL)
    /// and version. Never `auth_required`.
    pub fn facts(&self) -> DbFacts {
        match self {
            Greeting::Handshake { version, .. } => {
                let product = if version.to_ascii_lowercase().contains("mariadb") {
                    "MariaDB"
                } else {
                    "MySQL"
                };
                DbFacts {
                    product: Some(product),
                    version: (!version.is_empty()).then(|| version.clone()),
                    ..DbFacts::default()
                }
            }
            Greeting::Error { .. } => DbFacts::product("MySQL"),
        }
    }
}

/// Reads the first packet at the start of `buf`.
pub fn read_greeting(buf: &[u8], limit: usize) -> Result<Option<Greeting>, MysqlError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let declared = usize::from(buf[0]) | usize::from(buf[1]) << 8 | usize::from(buf[2]) << 16;
    if declared > limit {
        return Err(MysqlError::TooLong { declared, limit });
    }
    if declared == 0 {
        return Err(MysqlError::Malformed);
    }
    if buf.len() < 4 + declared {
        return Ok(None);
    }
    let p = &buf[4..4 + declared];
    match p[0] {
        0xff => {
            if p.len() < 3 {
                return Err(MysqlError::Malformed);
            }
            Ok(Some(Greeting::Error {
                code: u16::from_le_bytes([p[1], p[2]]),
            }))
        }
        9 | 10 => parse_handshake(p).map(Some),
        other => Err(MysqlError::NotMysql(other)),
    }
}

fn parse_handshake(p: &[u8]) -> Result<Greeting, MysqlError> {
    let protocol = p[0];
    let rest = &p[1..];
    let nul = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or(MysqlError::Malformed)?;
    let raw_version = &rest[..nul];
    if raw_version.is_empty() || !raw_version.iter().all(|b| b.is_ascii_graphic()) {
        return Err(MysqlError::Malformed);
    }
    let raw_version = raw_version.strip_prefix(b"5.5.5-").unwrap_or(raw_version);
    let version = version_text(raw_version).unwrap_or_default();
    let mut capabilities = 0u32;
    let mut auth_plugin = None;
    if protocol == 10 {
        // After the version: connection id (4), scramble part 1 (8), filler (1), capability
        // flags low (2), then optionally charset (1), status (2), capability high (2),
        // scramble length (1), reserved (10), scramble part 2, plugin name.
        let after = &rest[nul + 1..];
        if after.len() < 15 {
            return Err(MysqlError::Malformed);
        }
        capabilities = u32::from(u16::from_le_bytes([after[13], after[14]]));
        if after.len() >= 31 {
            capabilities |= u32::from(u16::from_le_bytes([after[18], after[19]])) << 16;
            let scramble_len = usize::from(after[20]);
            let part2 = scramble_len.saturating_sub(8).max(13);
            let plugin_at = 31 + part2;
            if capabilities & CLIENT_PLUGIN_AUTH != 0 && after.len() > plugin_at {
                let tail = &after[plugin_at..];
                let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
                auth_plugin = version_text(&tail[..end]);
            }
        }
    }
    Ok(Greeting::Handshake {
        protocol,
        version,
        auth_plugin,
        capabilities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(payload: &[u8]) -> Vec<u8> {
        let mut out = (payload.len() as u32).to_le_bytes()[..3].to_vec();
        out.push(0);
        out.extend(payload);
        out
    }

    /// A MariaDB 10.11 greeting as captured on loopback (scramble bytes replaced).
    fn mariadb_greeting() -> Vec<u8> {
        let mut p = vec![10];
        p.extend(b"5.5.5-10.11.19-MariaDB-0+deb12u1\0");
        p.extend([7, 0, 0, 0]);
        p.extend(b"abcdefgh\0");
        p.extend([0xfe, 0xf7]); // capability low
        p.push(45); // charset
        p.extend([2, 0]); // status
        p.extend([0xff, 0x81]); // capability high (PLUGIN_AUTH set)
        p.push(21); // scramble length
        p.extend([0, 0, 0, 0, 0, 0, 0x1d, 0, 0, 0]); // reserved / MariaDB extended caps
        p.extend(b"ijklmnopqrst\0");
        p.extend(b"mysql_native_password\0");
        packet(&p)
    }

    #[test]
    fn reads_a_mariadb_greeting() {
        let g = read_greeting(&mariadb_greeting(), PACKET_LIMIT)
            .unwrap()
            .unwrap();
        let Greeting::Handshake {
            version,
            auth_plugin,
            protocol,
            ..
        } = &g
        else {
            panic!("{g:?}")
        };
        assert_eq!(*protocol, 10);
        assert_eq!(version, "10.11.19-MariaDB-0+deb12u1");
        assert_eq!(auth_plugin.as_deref(), Some("mysql_native_password"));
        let f = g.facts();
        assert_eq!(f.product, Some("MariaDB"));
        assert_eq!(f.auth_required, None);
    }

    #[test]
    fn truncated_greetings_wait_and_errors_are_named() {
        let g = mariadb_greeting();
        for cut in 0..g.len() {
            assert_eq!(
                read_greeting(&g[..cut], PACKET_LIMIT),
                Ok(None),
                "cut at {cut}"
            );
        }
        let err = packet(b"\xff\x6a\x04Host '1.2.3.4' is not allowed to connect");
        assert_eq!(
            read_greeting(&err, PACKET_LIMIT),
            Ok(Some(Greeting::Error { code: 1130 }))
        );
        assert_eq!(
            read_greeting(b"\xff\xff\xff\x00", PACKET_LIMIT),
            Err(MysqlError::TooLong {
                declared: 0xff_ffff,
                limit: PACKET_LIMIT
            })
        );
        assert_eq!(
            read_greeting(&packet(b"HTTP/1.1"), PACKET_LIMIT),
            Err(MysqlError::NotMysql(b'H'))
        );
        assert_eq!(
            read_greeting(&packet(b"\x0a8.0.36"), PACKET_LIMIT),
            Err(MysqlError::Malformed)
        );
        assert_eq!(
            read_greeting(&packet(b"\x0a8.0.36\0\x01"), PACKET_LIMIT),
            Err(MysqlError::Malformed)
        );
    }

    #[test]
    fn mysql_without_plugin_name() {
        let mut p = vec![10];
        p.extend(b"8.0.36\0");
        p.extend([1, 0, 0, 0]);
        p.extend(b"abcdefgh\0");
        p.extend([0xff, 0xf7]);
        let g = read_greeting(&packet(&p), PACKET_LIMIT).unwrap().unwrap();
        assert_eq!(g.facts().product, Some("MySQL"));
        assert_eq!(g.facts().version.as_deref(), Some("8.0.36"));
    }
}
