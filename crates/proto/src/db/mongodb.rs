//! MongoDB wire protocol: `isMaster` (the handshake every server version answers), `buildInfo`
//! and `listDatabases` with `nameOnly`, and a small bounded BSON reader for their answers.
//!
//! The handshake is `isMaster` as an OP_QUERY on `admin.$cmd`: every server from 2.x to 8.x
//! answers it (servers from 5.1 refuse OP_QUERY for every other command but keep it for the
//! handshake). Its answer carries `maxWireVersion`; from 6 (MongoDB 3.6) the probe sends the
//! next commands as OP_MSG, before that as OP_QUERY. `buildInfo` is allowed without
//! authentication and gives `version`; `listDatabases` with `nameOnly: true` returns names only
//! (never sizes or contents) when access is open, and `ok: 0` with code 13 (`Unauthorized`)
//! when authentication is on — which is how `db.auth_required` is decided. Sources: MongoDB
//! manual, "MongoDB Wire Protocol" (standard message header, OP_MSG, legacy opcodes), the
//! `hello`/`isMaster`, `buildInfo` and `listDatabases` command pages, and bsonspec.org.
//!
//! The BSON reader keeps strings, numbers, booleans, documents and arrays, skips every other
//! element type by its declared size, refuses sizes beyond the buffer, and stops at
//! [`MAX_DEPTH`] levels of nesting.

use super::{name_list, version_text, DbFacts};

pub const PRODUCT: &str = "MongoDB";

/// The largest reply we accept (a `hello` answer is about 300 bytes; listDatabases with
/// `nameOnly` for a hundred databases is a few KiB).
pub const MESSAGE_LIMIT: usize = 64 * 1024;

/// Deepest document nesting read.
pub const MAX_DEPTH: usize = 8;

const OP_REPLY: i32 = 1;
const OP_QUERY: i32 = 2004;
const OP_MSG: i32 = 2013;
/// The first wire version with OP_MSG (MongoDB 3.6).
pub const OP_MSG_WIRE_VERSION: i64 = 6;

/// A BSON value, as far as the probe cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Bson {
    Double(f64),
    String(Vec<u8>),
    Document(Vec<(Vec<u8>, Bson)>),
    Array(Vec<Bson>),
    Bool(bool),
    Int32(i32),
    Int64(i64),
    Null,
    /// An element of another type, skipped.
    Skipped(u8),
}

impl Bson {
    /// The value of `key` in a document.
    pub fn get(&self, key: &str) -> Option<&Bson> {
        match self {
            Bson::Document(items) => items
                .iter()
                .find(|(k, _)| k == key.as_bytes())
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Bson::Int32(v) => Some(i64::from(v)),
            Bson::Int64(v) => Some(v),
            Bson::Double(v) if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 => {
                Some(v as i64)
            }
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Bson::String(s) => Some(s),
            _ => None,
        }
    }

    /// `ok: 1` (as double, int or bool).
    pub fn is_ok(&self) -> bool {
        match self.get("ok") {
            Some(Bson::Bool(b)) => *b,
            Some(v) => v.as_i64() == Some(1),
            None => false,
        }
    }
}

/// Why bytes are not a MongoDB reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MongoError {
    #[error("message length {declared} outside 16..={limit}")]
    BadLength { declared: i64, limit: usize },
    #[error("unexpected opcode {0}")]
    UnexpectedOpCode(i32),
    #[error("malformed BSON")]
    Bson,
    #[error("BSON nested deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// A BSON document built from simple elements (enough for our three commands).
#[derive(Debug, Clone, Default)]
pub struct DocBuilder(Vec<u8>);

impl DocBuilder {
    pub fn int32(mut self, key: &str, v: i32) -> Self {
        self.0.push(0x10);
        self.cstring(key);
        self.0.extend(v.to_le_bytes());
        self
    }
    pub fn bool(mut self, key: &str, v: bool) -> Self {
        self.0.push(0x08);
        self.cstring(key);
        self.0.push(u8::from(v));
        self
    }
    pub fn string(mut self, key: &str, v: &str) -> Self {
        self.0.push(0x02);
        self.cstring(key);
        self.0.extend(((v.len() + 1) as i32).to_le_bytes());
        self.0.extend(v.as_bytes());
        self.0.push(0);
        self
    }
    pub fn document(mut self, key: &str, v: DocBuilder) -> Self {
        self.0.push(0x03);
        self.cstring(key);
        self.0.extend(v.build());
        self
    }
    /// An array of documents.
    pub fn array(mut self, key: &str, items: Vec<DocBuilder>) -> Self {
        let mut inner = DocBuilder::default();
        for (i, item) in items.into_iter().enumerate() {
            inner = inner.document(&i.to_string(), item);
        }
        self.0.push(0x04);
        self.cstring(key);
        self.0.extend(inner.build());
        self
    }
    fn cstring(&mut self, s: &str) {
        self.0.extend(s.as_bytes());
        self.0.push(0);
    }
    pub fn build(self) -> Vec<u8> {
        let mut out = ((self.0.len() + 5) as i32).to_le_bytes().to_vec();
        out.extend(self.0);
        out.push(0);
        out
    }
}

