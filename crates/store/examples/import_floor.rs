//! The floor of a Shodan import on this machine: the least work any importer that keeps this
//! store must do, measured on the same corpus as `bench/import.sh`.
//!
//! Every line is parsed by serde_json in full (as jq parses it: a line that is not JSON would
//! be an error), into a borrowed struct that keeps only the address and the port; nothing is
//! mapped, classified or enriched. Each line then becomes a pre-built row of the real import's
//! average size (details JSON of about 640 bytes, a verdict of about 220) for its own address
//! and port, and the rows are written by `SqliteStore::record_import_rows` in batches of
//! 20,000, exactly as `medsurface ingest` writes them (same schema, same WAL checkpointer).
//!
//! Two parser threads (this machine has two cores) parse while this thread writes, the shape of
//! the real import. A reader thread hands out chunks of about 1 MiB of whole lines.
//!
//! Prints one JSON line: lines, bytes, wall seconds, MB/s, and this thread's (the writer's) CPU
//! seconds. Run with
//! `cargo run --release -p medsurface-store --example import_floor -- CORPUS STORE`
//! (STORE must not exist yet).

use std::io::Read;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use medsurface_model::classify::{Category, Classification, Confidence, Evidence};
use medsurface_model::{Details, Observation, Source, Timestamp, Transport};
use medsurface_store::{ImportRow, SqliteStore, Store};

const BATCH: usize = 20_000;
const CHUNK: usize = 1 << 20;
const PARSERS: usize = 2;

/// What the floor reads of a banner: its address (`ip_str`, or `ipv6`) and port. Every other field is still parsed
/// (skipped as `IgnoredAny`), so the whole line is checked to be JSON.
#[derive(serde::Deserialize)]
struct Line<'a> {
    #[serde(borrow, default)]
    ip_str: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    ipv6: Option<std::borrow::Cow<'a, str>>,
    port: u16,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [corpus, store_path] = args.as_slice() else {
        return Err("usage: import_floor CORPUS STORE".into());
    };
    if std::path::Path::new(store_path).exists() {
        return Err(format!("{store_path} exists already").into());
    }
    let started = Instant::now();
    let cpu_at_start = cpu_time();
    let mut store = SqliteStore::open(std::path::Path::new(store_path))?;
    let template = Template::new()?;

    let (chunk_tx, chunk_rx) = sync_channel::<Vec<u8>>(2 * PARSERS);
    let chunk_rx = Arc::new(Mutex::new(chunk_rx));
    // Room for more than a batch of parsed rows, so the parsers go on while a batch is
    // written (the import's delivery thread and its second batch do the same).
    let (rows_tx, rows_rx) = sync_channel::<Vec<ImportRow>>(2 * BATCH / 250);
    let mut file = std::fs::File::open(corpus)?;
    let (bytes, lines) = std::thread::scope(|s| -> Result<(u64, u64), String> {
        let reader = s.spawn(move || -> std::io::Result<u64> {
            let mut total = 0u64;
            let mut carry = Vec::new();
            loop {
                let mut buf = std::mem::take(&mut carry);
                let start = buf.len();
                buf.resize(start + CHUNK, 0);
                let n = file.read(&mut buf[start..])?;
                buf.truncate(start + n);
                total += n as u64;
                if n == 0 {
                    if !buf.is_empty() {
                        let _ = chunk_tx.send(buf);
                    }
                    return Ok(total);
                }
                if let Some(last) = memchr_last(&buf) {
                    carry = buf[last + 1..].to_vec();
                    buf.truncate(last + 1);
                    if chunk_tx.send(buf).is_err() {
                        return Ok(total);
                    }
                } else {
                    carry = buf;
                }
            }
        });
        let mut parsers = Vec::new();
        for _ in 0..PARSERS {
            let chunk_rx = Arc::clone(&chunk_rx);
            let rows_tx = rows_tx.clone();
            let template = &template;
            parsers.push(s.spawn(move || parse(&chunk_rx, &rows_tx, template)));
        }
        // The parsers hold the only receivers now: if they end early, the reader sees it.
        drop(chunk_rx);
        drop(rows_tx);
        let mut pending: Vec<ImportRow> = Vec::with_capacity(BATCH);
        let mut lines = 0u64;
        let mut failure = None;
        for rows in rows_rx {
            lines += rows.len() as u64;
            pending.extend(rows);
            if pending.len() >= BATCH {
                if let Err(e) = store.record_import_rows(&pending) {
                    failure = Some(e.to_string());
                    break;
                }
                pending.clear();
            }
        }
        if failure.is_none() && !pending.is_empty() {
            if let Err(e) = store.record_import_rows(&pending) {
                failure = Some(e.to_string());
            }
        }
        for p in parsers {
            p.join().map_err(|_| "a parser panicked")??;
        }
        let bytes = reader
            .join()
            .map_err(|_| "the reader panicked")?
            .map_err(|e| e.to_string())?;
        match failure {
            Some(e) => Err(e),
            None => Ok((bytes, lines)),
        }
    })?;
    // Closing the last connection checkpoints what is left of the WAL, as the import's does.
    drop(store);
    let wall = started.elapsed().as_secs_f64();
    let writer_cpu = cpu_at_start
        .zip(cpu_time())
        .and_then(|(a, b)| b.checked_sub(a))
        .map(|d| d.as_secs_f64());
    println!(
        "{}",
        serde_json::json!({
            "lines": lines,
            "bytes": bytes,
            "wall_s": wall,
            "mb_per_s": bytes as f64 / wall / 1e6,
            "writer_cpu_s": writer_cpu,
        })
    );
    Ok(())
}

