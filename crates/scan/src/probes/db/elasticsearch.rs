//! Elasticsearch and OpenSearch: `GET /` (product, version, or 401), and when that is open,
//! `GET /_cat/indices?h=index` on the same connection (index names only, never a document).
//! Requests carry medsurface's User-Agent; see `medsurface_proto::db::elasticsearch`.

use medsurface_model::Details;
use medsurface_proto::db::elasticsearch::{self as es, Response};
use tokio::net::TcpStream;

use super::{profile_port, read_until, record_other, write_before, Budget, ReadEnd};
use crate::probes::{Probe, ProbeContext, ProbeFuture, ProbeOutput};

#[derive(Debug, Clone, Copy, Default)]
pub struct ElasticsearchProbe;

impl Probe for ElasticsearchProbe {
    fn name(&self) -> &'static str {
        "elasticsearch"
    }

    fn wants(&self, port: u16) -> bool {
        profile_port(port, "elasticsearch")
    }

    fn run<'a>(&'a self, stream: &'a mut TcpStream, ctx: &'a ProbeContext) -> ProbeFuture<'a> {
        Box::pin(probe(stream, ctx))
    }
}

/// One GET and its response. `Err(bytes)`: no readable response (what came).
async fn get(stream: &mut TcpStream, budget: &Budget, request: &[u8]) -> Result<Response, Vec<u8>> {
    let mut buf = Vec::new();
    if !write_before(stream, request, budget.next_wait()).await {
        return Err(buf);
    }
    let end = read_until(
        stream,
        &mut buf,
        es::RESPONSE_LIMIT,
        budget.next_wait(),
        |b| !matches!(es::read_response(b, es::RESPONSE_LIMIT, false), Ok(None)),
    )
    .await;
    let eof = end == ReadEnd::Closed;
    match es::read_response(&buf, es::RESPONSE_LIMIT, eof) {
        Ok(Some(response)) => Ok(response),
        _ => Err(buf),
    }
}

/// Runs the Elasticsearch probe on a connected stream.
pub async fn probe(stream: &mut TcpStream, ctx: &ProbeContext) -> ProbeOutput {
    let budget = Budget::new(ctx);
    let mut details = Details::new();
    let host = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "localhost".to_string());
    let root = es::get_request("/", &host, &ctx.user_agent);
    let response = match get(stream, &budget, &root).await {
        Ok(r) => r,
        Err(got) => {
            record_other(&mut details, &got, ctx);
            return ProbeOutput {
                protocol: None,
                details,
            };
        }
    };
    let Some(mut facts) = es::root_facts(&response) else {
        // HTTP, but not Elasticsearch: the HTTP probe's business.
        return ProbeOutput {
            protocol: Some("http".to_string()),
            details,
        };
    };
    if facts.auth_required == Some(false) && !response.closes {
        let list = es::get_request("/_cat/indices?h=index", &host, &ctx.user_agent);
        if let Ok(r) = get(stream, &budget, &list).await {
            facts.databases = es::index_names(&r);
        }
    }
    facts.write(&mut details);
    ProbeOutput {
        protocol: Some("elasticsearch".to_string()),
        details,
    }
}
