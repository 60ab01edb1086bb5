//! Measures `SqliteStore::record` on the load of a /16 scan of one port: 200,000 closed results
//! and 500 open ones with an observation, sent in batches of 2,000 with a checkpoint each, to a
//! store file in a temporary directory. A second run sends 200,000 filtered results (every one
//! a row), the worst case of a firewalled range.
//!
//! Run with `cargo run --release -p medsurface-store --example record_throughput`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use medsurface_model::{
    Checkpoint, Details, Observation, Outcome, ProbeResult, Source, Timestamp, Transport,
};
use medsurface_store::{Batch, NewScan, SqliteStore, Store, StoreError};

const BATCH: usize = 2_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let closed_and_open = workload(200_000, 500, Outcome::Closed);
    let filtered = workload(200_000, 0, Outcome::Filtered);
    for (name, results) in [
        ("200,000 closed + 500 open", closed_and_open),
        ("200,000 filtered", filtered),
    ] {
        let dir = tempfile::tempdir()?;
        let mut store = SqliteStore::open(&dir.path().join("store.db"))?;
        let elapsed = record_all(&mut store, &results)?;
        let per_sec = results.len() as f64 / elapsed.as_secs_f64();
        println!(
            "{name}: {} results in {} batches of {BATCH}: {:.1} ms ({per_sec:.0} results/s)",
            results.len(),
            results.len().div_ceil(BATCH),
            elapsed.as_secs_f64() * 1e3,
        );
    }
    Ok(())
}

/// `n` results in sequence order, `open` of them (spread evenly) open with an observation, the
/// rest `other`.
fn workload(n: u128, open: u128, other: Outcome) -> Vec<ProbeResult> {
    let every = n.checked_div(open).unwrap_or(u128::MAX);
    let start = Timestamp::from_second(1_772_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
    (0..n + open)
        .map(|seq| {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 | (seq as u32 & 0xffff)).into();
            let is_open = seq % every == every - 1 && seq / every < open;
            let observation = is_open.then(|| {
                let mut details = Details::new();
                details.insert(
                    "banner.text".into(),
                    serde_json::json!("DICOM association accepted"),
                );
                details.insert(
                    "dicom.implementation_class_uid".into(),
                    serde_json::json!("1.2.826.0.1.3680043.2.135"),
                );
                Observation {
                    ip,
                    port: 104,
                    transport: Transport::Tcp,
                    hostname: None,
                    protocol: Some("dicom".into()),
                    probe: "dicom".into(),
                    source: Source::Scan,
                    seen_at: start,
                    details,
                }
            });
            ProbeResult {
                seq,
                ip,
                port: 104,
                hostname: None,
                outcome: if is_open { Outcome::Open } else { other },
                attempts: 1,
                rtt_us: is_open.then_some(900),
                reason: None,
                observation,
                classification: None,
            }
        })
        .collect()
}

/// Time spent inside `record` only (building batches and checkpoints is not counted).
fn record_all(store: &mut SqliteStore, results: &[ProbeResult]) -> Result<Duration, StoreError> {
    let scan = store.create_scan(&NewScan {
        args: vec!["record_throughput".into()],
        plan: serde_json::json!({}),
        seed: 1,
        shard: medsurface_model::Shard::WHOLE,
        total: results.len() as u128,
        started_at: Timestamp::UNIX_EPOCH,
    })?;
    let mut elapsed = Duration::ZERO;
    let mut checkpoint = Checkpoint {
        watermark: 0,
        done_above: BTreeSet::new(),
    };
    for chunk in results.chunks(BATCH) {
        for r in chunk {
            checkpoint.mark_done(r.seq);
        }
        let started = Instant::now();
        store.record(
            scan,
            Batch {
                results: chunk,
                checkpoint: &checkpoint,
            },
        )?;
        elapsed += started.elapsed();
    }
    let meta = store.scan(scan)?;
    assert_eq!(
        meta.counts.total(),
        results.len() as u64,
        "every result counted"
    );
    Ok(elapsed)
}
