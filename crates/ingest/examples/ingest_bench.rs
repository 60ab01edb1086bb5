//! Ingest benchmark: imports one file and does what the `jq` baseline does (count the banners
//! on port 104, count banners by country), printing one JSON line of figures on stdout.
//!
//!     cargo run --release -p medsurface-ingest --example ingest_bench -- shodan FILE [THREADS]
//!     CLASSIFY=parallel cargo run --release …   (classify in the map stage; or CLASSIFY=caller)
//!
//! Every record is fully mapped to observations (DICOM/HTTP/FHIR parsing, details), which is
//! more work than jq's filter; the counts are checked against jq's in bench/ingest.sh.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

use medsurface_ingest::{read_file_with, Format, IngestOptions, Stages};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(format), Some(path)) = (args.get(1), args.get(2)) else {
        return Err("usage: ingest_bench FORMAT FILE [THREADS]".into());
    };
    let format = Format::parse(format).ok_or("unknown format")?;
    let opts = IngestOptions {
        threads: args
            .get(3)
            .and_then(|t| t.parse().ok())
            .and_then(NonZeroUsize::new),
        ..IngestOptions::default()
    };
    // CLASSIFY=caller: also classify every observation with the shipped signatures on the
    // caller's thread (in the sink); CLASSIFY=parallel: in the `map` stage, on the parser threads.
    let mode = std::env::var("CLASSIFY").unwrap_or_default();
    let classifier = match mode.as_str() {
        "caller" | "parallel" => Some(medsurface_analyze::Classifier::builtin()?),
        _ => None,
    };
    let parallel = mode == "parallel";
    let mut classified = 0u64;
    let mut port_104 = 0u64;
    let mut dicom_accepting = 0u64;
    let mut by_country: BTreeMap<String, u64> = BTreeMap::new();
    let start = Instant::now();
    let map = |obs: &[medsurface_model::Observation]| -> u64 {
        match (&classifier, parallel) {
            (Some(c), true) => obs.iter().filter(|o| c.best_match(o).is_some()).count() as u64,
            _ => 0,
        }
    };
    let stages = Stages {
        map: &map,
        sink: &mut |record, matched| {
            classified += matched;
            for o in &record.observations {
                if let (Some(c), false) = (&classifier, parallel) {
                    if c.best_match(o).is_some() {
                        classified += 1;
                    }
                }
                if o.port == 104 {
                    port_104 += 1;
                }
                if o.details.get("dicom.accepts_any_ae") == Some(&serde_json::Value::Bool(true)) {
                    dicom_accepting += 1;
                }
                let country = o
                    .details
                    .get("geo.country")
                    .and_then(|c| c.as_str())
                    .unwrap_or("null");
                match by_country.get_mut(country) {
                    Some(n) => *n += 1,
                    None => {
                        by_country.insert(country.to_string(), 1);
                    }
                }
            }
            ControlFlow::Continue(())
        },
    };
    let report = read_file_with(format, Path::new(path), stages, &opts)?;
    let secs = start.elapsed().as_secs_f64();
    let mb = report.bytes as f64 / 1e6;
    let mut top: Vec<(&String, &u64)> = by_country.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    println!(
        "{}",
        serde_json::json!({
            "file": path,
            "threads": opts.worker_count_hint(),
            "bytes": report.bytes,
            "compressed_bytes": report.compressed_bytes,
            "seconds": (secs * 1000.0).round() / 1000.0,
            "mb_per_s": (mb / secs * 10.0).round() / 10.0,
            "lines_per_s": (report.lines as f64 / secs).round(),
            "lines": report.lines,
            "records": report.records,
            "errors": report.error_count,
            "port_104": port_104,
            "dicom_accepts_any_ae": dicom_accepting,
            "classified": classifier.as_ref().map(|_| classified),
            "classify": mode,
            "top_countries": top.iter().take(5).map(|(c, n)| format!("{c}:{n}")).collect::<Vec<_>>(),
        })
    );
    Ok(())
}
