//! The default probe: listen, send nothing, keep what the peer says first.
//!
//! Many services (FTP, SMTP, SSH, databases, some DICOM and HL7 gateways) announce themselves;
//! many others wait for the client. Sending nothing is the gentlest probe there is, so it is
//! what every port gets unless a protocol probe claims it. Peer bytes are hostile: at most
//! `ctx.banner_cap` bytes are read (the buffer is that size, so a 10 MB flood costs nothing),
//! the whole read is bounded by `ctx.read_timeout` however slowly the peer dribbles, and the
//! text is stored escaped by [`printable`].
//!
//! Details written: `banner.bytes` (count), `banner.text` (escaped, when bytes came),
//! `banner.silent` (true when nothing came), `banner.closed` (peer closed the connection),
//! `banner.read_error` (errno name, when the read failed).

use std::time::Duration;

use medsurface_model::text::printable;
use medsurface_model::Details;
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

use super::{Probe, ProbeContext, ProbeFuture, ProbeOutput};
use crate::outcome::classify_io_error;

/// Once the peer has spoken, how long a pause ends the banner. A banner is usually one write;
/// waiting the whole read timeout for more would make every talkative port cost that long.
const QUIET_GAP: Duration = Duration::from_millis(150);

/// Reads what the peer sends unprompted.
#[derive(Debug, Clone, Copy, Default)]
pub struct BannerProbe;

impl Probe for BannerProbe {
    fn name(&self) -> &'static str {
        "banner"
    }

    fn wants(&self, _port: u16) -> bool {
        true
    }

    fn run<'a>(&'a self, stream: &'a mut TcpStream, ctx: &'a ProbeContext) -> ProbeFuture<'a> {
        Box::pin(grab(stream, ctx))
    }
}

/// How a banner read ended.
enum End {
    Full,
    Quiet,
    Closed,
    Failed(String),
}

async fn grab(stream: &mut TcpStream, ctx: &ProbeContext) -> ProbeOutput {
    let deadline = Instant::now() + ctx.read_timeout;
    let mut buf = vec![0u8; ctx.banner_cap];
    let mut got = 0usize;
    let end = loop {
        if got == buf.len() {
            break End::Full;
        }
        let until = if got == 0 {
            deadline
        } else {
            deadline.min(Instant::now() + QUIET_GAP)
        };
        match timeout_at(until, stream.read(&mut buf[got..])).await {
            Err(_) => break End::Quiet,
            Ok(Ok(0)) => break End::Closed,
            Ok(Ok(n)) => got += n,
            Ok(Err(e)) => {
                let reason = classify_io_error(&e).reason;
                break End::Failed(reason.map_or_else(|| "read-error".into(), |r| r.into_owned()));
            }
        }
    };
    let mut details = Details::new();
    details.insert("banner.bytes".into(), Value::from(got));
    if got == 0 {
        details.insert("banner.silent".into(), Value::Bool(true));
    } else {
        details.insert(
            "banner.text".into(),
            Value::String(printable(&buf[..got], ctx.banner_cap)),
        );
    }
    match end {
        End::Closed => {
            details.insert("banner.closed".into(), Value::Bool(true));
        }
        End::Failed(name) => {
            details.insert("banner.read_error".into(), Value::String(name));
        }
        End::Full | End::Quiet => {}
    }
    ProbeOutput {
        protocol: None,
        details,
    }
}