fn header(len: usize, request_id: i32, op: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    out.extend((len as i32).to_le_bytes());
    out.extend(request_id.to_le_bytes());
    out.extend(0i32.to_le_bytes());
    out.extend(op.to_le_bytes());
    out
}

/// A command as OP_QUERY on `admin.$cmd` (numberToReturn -1).
pub fn op_query(request_id: i32, command: DocBuilder) -> Vec<u8> {
    let doc = command.build();
    let ns = b"admin.$cmd\0";
    let len = 16 + 4 + ns.len() + 8 + doc.len();
    let mut out = header(len, request_id, OP_QUERY);
    out.extend(0i32.to_le_bytes());
    out.extend(ns);
    out.extend(0i32.to_le_bytes());
    out.extend((-1i32).to_le_bytes());
    out.extend(doc);
    out
}

/// A command as OP_MSG (one body section; `$db: admin` added).
pub fn op_msg(request_id: i32, command: DocBuilder) -> Vec<u8> {
    let doc = command.string("$db", "admin").build();
    let len = 16 + 4 + 1 + doc.len();
    let mut out = header(len, request_id, OP_MSG);
    out.extend(0u32.to_le_bytes());
    out.push(0);
    out.extend(doc);
    out
}

/// `{isMaster: 1}`: the handshake.
pub fn is_master() -> DocBuilder {
    DocBuilder::default().int32("isMaster", 1)
}
/// `{buildInfo: 1}`.
pub fn build_info() -> DocBuilder {
    DocBuilder::default().int32("buildInfo", 1)
}
/// `{listDatabases: 1, nameOnly: true}`: names only, never sizes or contents.
pub fn list_database_names() -> DocBuilder {
    DocBuilder::default()
        .int32("listDatabases", 1)
        .bool("nameOnly", true)
}

/// A reply: the request it answers and its first document.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub response_to: i32,
    pub document: Bson,
}

/// Reads one reply (OP_REPLY or OP_MSG) at the start of `buf`; returns it and the bytes used.
pub fn read_reply(buf: &[u8], limit: usize) -> Result<Option<(Reply, usize)>, MongoError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let declared = i64::from(i32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]));
    if declared < 16 || declared > limit as i64 {
        return Err(MongoError::BadLength { declared, limit });
    }
    let total = declared as usize;
    if buf.len() < total {
        return Ok(None);
    }
    let msg = &buf[..total];
    let response_to = i32::from_le_bytes([msg[8], msg[9], msg[10], msg[11]]);
    let op = i32::from_le_bytes([msg[12], msg[13], msg[14], msg[15]]);
    let body = &msg[16..];
    let doc_bytes = match op {
        // flags(4) cursorId(8) startingFrom(4) numberReturned(4), then documents.
        OP_REPLY => body.get(20..).ok_or(MongoError::Bson)?,
        // flagBits(4), then sections; the body section has kind 0.
        OP_MSG => match body.get(4) {
            Some(0) => &body[5..],
            _ => return Err(MongoError::Bson),
        },
        other => return Err(MongoError::UnexpectedOpCode(other)),
    };
    let (document, _) = read_document(doc_bytes, 0)?;
    Ok(Some((
        Reply {
            response_to,
            document,
        },
        total,
    )))
}

/// Reads one BSON document at the start of `buf`; returns it and its length.
pub fn read_document(buf: &[u8], depth: usize) -> Result<(Bson, usize), MongoError> {
    if depth > MAX_DEPTH {
        return Err(MongoError::TooDeep);
    }
    let len = read_i32(buf, 0)?;
    let len = usize::try_from(len).map_err(|_| MongoError::Bson)?;
    if len < 5 || len > buf.len() || buf[len - 1] != 0 {
        return Err(MongoError::Bson);
    }
    let body = &buf[4..len - 1];
    let mut items = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let kind = body[at];
        at += 1;
        let key_end = at
            + body[at..]
                .iter()
                .position(|&b| b == 0)
                .ok_or(MongoError::Bson)?;
        let key = body[at..key_end].to_vec();
        at = key_end + 1;
        let rest = &body[at..];
        let (value, used) = read_value(kind, rest, depth)?;
        at += used;
        items.push((key, value));
    }
    Ok((Bson::Document(items), len))
}

