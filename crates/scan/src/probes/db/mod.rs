//! Database probes: PostgreSQL, MySQL/MariaDB, Redis, MongoDB and Elasticsearch, one file each,
//! each on its usual port (the rows of the medical profile whose service names it).
//!
//! Each asks only what a client asks before it has logged in — a startup message, the server
//! greeting, `INFO server`, `isMaster`/`buildInfo`/`listDatabases` with names only, `GET /` and
//! the index-name list — and never a query, a key, a document or a row. What it learns ends in
//! the `db.*` keys through `medsurface_proto::db::DbFacts` (product, version, whether
//! authentication was demanded, database or index names). Parsing lives in `medsurface_proto::db`;
//! these files are the I/O around it, and share the helpers below (so does the HL7 probe): every
//! read is capped and every wait ends at a deadline that never passes the probe's budget.
//!
//! When the peer is not the expected database, the probe records what it got as `banner.*`
//! (bytes, escaped text, or silence), so the port is still described, and sets no protocol.

pub mod elasticsearch;
pub mod mongodb;
pub mod mysql;
pub mod postgres;
pub mod redis;

use std::time::Duration;

use medsurface_model::text::printable;
use medsurface_model::Details;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{timeout_at, Instant};

use super::ProbeContext;
use crate::outcome::classify_io_error;
use crate::ports::MEDICAL_PROFILE;

/// Time kept in reserve below `probe_timeout` so a probe returns what it saw before the
/// engine's safety net cancels it.
const BUDGET_RESERVE: Duration = Duration::from_millis(250);

/// Whether `port` is a medical-profile port whose service is `service`.
pub(crate) fn profile_port(port: u16, service: &str) -> bool {
    MEDICAL_PROFILE
        .iter()
        .any(|p| p.port == port && p.service == service)
}

/// The time a probe may still spend, and the deadline of its next wait.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    end: Instant,
    read_timeout: Duration,
}

impl Budget {
    pub(crate) fn new(ctx: &ProbeContext) -> Budget {
        Budget {
            end: Instant::now() + ctx.probe_timeout.saturating_sub(BUDGET_RESERVE),
            read_timeout: ctx.read_timeout,
        }
    }

    /// The deadline of one wait: the read timeout from now, or the budget's end if sooner.
    pub(crate) fn next_wait(&self) -> Instant {
        (Instant::now() + self.read_timeout).min(self.end)
    }
}

/// How reading an answer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadEnd {
    /// The answer is complete (the `done` test said so).
    Done,
    /// The peer closed the connection.
    Closed,
    /// `cap` bytes arrived without a complete answer.
    Full,
    /// The deadline passed.
    TimedOut,
    /// The read failed; the errno's name.
    Failed(String),
}

/// Reads into `buf` until `done(buf)` holds, the peer closes, `buf` holds `cap` bytes, or
/// `deadline` passes, whichever comes first. Reads at most 4 KiB at a time and never past
/// `cap`, so a flood costs nothing and a drip is cut off at the deadline.
pub(crate) async fn read_until<S, F>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    cap: usize,
    deadline: Instant,
    mut done: F,
) -> ReadEnd
where
    S: AsyncRead + Unpin,
    F: FnMut(&[u8]) -> bool,
{
    let mut chunk = [0u8; 4096];
    loop {
        if done(buf) {
            return ReadEnd::Done;
        }
        if buf.len() >= cap {
            return ReadEnd::Full;
        }
        let room = (cap - buf.len()).min(chunk.len());
        match timeout_at(deadline, stream.read(&mut chunk[..room])).await {
            Err(_) => return ReadEnd::TimedOut,
            Ok(Ok(0)) => return ReadEnd::Closed,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => {
                let reason = classify_io_error(&e).reason;
                return ReadEnd::Failed(
                    reason.map_or_else(|| "read-error".into(), |r| r.into_owned()),
                );
            }
        }
    }
}

/// Writes all of `bytes` before `deadline`. `false`: the write failed or timed out.
pub(crate) async fn write_before<S>(stream: &mut S, bytes: &[u8], deadline: Instant) -> bool
where
    S: AsyncWrite + Unpin,
{
    matches!(
        timeout_at(deadline, async {
            stream.write_all(bytes).await?;
            stream.flush().await
        })
        .await,
        Ok(Ok(()))
    )
}

/// Records what a peer that is not the expected protocol sent, under the `banner.*` keys.
pub(crate) fn record_other(details: &mut Details, got: &[u8], ctx: &ProbeContext) {
    let shown = &got[..got.len().min(ctx.banner_cap)];
    details.insert("banner.bytes".into(), Value::from(shown.len()));
    if shown.is_empty() {
        details.insert("banner.silent".into(), Value::Bool(true));
    } else {
        details.insert(
            "banner.text".into(),
            Value::String(printable(shown, ctx.banner_cap)),
        );
    }
}
