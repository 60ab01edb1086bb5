//! Throughput check of the engine on loopback: 127.77.0.0/16 × 3 ports (196,608 probes).
//!
//! Run the listeners in one process and the scan in another, so they do not share a runtime:
//!
//! ```text
//! cargo run --release -p medsurface-scan --example loopback_bench -- serve 500 banner &
//! cargo run --release -p medsurface-scan --example loopback_bench -- scan 2048
//! ```
//!
//! `serve N MODE` binds N listeners at pseudo-random (address, port) pairs of the space; MODE is
//! `banner` (write a line, then close), `close` (close at once) or `silent` (hold the
//! connection). `scan CONCURRENCY [READ_TIMEOUT_MS [RATE]]` scans the space (at unlimited rate
//! unless RATE is given) on a two-worker runtime and prints the time and the counts. An
//! example, not a library: it prints.

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use medsurface_model::{Checkpoint, Shard};
use medsurface_scan::{
    parse_targets, run_scan, Ports, ProbeContext, ProbeSpace, RateLimit, ScanChannels, ScanConfig,
    StopSignal,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

const NET: &str = "127.77.0.0/16";
const PORTS: [u16; 3] = [10104, 12575, 21112];
const USAGE: &str =
    "usage: loopback_bench serve N [banner|close|silent] | scan CONCURRENCY [READ_MS [RATE]]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match args.first().map(String::as_str) {
        Some("serve") => {
            let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(500);
            let mode = args.get(2).cloned().unwrap_or_else(|| "banner".into());
            runtime.block_on(serve(n, mode))
        }
        Some("scan") => {
            let concurrency: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2048);
            let read_ms: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
            let rate = match args
                .get(3)
                .and_then(|s| s.parse().ok())
                .and_then(NonZeroU32::new)
            {
                Some(r) => RateLimit::PerSecond(r),
                None => RateLimit::Unlimited,
            };
            // The consumer runs in a task on the runtime, as the CLI should: receiving on the
            // thread that called block_on costs a futex wake per result (20-60% slower here).
            let settings = Bench {
                concurrency,
                read_ms,
                rate,
            };
            runtime
                .block_on(async move { tokio::spawn(scan(settings)).await? })
                .map_err(|e| e as Box<dyn std::error::Error>)
        }
        _ => Err(USAGE.into()),
    }
}

async fn serve(n: usize, mode: String) -> Result<(), Box<dyn std::error::Error>> {
    let mut chosen = BTreeSet::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while chosen.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let host = (x % 65536) as u16;
        let port = PORTS[((x >> 20) % 3) as usize];
        chosen.insert((host, port));
    }
    for (host, port) in chosen {
        let ip = std::net::Ipv4Addr::new(127, 77, (host >> 8) as u8, host as u8);
        let listener = TcpListener::bind((ip, port)).await?;
        let mode = mode.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                match mode.as_str() {
                    "banner" => {
                        let _ = stream.write_all(b"220 medsurface bench\r\n").await;
                    }
                    "silent" => held.push(stream),
                    _ => {}
                }
            }
        });
    }
    eprintln!("serving {n} listeners in {NET}");
    std::future::pending::<()>().await;
    Ok(())
}

struct Bench {
    concurrency: usize,
    read_ms: u64,
    rate: RateLimit,
}

async fn scan(bench: Bench) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let Bench {
        concurrency,
        read_ms,
        rate,
    } = bench;
    let targets = parse_targets(&[NET.to_string()])?;
    let space = Arc::new(ProbeSpace::new(targets, Ports::new(PORTS)?)?);
    let config = ScanConfig {
        rate,
        concurrency,
        connect_timeout: Duration::from_secs(2),
        retries: 1,
        probe: ProbeContext {
            read_timeout: Duration::from_millis(read_ms),
            ..ProbeContext::default()
        },
        seed: 1,
        shard: Shard::WHOLE,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
    let started = Instant::now();
    let run = tokio::spawn(run_scan(
        space,
        config,
        Checkpoint::default(),
        ScanChannels {
            results: tx,
            stop: StopSignal::new(),
        },
    ));
    let mut received = 0u64;
    while rx.recv().await.is_some() {
        received += 1;
    }
    let summary = run.await??;
    println!(
        "{received} results in {:.2} s: {:?} ({:?})",
        started.elapsed().as_secs_f64(),
        summary.counts,
        summary.end
    );
    Ok(())
}