fn read_i32(buf: &[u8], at: usize) -> Result<i32, MongoError> {
    let b = buf.get(at..at + 4).ok_or(MongoError::Bson)?;
    Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn fixed(rest: &[u8], n: usize) -> Result<usize, MongoError> {
    if rest.len() < n {
        Err(MongoError::Bson)
    } else {
        Ok(n)
    }
}

fn cstring_len(rest: &[u8]) -> Result<usize, MongoError> {
    Ok(rest.iter().position(|&b| b == 0).ok_or(MongoError::Bson)? + 1)
}

/// A BSON string (int32 length including the NUL, bytes, NUL): its bytes and total size.
fn string(rest: &[u8]) -> Result<(&[u8], usize), MongoError> {
    let n = usize::try_from(read_i32(rest, 0)?).map_err(|_| MongoError::Bson)?;
    if n < 1 || rest.len() < 4 + n || rest[3 + n] != 0 {
        return Err(MongoError::Bson);
    }
    Ok((&rest[4..3 + n], 4 + n))
}

fn read_value(kind: u8, rest: &[u8], depth: usize) -> Result<(Bson, usize), MongoError> {
    Ok(match kind {
        0x01 => {
            let n = fixed(rest, 8)?;
            let mut b = [0u8; 8];
            b.copy_from_slice(&rest[..8]);
            (Bson::Double(f64::from_le_bytes(b)), n)
        }
        0x02 => {
            let (s, n) = string(rest)?;
            (Bson::String(s.to_vec()), n)
        }
        0x03 => read_document(rest, depth + 1)?,
        0x04 => {
            let (doc, n) = read_document(rest, depth + 1)?;
            let Bson::Document(items) = doc else {
                return Err(MongoError::Bson);
            };
            (Bson::Array(items.into_iter().map(|(_, v)| v).collect()), n)
        }
        0x05 => {
            let n = usize::try_from(read_i32(rest, 0)?).map_err(|_| MongoError::Bson)?;
            (
                Bson::Skipped(kind),
                fixed(rest, n.checked_add(5).ok_or(MongoError::Bson)?)?,
            )
        }
        0x06 | 0x0A | 0x7F | 0xFF => (
            if kind == 0x0A {
                Bson::Null
            } else {
                Bson::Skipped(kind)
            },
            0,
        ),
        0x07 => (Bson::Skipped(kind), fixed(rest, 12)?),
        0x08 => {
            fixed(rest, 1)?;
            (Bson::Bool(rest[0] != 0), 1)
        }
        0x09 | 0x11 => (Bson::Skipped(kind), fixed(rest, 8)?),
        0x0B => {
            let a = cstring_len(rest)?;
            let b = cstring_len(&rest[a..])?;
            (Bson::Skipped(kind), a + b)
        }
        0x0C => {
            let (_, n) = string(rest)?;
            (Bson::Skipped(kind), n + fixed(&rest[n..], 12)?)
        }
        0x0D | 0x0E => (Bson::Skipped(kind), string(rest)?.1),
        0x0F => {
            let n = usize::try_from(read_i32(rest, 0)?).map_err(|_| MongoError::Bson)?;
            if n < 4 {
                return Err(MongoError::Bson);
            }
            (Bson::Skipped(kind), fixed(rest, n)?)
        }
        0x10 => {
            fixed(rest, 4)?;
            (Bson::Int32(read_i32(rest, 0)?), 4)
        }
        0x12 => {
            let n = fixed(rest, 8)?;
            let mut b = [0u8; 8];
            b.copy_from_slice(&rest[..8]);
            (Bson::Int64(i64::from_le_bytes(b)), n)
        }
        0x13 => (Bson::Skipped(kind), fixed(rest, 16)?),
        _ => return Err(MongoError::Bson),
    })
}

/// Folds the three answers into facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub facts: DbFacts,
    /// `maxWireVersion` of the handshake answer.
    pub max_wire_version: Option<i64>,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            facts: DbFacts::product(PRODUCT),
            max_wire_version: None,
        }
    }
}

impl Session {
    /// The handshake answer. Returns whether it looks like MongoDB (has `ok` and a wire
    /// version or `ismaster`).
    pub fn handshake(&mut self, doc: &Bson) -> bool {
        self.max_wire_version = doc.get("maxWireVersion").and_then(Bson::as_i64);
        doc.get("ok").is_some()
            && (self.max_wire_version.is_some()
                || doc.get("ismaster").is_some()
                || doc.get("isWritablePrimary").is_some())
    }

    /// Whether the next commands go as OP_MSG.
    pub fn use_op_msg(&self) -> bool {
        self.max_wire_version.unwrap_or(0) >= OP_MSG_WIRE_VERSION
    }

    pub fn build_info(&mut self, doc: &Bson) {
        if doc.is_ok() {
            self.facts.version = doc
                .get("version")
                .and_then(Bson::as_bytes)
                .and_then(version_text);
        }
    }

