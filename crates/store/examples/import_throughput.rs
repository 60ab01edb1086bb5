//! Measures the import write path, `SqliteStore::record_import_rows`, on the load of a large
//! Shodan file: 250,000 sightings encoded ahead (details JSON of about 900 bytes, a verdict of
//! about 200), 7 % of them a second sighting of an earlier service (half newer, half older),
//! addresses from 198.18.0.0/15 (the benchmarking range), written in batches of 20,000 to a
//! store file in a temporary directory. Then times two full reads of the result: every
//! service with all its details (`for_each_service`), and with one detail kept
//! (`for_each_service_details`, what `stats` does).
//!
//! Prints one JSON line: wall and CPU times in seconds (CPU: this thread's time on a CPU, from
//! `/proc/thread-self/schedstat`, less disturbed by other load than wall time; absent where
//! that file is not), the store's size in bytes once closed.
//!
//! Run with `cargo run --release -p medsurface-store --example import_throughput`; with
//! `-- --store PATH` the store is written to PATH (which must not exist yet) and kept.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use medsurface_model::classify::{Category, Classification, Confidence, Evidence};
use medsurface_model::{Details, Observation, Source, Timestamp, Transport};
use medsurface_store::{ImportRow, ServiceFilter, SqliteStore, Store};

const ROWS: usize = 250_000;
const BATCH: usize = 20_000;
/// One row in `REPEAT_EVERY` (7 %) is a second sighting of an earlier service.
const REPEAT_EVERY: usize = 14;
/// 198.18.0.0/15.
const BASE: u32 = 0xc612_0000;
const ADDRESSES: u32 = 1 << 17;
const PORTS: [u16; 3] = [104, 2575, 8042];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (rows, detail_bytes) = workload()?;
    let dir = tempfile::tempdir()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = match args.as_slice() {
        [] => dir.path().join("store.db"),
        [flag, path] if flag == "--store" => std::path::PathBuf::from(path),
        _ => return Err("usage: import_throughput [--store PATH]".into()),
    };
    if path.exists() {
        return Err(format!("{} exists already", path.display()).into());
    }

    let mut store = SqliteStore::open(&path)?;
    let mut write = Duration::ZERO;
    let mut write_cpu = Some(Duration::ZERO);
    for chunk in rows.chunks(BATCH) {
        let (started, cpu) = (Instant::now(), cpu_time());
        store.record_import_rows(chunk)?;
        write += started.elapsed();
        write_cpu = add(write_cpu, cpu, cpu_time());
    }
    // Closing the last connection copies the WAL into the file and removes it.
    drop(store);
    let db_bytes = std::fs::metadata(&path)?.len();

    let store = SqliteStore::open(&path)?;
    let all = ServiceFilter::default();
    let (started, cpu) = (Instant::now(), cpu_time());
    let (mut services, mut details) = (0_usize, 0_usize);
    store.for_each_service(&all, &mut |s| {
        services += 1;
        details += s.service.details.len();
        Ok(())
    })?;
    let read_full = started.elapsed();
    let read_full_cpu = add(Some(Duration::ZERO), cpu, cpu_time());
    let (started, cpu) = (Instant::now(), cpu_time());
    let mut kept = 0_usize;
    store.for_each_service_details(&all, &|k| k == "http.title", &mut |s| {
        kept += s.service.details.len();
        Ok(())
    })?;
    let read_details = started.elapsed();
    let read_details_cpu = add(Some(Duration::ZERO), cpu, cpu_time());
    let secs = |d: Option<Duration>| d.map(|d| d.as_secs_f64());

    println!(
        "{}",
        serde_json::json!({
            "rows": rows.len(),
            "batch": BATCH,
            "services": services,
            "details_read": details,
            "details_kept": kept,
            "mean_details_json_bytes": detail_bytes / rows.len(),
            "write_s": write.as_secs_f64(),
            "write_cpu_s": secs(write_cpu),
            "read_full_s": read_full.as_secs_f64(),
            "read_full_cpu_s": secs(read_full_cpu),
            "read_one_detail_s": read_details.as_secs_f64(),
            "read_one_detail_cpu_s": secs(read_details_cpu),
            "db_bytes": db_bytes,
        })
    );
    Ok(())
}

/// This thread's time on a CPU so far (the first field of its schedstat, in nanoseconds).
fn cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// `total` plus the time from `from` to `to`, if all three are known.
fn add(total: Option<Duration>, from: Option<Duration>, to: Option<Duration>) -> Option<Duration> {
    Some(total? + to?.checked_sub(from?)?)
}

