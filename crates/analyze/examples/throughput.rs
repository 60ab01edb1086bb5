//! Classification throughput on the labelled corpus: every case classified many times, single
//! thread. Run with `cargo run --release -p medsurface-analyze --example throughput`.
//!
//! Measures `best_match` (no allocation: what an importer needs to pick a signature) and
//! `classify` (the owned `Classification` with version and evidence, allocated for matches).

use std::hint::black_box;
use std::time::Instant;

use medsurface_analyze::Classifier;
use medsurface_model::{Details, Observation, Source, Timestamp, Transport};

const CORPUS: &str = include_str!("../tests/corpus/corpus.jsonl");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let classifier = Classifier::builtin()?;
    let mut observations = Vec::new();
    for line in CORPUS.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let details: Details = serde_json::from_value(v["details"].clone())?;
        observations.push(Observation {
            ip: "192.0.2.1".parse()?,
            port: u16::try_from(v["port"].as_u64().unwrap_or(0))?,
            transport: Transport::Tcp,
            hostname: None,
            protocol: v["protocol"].as_str().map(str::to_string),
            probe: "corpus".into(),
            source: Source::Scan,
            seen_at: Timestamp::UNIX_EPOCH,
            details,
        });
    }
    let rounds = 2_000;
    let total = (observations.len() * rounds) as f64;
    eprintln!(
        "{} signatures, {} corpus observations, {} rounds",
        classifier.signatures().len(),
        observations.len(),
        rounds
    );

    let start = Instant::now();
    let mut matched = 0usize;
    for _ in 0..rounds {
        for obs in &observations {
            matched += usize::from(black_box(classifier.best_match(black_box(obs))).is_some());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "best_match: {:.0} observations/s ({:.2} µs each), {matched} matches",
        total / secs,
        secs * 1e6 / total
    );

    let start = Instant::now();
    for _ in 0..rounds {
        for obs in &observations {
            black_box(classifier.classify(black_box(obs)));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "classify:   {:.0} observations/s ({:.2} µs each)",
        total / secs,
        secs * 1e6 / total
    );
    Ok(())
}