    pub fn list_databases(&mut self, doc: &Bson) {
        if doc.is_ok() {
            self.facts.auth_required = Some(false);
            if let Some(Bson::Array(dbs)) = doc.get("databases") {
                let names = dbs
                    .iter()
                    .filter_map(|d| d.get("name").and_then(Bson::as_bytes));
                self.facts.databases = Some(name_list(names));
            }
        } else if matches!(doc.get("code").and_then(Bson::as_i64), Some(13) | Some(18))
            || doc.get("codeName").and_then(Bson::as_bytes) == Some(b"Unauthorized")
        {
            self.facts.auth_required = Some(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_msg(doc: Vec<u8>, response_to: i32) -> Vec<u8> {
        let len = 16 + 5 + doc.len();
        let mut out = header(len, 99, OP_MSG);
        out[8..12].copy_from_slice(&response_to.to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.push(0);
        out.extend(doc);
        out
    }

    #[test]
    fn our_requests_are_well_formed() {
        let q = op_query(1, is_master());
        assert_eq!(
            i32::from_le_bytes([q[0], q[1], q[2], q[3]]) as usize,
            q.len()
        );
        assert_eq!(&q[12..16], &OP_QUERY.to_le_bytes());
        let m = op_msg(2, list_database_names());
        assert_eq!(
            i32::from_le_bytes([m[0], m[1], m[2], m[3]]) as usize,
            m.len()
        );
        let (doc, _) = read_document(&m[21..], 0).unwrap();
        assert_eq!(doc.get("nameOnly"), Some(&Bson::Bool(true)));
        assert_eq!(doc.get("$db").and_then(Bson::as_bytes), Some(&b"admin"[..]));
    }

    #[test]
    fn open_server_facts() {
        let hello = DocBuilder::default()
            .bool("ismaster", true)
            .int32("maxWireVersion", 21)
            .int32("ok", 1)
            .build();
        let (r, used) = read_reply(&reply_msg(hello, 1), MESSAGE_LIMIT)
            .unwrap()
            .unwrap();
        assert_eq!(r.response_to, 1);
        assert!(used > 16);
        let mut s = Session::default();
        assert!(s.handshake(&r.document));
        assert!(s.use_op_msg());
        s.build_info(
            &read_document(
                &DocBuilder::default()
                    .string("version", "7.0.2")
                    .int32("ok", 1)
                    .build(),
                0,
            )
            .unwrap()
            .0,
        );
        let dbs = DocBuilder::default()
            .array(
                "databases",
                vec![
                    DocBuilder::default().string("name", "clin"),
                    DocBuilder::default().string("name", "admin"),
                ],
            )
            .int32("ok", 1)
            .build();
        let (doc, _) = read_document(&dbs, 0).unwrap();
        s.list_databases(&doc);
        assert_eq!(s.facts.version.as_deref(), Some("7.0.2"));
        assert_eq!(s.facts.auth_required, Some(false));
        assert_eq!(
            s.facts.databases,
            Some(vec!["admin".to_string(), "clin".to_string()])
        );
    }

    #[test]
    fn unauthorized_list() {
        let doc = DocBuilder::default()
            .int32("ok", 0)
            .string("errmsg", "requires authentication")
            .int32("code", 13)
            .string("codeName", "Unauthorized")
            .build();
        let mut s = Session::default();
        s.list_databases(&read_document(&doc, 0).unwrap().0);
        assert_eq!(s.facts.auth_required, Some(true));
        assert_eq!(s.facts.databases, None);
    }

    #[test]
    fn hostile_bson_and_lengths() {
        assert_eq!(
            read_reply(b"\xff\xff\xff\x7f", 64),
            Err(MongoError::BadLength {
                declared: 0x7fff_ffff,
                limit: 64
            })
        );
        assert_eq!(
            read_reply(b"\x05\x00\x00\x00", 64),
            Err(MongoError::BadLength {
                declared: 5,
                limit: 64
            })
        );
        assert_eq!(read_reply(b"\x20\x00\x00\x00", 64), Ok(None));
        // A string whose length runs past the document.
        assert_eq!(
            read_document(b"\x0f\x00\x00\x00\x02a\x00\xff\x00\x00\x00x\x00\x00", 0),
            Err(MongoError::Bson)
        );
        // Nesting beyond the limit.
        let mut doc = DocBuilder::default().int32("x", 1);
        for _ in 0..20 {
            doc = DocBuilder::default().document("d", doc);
        }
        assert_eq!(read_document(&doc.build(), 0), Err(MongoError::TooDeep));
        assert_eq!(
            read_document(b"\x05\x00\x00\x00\x01", 0),
            Err(MongoError::Bson)
        );
        assert_eq!(
            read_document(b"\x07\x00\x00\x00\x99a\x00", 0),
            Err(MongoError::Bson)
        );
    }
}