/// The rows, and the bytes of their details' JSON.
fn workload() -> Result<(Vec<ImportRow>, usize), Box<dyn std::error::Error>> {
    const START: i64 = 1_772_000_000;
    let mut rows = Vec::with_capacity(ROWS);
    let mut detail_bytes = 0;
    let mut services = 0_u32;
    for i in 0..ROWS {
        let repeat = i % REPEAT_EVERY == REPEAT_EVERY - 1;
        // A repeat sights the service first stored a few thousand rows earlier, an hour
        // later or earlier; a new service gets the next address (and port, past the range).
        let (service, hours) = if repeat {
            let back = (i as u32 * 7_919) % 5_000 + 1;
            let hours = if i % 2 == 0 { 1 } else { -1 };
            (services.saturating_sub(back), hours)
        } else {
            services += 1;
            (services - 1, 0)
        };
        let ip = Ipv4Addr::from(BASE + service % ADDRESSES);
        let port = PORTS[(service / ADDRESSES) as usize % PORTS.len()];
        let seen = Timestamp::from_second(START + i as i64 + hours * 3_600)?;
        let details = details(i, ip, port);
        detail_bytes += serde_json::to_string(&details)?.len();
        let observation = Observation {
            ip: ip.into(),
            port,
            transport: Transport::Tcp,
            hostname: (service % 5 == 0).then(|| format!("host-{service}.example")),
            protocol: Some(if port == 8042 { "http" } else { "dicom" }.into()),
            probe: "shodan".into(),
            source: Source::Shodan,
            seen_at: seen,
            details,
        };
        let verdict = Classification {
            signature: "orthanc-explorer".into(),
            category: Category::Imaging,
            vendor: "Osimis".into(),
            product: "Orthanc".into(),
            version: Some(format!("1.{}.{}", i % 12, i % 7)),
            confidence: Confidence::High,
            evidence: vec![Evidence {
                field: "http.title".into(),
                rule: "equals Orthanc Explorer".into(),
            }],
        };
        rows.push(ImportRow::new(&observation, Some(&verdict))?);
    }
    Ok((rows, detail_bytes))
}

/// About 900 bytes of JSON, keyed like a Shodan banner.
fn details(i: usize, ip: Ipv4Addr, port: u16) -> Details {
    let mut d = Details::new();
    let mut put = |k: &str, v: serde_json::Value| {
        d.insert(k.into(), v);
    };
    put(
        "banner.text",
        serde_json::json!(format!(
            "HTTP/1.1 200 OK\r\nServer: Orthanc/1.{}.{}\r\nContent-Type: text/html\r\n\
             Content-Length: {}\r\nConnection: keep-alive\r\nX-Frame-Options: SAMEORIGIN\r\n\
             Cache-Control: no-cache\r\nDate: Sat, 28 Nov 2026 10:{:02}:{:02} GMT\r\n\r\n",
            i % 12,
            i % 7,
            1000 + i % 9000,
            i % 60,
            (i / 60) % 60
        )),
    );
    put("http.title", serde_json::json!("Orthanc Explorer"));
    put("http.server", serde_json::json!("Orthanc"));
    put("http.status", serde_json::json!(200));
    put(
        "http.html_hash",
        serde_json::json!(-1_234_567_i64 + i as i64 % 1000),
    );
    put(
        "shodan.module",
        serde_json::json!(if port == 104 { "dicom" } else { "http" }),
    );
    put(
        "shodan.crawler",
        serde_json::json!(format!("{:040x}", i as u128 * 0x9e37_79b9_7f4a_7c15)),
    );
    put(
        "shodan.id",
        serde_json::json!(format!("{:08x}-{:04x}-4000-8000-{:012x}", i, port, i * 31)),
    );
    put(
        "location",
        serde_json::json!({"country_code": "ZZ", "city": "Testville", "latitude": 0.5,
                           "longitude": 1.5}),
    );
    put(
        "org",
        serde_json::json!(format!("Example Network {}", i % 97)),
    );
    put("isp", serde_json::json!(format!("Example ISP {}", i % 13)));
    put(
        "asn",
        serde_json::json!(format!("AS{}", 64_512 + i % 1_000)),
    );
    put(
        "hostnames",
        serde_json::json!([format!("{ip}.example"), "pacs.example"]),
    );
    put("os", serde_json::Value::Null);
    put(
        "cpe23",
        serde_json::json!(["cpe:2.3:a:osimis:orthanc", "cpe:2.3:o:linux:linux_kernel"]),
    );
    put(
        "vulns",
        serde_json::json!(["CVE-2023-33466", "CVE-2025-0896"]),
    );
    put(
        "dicom.implementation_class_uid",
        serde_json::json!("1.2.826.0.1.3680043.2.1143"),
    );
    put(
        "dicom.implementation_version",
        serde_json::json!("OFFIS_DCMTK_362"),
    );
    d
}
