//! Redis: one `INFO server` command (server section only: version, mode, OS; no keys), then
//! close. An open server answers with its version (`db.auth_required = false`); one with a
//! password answers `-NOAUTH` (`true`); see `medsurface_proto::db::redis`.

use medsurface_model::Details;
use medsurface_proto::db::redis;
use tokio::net::TcpStream;

use super::{profile_port, read_until, record_other, write_before, Budget};
use crate::probes::{Probe, ProbeContext, ProbeFuture, ProbeOutput};

#[derive(Debug, Clone, Copy, Default)]
pub struct RedisProbe;

impl Probe for RedisProbe {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn wants(&self, port: u16) -> bool {
        profile_port(port, "redis")
    }

    fn run<'a>(&'a self, stream: &'a mut TcpStream, ctx: &'a ProbeContext) -> ProbeFuture<'a> {
        Box::pin(probe(stream, ctx))
    }
}

/// Runs the Redis probe on a connected stream.
pub async fn probe(stream: &mut TcpStream, ctx: &ProbeContext) -> ProbeOutput {
    let budget = Budget::new(ctx);
    let mut details = Details::new();
    if !write_before(stream, redis::INFO_SERVER, budget.next_wait()).await {
        return ProbeOutput {
            protocol: None,
            details,
        };
    }
    let mut buf = Vec::new();
    read_until(
        stream,
        &mut buf,
        redis::REPLY_LIMIT,
        budget.next_wait(),
        |b| !matches!(redis::read_reply(b, redis::REPLY_LIMIT), Ok(None)),
    )
    .await;
    match redis::read_reply(&buf, redis::REPLY_LIMIT) {
        Ok(Some(reply)) => {
            redis::facts(&reply).write(&mut details);
            ProbeOutput {
                protocol: Some("redis".to_string()),
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
