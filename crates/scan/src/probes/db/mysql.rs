//! MySQL and MariaDB: read the server greeting, send nothing, close.
//!
//! Product (MariaDB when the version says so, else MySQL) and version from the greeting
//! (`medsurface_proto::db::mysql`). No login is attempted, so `db.auth_required` is never
//! written: the greeting alone cannot say whether a password would be demanded.

use medsurface_model::Details;
use medsurface_proto::db::mysql::{self, Greeting};
use tokio::net::TcpStream;

use super::{profile_port, read_until, record_other, Budget};
use crate::probes::{Probe, ProbeContext, ProbeFuture, ProbeOutput};

#[derive(Debug, Clone, Copy, Default)]
pub struct MysqlProbe;

impl Probe for MysqlProbe {
    fn name(&self) -> &'static str {
        "mysql"
    }

    fn wants(&self, port: u16) -> bool {
        profile_port(port, "mysql")
    }

    fn run<'a>(&'a self, stream: &'a mut TcpStream, ctx: &'a ProbeContext) -> ProbeFuture<'a> {
        Box::pin(probe(stream, ctx))
    }
}

/// Runs the MySQL probe on a connected stream.
pub async fn probe(stream: &mut TcpStream, ctx: &ProbeContext) -> ProbeOutput {
    let budget = Budget::new(ctx);
    let mut details = Details::new();
    let mut buf = Vec::new();
    let cap = 4 + mysql::PACKET_LIMIT;
    read_until(stream, &mut buf, cap, budget.next_wait(), |b| {
        !matches!(mysql::read_greeting(b, mysql::PACKET_LIMIT), Ok(None))
    })
    .await;
    match mysql::read_greeting(&buf, mysql::PACKET_LIMIT) {
        Ok(Some(greeting @ (Greeting::Handshake { .. } | Greeting::Error { .. }))) => {
            greeting.facts().write(&mut details);
            ProbeOutput {
                protocol: Some("mysql".to_string()),
                details,
            }
        }
        Ok(None) | Err(_) => {
            record_other(&mut details, &buf, ctx);
            ProbeOutput {
                protocol: None,
                details,
            }
        }
    }
}
