//! MongoDB: `isMaster` (the handshake, as OP_QUERY, which every version answers), then
//! `buildInfo` (version) and `listDatabases` with `nameOnly: true` (names, or `Unauthorized`),
//! as OP_MSG when the server's `maxWireVersion` allows it, else OP_QUERY. Three requests on one
//! connection, each answer capped and awaited with a deadline; see
//! `medsurface_proto::db::mongodb`.

use medsurface_model::Details;
use medsurface_proto::db::mongodb::{self as mongo, Bson, DocBuilder, Session};
use tokio::net::TcpStream;

use super::{profile_port, read_until, record_other, write_before, Budget};
use crate::probes::{Probe, ProbeContext, ProbeFuture, ProbeOutput};

#[derive(Debug, Clone, Copy, Default)]
pub struct MongoProbe;

impl Probe for MongoProbe {
    fn name(&self) -> &'static str {
        "mongodb"
    }

    fn wants(&self, port: u16) -> bool {
        profile_port(port, "mongodb")
    }

    fn run<'a>(&'a self, stream: &'a mut TcpStream, ctx: &'a ProbeContext) -> ProbeFuture<'a> {
        Box::pin(probe(stream, ctx))
    }
}

/// One command and its answer's document. `Err(bytes)`: no well-formed answer (what came).
async fn command(
    stream: &mut TcpStream,
    budget: &Budget,
    request: Vec<u8>,
) -> Result<Bson, Vec<u8>> {
    let mut buf = Vec::new();
    if !write_before(stream, &request, budget.next_wait()).await {
        return Err(buf);
    }
    read_until(
        stream,
        &mut buf,
        mongo::MESSAGE_LIMIT,
        budget.next_wait(),
        |b| !matches!(mongo::read_reply(b, mongo::MESSAGE_LIMIT), Ok(None)),
    )
    .await;
    match mongo::read_reply(&buf, mongo::MESSAGE_LIMIT) {
        Ok(Some((reply, _))) => Ok(reply.document),
        _ => Err(buf),
    }
}

/// Runs the MongoDB probe on a connected stream.
pub async fn probe(stream: &mut TcpStream, ctx: &ProbeContext) -> ProbeOutput {
    let budget = Budget::new(ctx);
    let mut details = Details::new();
    let mut session = Session::default();
    match command(stream, &budget, mongo::op_query(1, mongo::is_master())).await {
        Ok(doc) if session.handshake(&doc) => {}
        // Well-formed wire protocol, but not a MongoDB handshake answer: claim nothing.
        Ok(_) => {
            return ProbeOutput {
                protocol: None,
                details,
            }
        }
        Err(got) => {
            record_other(&mut details, &got, ctx);
            return ProbeOutput {
                protocol: None,
                details,
            };
        }
    }
    let encode = |id: i32, cmd: DocBuilder| {
        if session.use_op_msg() {
            mongo::op_msg(id, cmd)
        } else {
            mongo::op_query(id, cmd)
        }
    };
    let (build_info, list) = (
        encode(2, mongo::build_info()),
        encode(3, mongo::list_database_names()),
    );
    if let Ok(doc) = command(stream, &budget, build_info).await {
        session.build_info(&doc);
        if let Ok(doc) = command(stream, &budget, list).await {
            session.list_databases(&doc);
        }
    }
    session.facts.write(&mut details);
    ProbeOutput {
        protocol: Some("mongodb".to_string()),
        details,
    }
}
