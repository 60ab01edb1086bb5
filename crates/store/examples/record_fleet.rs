//! Measures `SqliteStore::record` on the load of a DICOM fleet scan: 1,000 open results, each
//! with an observation of seven details and the classifier's verdict, arriving out of order and
//! sent in four batches, to a new store file in a temporary directory. Made for instruction
//! counts (`valgrind --tool=callgrind`): it prints the time spent in `record` and, with a path
//! as its argument, keeps the store there for comparing contents.
//!
//! Run with `cargo run --release -p medsurface-store --example record_fleet [-- STORE]`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use medsurface_model::classify::{Category, Classification, Confidence, Evidence};
use medsurface_model::{
    Checkpoint, Details, Observation, Outcome, ProbeResult, Source, Timestamp, Transport,
};
use medsurface_store::{Batch, NewScan, SqliteStore, Store};

const RESULTS: u128 = 1_000;
const BATCHES: usize = 4;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = match std::env::args_os().nth(1) {
        Some(p) => p.into(),
        None => dir.path().join("store.db"),
    };
    let mut store = SqliteStore::open(&path)?;
    let results = workload();
    let scan = store.create_scan(&NewScan {
        args: vec!["record_fleet".into()],
        plan: serde_json::json!({}),
        seed: 1,
        shard: medsurface_model::Shard::WHOLE,
        total: RESULTS,
        started_at: Timestamp::UNIX_EPOCH,
    })?;
    let mut checkpoint = Checkpoint {
        watermark: 0,
        done_above: BTreeSet::new(),
    };
    let mut elapsed = Duration::ZERO;
    for chunk in results.chunks(results.len().div_ceil(BATCHES)) {
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
    assert_eq!(store.scan(scan)?.counts.open, RESULTS as u64);
    println!(
        "{RESULTS} open DICOM results in {BATCHES} batches: {:.2} ms in record",
        elapsed.as_secs_f64() * 1e3
    );
    Ok(())
}

/// The fleet's results in the order a concurrent scan finishes them (a fixed shuffle), each
/// address a server of its own.
fn workload() -> Vec<ProbeResult> {
    let start = Timestamp::from_second(1_772_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
    let mut order: Vec<u128> = (0..RESULTS).collect();
    // A fixed permutation: a linear congruential walk, so runs are identical.
    let mut x: u64 = 12_345;
    for i in (1..order.len()).rev() {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        order.swap(i, (x >> 33) as usize % (i + 1));
    }
    order
        .into_iter()
        .map(|seq| {
            let ip = std::net::Ipv4Addr::new(127, 95, (seq / 250) as u8, (seq % 250 + 1) as u8);
            let mut details = Details::new();
            for (k, v) in [
                ("dicom.association", "rejected"),
                ("dicom.called_ae", "ANY-SCP"),
                ("dicom.calling_ae", "MEDSURFACE"),
                ("dicom.reject_reason", "called-ae-title-not-recognized"),
                ("dicom.reject_result", "rejected-permanent"),
                ("dicom.reject_source", "service-user"),
            ] {
                details.insert(k.into(), serde_json::json!(v));
            }
            details.insert("dicom.tls".into(), serde_json::json!(false));
            // Each a different time, with nanoseconds, as a scan's are.
            let seen_at =
                Timestamp::from_nanosecond(start.as_nanosecond() + seq as i128 * 1_234_567)
                    .unwrap_or(start);
            ProbeResult {
                seq,
                ip: ip.into(),
                port: 11112,
                hostname: None,
                outcome: Outcome::Open,
                attempts: 1,
                rtt_us: Some(300 + (seq as u64 % 700)),
                reason: None,
                observation: Some(Observation {
                    ip: ip.into(),
                    port: 11112,
                    transport: Transport::Tcp,
                    hostname: None,
                    protocol: Some("dicom".into()),
                    probe: "dicom".into(),
                    source: Source::Scan,
                    seen_at,
                    details,
                }),
                classification: Some(Classification {
                    signature: "generic-dicom-rejecting".into(),
                    category: Category::Imaging,
                    vendor: "unknown".into(),
                    product: "DICOM server".into(),
                    version: None,
                    confidence: Confidence::Low,
                    evidence: vec![Evidence {
                        field: "dicom.association".into(),
                        rule: "in [\"rejected\", \"aborted\"] (any case)".into(),
                    }],
                }),
            }
        })
        .collect()
}