/// A parser thread: parses every line of each chunk and sends the chunk's rows on.
fn parse(
    chunks: &Mutex<Receiver<Vec<u8>>>,
    rows_tx: &std::sync::mpsc::SyncSender<Vec<ImportRow>>,
    template: &Template,
) -> Result<(), String> {
    loop {
        let chunk = {
            let rx = chunks.lock().map_err(|_| "poisoned")?;
            match rx.recv() {
                Ok(c) => c,
                Err(_) => return Ok(()),
            }
        };
        let mut rows = Vec::with_capacity(512);
        for (i, line) in chunk.split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let l: Line<'_> = serde_json::from_slice(line).map_err(|e| format!("line {i}: {e}"))?;
            let Some(ip) = l.ip_str.or(l.ipv6) else {
                return Err(format!("line {i}: no address"));
            };
            let ip = ip.parse().map_err(|e| format!("line {i}: {e}"))?;
            rows.push(template.row(ip, l.port).map_err(|e| e.to_string())?);
        }
        if rows_tx.send(rows).is_err() {
            return Ok(());
        }
    }
}

fn memchr_last(buf: &[u8]) -> Option<usize> {
    buf.iter().rposition(|b| *b == b'\n')
}

/// The row every line becomes, but for its address and port.
struct Template {
    observation: Observation,
    verdict: Classification,
}

impl Template {
    fn new() -> Result<Template, Box<dyn std::error::Error>> {
        let mut details = Details::new();
        let mut put = |k: &str, v: serde_json::Value| {
            details.insert(k.into(), v);
        };
        put("banner.bytes", serde_json::json!(181));
        put(
            "banner.text",
            serde_json::json!(
                "HTTP/1.1 200 OK\\r\\nServer: Apache/2.4.41 (Ubuntu)\\r\\nContent-Type: \
                 text/html\\r\\nContent-Length: 1422\\r\\nConnection: close\\r\\n\\r\\n"
            ),
        );
        put("geo.city", serde_json::json!("Manchester"));
        put("geo.country", serde_json::json!("GB"));
        put("http.server", serde_json::json!("Apache/2.4.41 (Ubuntu)"));
        put("http.status", serde_json::json!(200));
        put("http.title", serde_json::json!("Patient Portal - Sign in"));
        put("http.favicon_hash", serde_json::json!(-1_234_567_890_i64));
        put("net.asn", serde_json::json!("AS64509"));
        put(
            "net.hostnames",
            serde_json::json!(["www42.fabrikam-clinica-medica.example"]),
        );
        put("net.isp", serde_json::json!("Example Fibra"));
        put("net.org", serde_json::json!("Fabrikam Clinica Medica"));
        put("net.org_type", serde_json::json!("hospital"));
        put("shodan.module", serde_json::json!("http"));
        put("shodan.product", serde_json::json!("Apache httpd"));
        let observation = Observation {
            ip: std::net::Ipv4Addr::UNSPECIFIED.into(),
            port: 0,
            transport: Transport::Tcp,
            hostname: None,
            protocol: Some("http".into()),
            probe: "shodan".into(),
            source: Source::Shodan,
            seen_at: Timestamp::from_second(1_740_823_200)?,
            details,
        };
        let verdict = Classification {
            signature: "generic-patient-portal".into(),
            category: Category::Scheduling,
            vendor: "unknown".into(),
            product: "patient portal".into(),
            version: None,
            confidence: Confidence::Low,
            evidence: vec![Evidence {
                field: "http.title".into(),
                rule: "matches (?i)patient portal|appointment|scheduling".into(),
            }],
        };
        Ok(Template {
            observation,
            verdict,
        })
    }

    fn row(
        &self,
        ip: std::net::IpAddr,
        port: u16,
    ) -> Result<ImportRow, medsurface_store::StoreError> {
        let mut observation = self.observation.clone();
        observation.ip = ip;
        observation.port = port;
        ImportRow::new(&observation, Some(&self.verdict))
    }
}

/// This thread's time on a CPU so far (the first field of its schedstat, in nanoseconds).
fn cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}
