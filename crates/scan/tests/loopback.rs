//! End-to-end tests of the engine against real listeners on 127.0.0.0/8.
//!
//! Linux routes the whole of 127.0.0.0/8 to the loopback interface, so each test binds its
//! listeners on its own 127.T.R.0/24 (T fixed per test, R random per run) and scans a range
//! around them: exactly the listeners must be open and everything else closed. No test sleeps
//! to synchronise; the hostile servers sleep only to be slow on purpose, and every scan runs
//! under a generous deadline so that a stall fails the test instead of hanging it.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use medsurface_model::{text::printable, Checkpoint, Outcome, ProbeResult, Shard};
use medsurface_scan::{
    parse_targets, run_scan, Ports, ProbeContext, ProbeSpace, RateLimit, ScanChannels, ScanConfig,
    ScanEnd, ScanSummary, ShardPlan, StopSignal,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// A run-random third octet, so concurrent runs of this suite do not meet.
fn random_octet() -> u8 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    (h.finish() % 250) as u8
}

/// `127.t.r.0` for this test.
fn subnet(t: u8) -> [u8; 3] {
    [127, t, random_octet()]
}

fn ip(net: [u8; 3], last: u8) -> Ipv4Addr {
    Ipv4Addr::new(net[0], net[1], net[2], last)
}

/// What a test listener does with each connection.
#[derive(Clone, Copy)]
enum Peer {
    /// Writes this and keeps the connection open.
    Banner(&'static [u8]),
    /// Says nothing, keeps the connection open.
    Silent,
    /// Writes 10 MB as fast as the client takes it.
    Flood,
    /// Writes one byte every 20 ms, forever.
    Dribble,
}

async fn listen(addr: Ipv4Addr, port: u16, peer: Peer) -> u16 {
    let listener = TcpListener::bind((addr, port))
        .await
        .expect("bind test listener");
    let port = listener.local_addr().expect("local addr").port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(talk(stream, peer));
        }
    });
    port
}

async fn talk(mut stream: TcpStream, peer: Peer) {
    match peer {
        Peer::Banner(bytes) => {
            let _ = stream.write_all(bytes).await;
        }
        Peer::Silent => {}
        Peer::Flood => {
            let chunk = vec![b'A'; 64 * 1024];
            for _ in 0..160 {
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        }
        Peer::Dribble => loop {
            if stream.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        },
    }
    // Hold the connection until the scanner resets it.
    let mut sink = [0u8; 64];
    while let Ok(n) = stream.read(&mut sink).await {
        if n == 0 {
            break;
        }
    }
}

/// A port the kernel handed out for `addr`: nobody listens on it on any other address of the
/// test's subnet, and no wildcard listener can hold it. The guard keeps it reserved.
fn closed_port(addr: Ipv4Addr) -> (std::net::TcpListener, u16) {
    let guard = std::net::TcpListener::bind((addr, 0)).expect("bind port guard");
    let port = guard.local_addr().expect("local addr").port();
    (guard, port)
}

fn space(targets: &[String], ports: &[u16]) -> Arc<ProbeSpace> {
    let targets = parse_targets(targets).expect("targets");
    let ports = Ports::new(ports.iter().copied()).expect("ports");
    Arc::new(ProbeSpace::new(targets, ports).expect("space"))
}

fn fast_config() -> ScanConfig {
    ScanConfig {
        rate: RateLimit::Unlimited,
        concurrency: 32,
        connect_timeout: Duration::from_secs(2),
        retries: 0,
        probe: ProbeContext {
            read_timeout: Duration::from_millis(400),
            probe_timeout: Duration::from_secs(5),
            ..ProbeContext::default()
        },
        seed: 0x5eed,
        shard: Shard::WHOLE,
    }
}

/// Runs a scan to the end and returns its summary and every result, in arrival order.
async fn scan(
    space: Arc<ProbeSpace>,
    config: ScanConfig,
    skip: Checkpoint,
) -> (ScanSummary, Vec<ProbeResult>) {
    let (tx, mut rx) = mpsc::channel(256);
    let run = tokio::spawn(run_scan(
        space,
        config,
        skip,
        ScanChannels {
            results: tx,
            stop: StopSignal::new(),
        },
    ));
    let collect = async {
        let mut results = Vec::new();
        while let Some(r) = rx.recv().await {
            results.push(r);
        }
        results
    };
    let results = tokio::time::timeout(Duration::from_secs(60), collect)
        .await
        .expect("the scan stalled");
    let summary = run.await.expect("scan task").expect("scan");
    (summary, results)
}

fn assert_one_result_per_seq(results: &[ProbeResult], expected: impl Iterator<Item = u128>) {
    let seqs: BTreeSet<u128> = results.iter().map(|r| r.seq).collect();
    assert_eq!(seqs.len(), results.len(), "a seq was reported twice");
    assert_eq!(seqs, expected.collect::<BTreeSet<u128>>());
}

fn by_addr(results: &[ProbeResult]) -> BTreeMap<SocketAddr, &ProbeResult> {
    results
        .iter()
        .map(|r| (SocketAddr::new(r.ip, r.port), r))
        .collect()
}

fn detail<'a>(r: &'a ProbeResult, key: &str) -> Option<&'a serde_json::Value> {
    r.observation.as_ref()?.details.get(key)
}

const HOSTILE_BANNER: &[u8] = b"220 PACS ready\x1b[2J\x1b]0;owned\x07\r\n\xff";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_are_open_everything_else_closed_and_banners_are_escaped() {
    let net = subnet(71);
    let talker = listen(ip(net, 3), 0, Peer::Banner(HOSTILE_BANNER)).await;
    let silent = listen(ip(net, 9), talker, Peer::Silent).await;
    assert_eq!(silent, talker);
    let (_guard, other) = closed_port(ip(net, 200));
    let other_open = listen(ip(net, 14), other, Peer::Banner(b"SSH-2.0-test\r\n")).await;
    assert_eq!(other_open, other);

    let target = format!("{}/28", ip(net, 0));
    let space = space(&[target], &[talker, other]);
    let (summary, results) = scan(Arc::clone(&space), fast_config(), Checkpoint::default()).await;

    assert_eq!(results.len(), 32);
    assert_one_result_per_seq(&results, 0..32);
    let found = by_addr(&results);
    let open: BTreeSet<SocketAddr> = results
        .iter()
        .filter(|r| r.outcome == Outcome::Open)
        .map(|r| SocketAddr::new(r.ip, r.port))
        .collect();
    let expected: BTreeSet<SocketAddr> = [
        SocketAddr::new(ip(net, 3).into(), talker),
        SocketAddr::new(ip(net, 9).into(), talker),
        SocketAddr::new(ip(net, 14).into(), other),
    ]
    .into();
    assert_eq!(open, expected);
    for r in &results {
        if r.outcome != Outcome::Open {
            assert_eq!(r.outcome, Outcome::Closed, "{r:?}");
            assert!(r.observation.is_none());
        }
        assert_eq!(r.attempts, 1);
        assert!(r.rtt_us.is_some(), "answered probes have a round-trip time");
    }

    let talker_result = found[&SocketAddr::new(ip(net, 3).into(), talker)];
    let text = detail(talker_result, "banner.text")
        .and_then(|v| v.as_str())
        .unwrap();
    assert_eq!(text, printable(HOSTILE_BANNER, 1024));
    assert!(
        text.contains("\\x1b[2J") && !text.chars().any(char::is_control),
        "{text}"
    );
    assert_eq!(
        detail(talker_result, "banner.bytes"),
        Some(&HOSTILE_BANNER.len().into())
    );
    let obs = talker_result.observation.as_ref().unwrap();
    assert_eq!(
        (obs.probe.as_str(), obs.source),
        ("banner", medsurface_model::Source::Scan)
    );

    let silent_result = found[&SocketAddr::new(ip(net, 9).into(), talker)];
    assert_eq!(detail(silent_result, "banner.silent"), Some(&true.into()));
    assert_eq!(detail(silent_result, "banner.text"), None);

    assert_eq!(summary.end, ScanEnd::Completed);
    assert_eq!((summary.counts.open, summary.counts.closed), (3, 29));
    assert_eq!(summary.counts.total(), 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peers_cannot_overflow_the_cap_or_stall_the_scan() {
    let net = subnet(72);
    let flood = listen(ip(net, 1), 0, Peer::Flood).await;
    listen(ip(net, 2), flood, Peer::Dribble).await;
    listen(ip(net, 3), flood, Peer::Silent).await;
    let mut config = fast_config();
    config.probe.read_timeout = Duration::from_millis(600);
    let space = space(&[format!("{}/27", ip(net, 0))], &[flood]);
    let started = std::time::Instant::now();
    let (summary, results) = scan(space, config, Checkpoint::default()).await;
    assert_eq!(summary.end, ScanEnd::Completed);
    assert_eq!(summary.counts.open, 3);
    let found = by_addr(&results);

    let flooded = found[&SocketAddr::new(ip(net, 1).into(), flood)];
    assert_eq!(detail(flooded, "banner.bytes"), Some(&1024.into()));
    let text = detail(flooded, "banner.text")
        .and_then(|v| v.as_str())
        .unwrap();
    assert_eq!(text.len(), 1024);

    let dribbled = found[&SocketAddr::new(ip(net, 2).into(), flood)];
    let bytes = detail(dribbled, "banner.bytes")
        .and_then(|v| v.as_u64())
        .unwrap();
    assert!((1..100).contains(&bytes), "dribbled {bytes} bytes");
    // The banner probe's own deadline ended it, not the engine's safety net.
    assert_eq!(detail(dribbled, "probe.error"), None);
    // Three slow peers in parallel: about one read timeout, far below three.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_past_its_hard_deadline_is_cut_off_with_a_result() {
    let net = subnet(73);
    let port = listen(ip(net, 5), 0, Peer::Silent).await;
    let mut config = fast_config();
    config.probe.read_timeout = Duration::from_secs(30);
    config.probe.probe_timeout = Duration::from_millis(300);
    let space = space(&[ip(net, 5).to_string()], &[port]);
    let (summary, results) = scan(space, config, Checkpoint::default()).await;
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].outcome, Outcome::Open);
    assert_eq!(detail(&results[0], "probe.error"), Some(&"timeout".into()));
    assert!(
        summary.elapsed < Duration::from_secs(10),
        "{:?}",
        summary.elapsed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_keeps_going_while_slow_probes_hold_every_slot() {
    let net = subnet(74);
    let port = listen(ip(net, 1), 0, Peer::Silent).await;
    for last in 2..=4 {
        listen(ip(net, last), port, Peer::Silent).await;
    }
    let (_guard, closed) = closed_port(ip(net, 250));
    let mut config = fast_config();
    config.concurrency = 8; // four workers, and four probe slots all held by silent peers
    config.probe.read_timeout = Duration::from_millis(1500);
    let space = space(&[format!("{}/25", ip(net, 0))], &[port, closed]);
    let (summary, results) = scan(space, config, Checkpoint::default()).await;
    assert_eq!(summary.counts.open, 4);
    assert_eq!(results.len(), 256);
    // Every closed port was reported before the first silent peer's probe finished.
    let first_open = results
        .iter()
        .position(|r| r.outcome == Outcome::Open)
        .unwrap();
    assert_eq!(first_open, 252, "closed ports waited for slow probes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpointed_seqs_are_neither_probed_nor_reported() {
    let net = subnet(75);
    // Plain std listeners nobody accepts on: a connection would sit in their backlog.
    let skipped = std::net::TcpListener::bind((ip(net, 6), 0)).unwrap();
    let port = skipped.local_addr().unwrap().port();
    let probed = std::net::TcpListener::bind((ip(net, 7), port)).unwrap();
    skipped.set_nonblocking(true).unwrap();
    probed.set_nonblocking(true).unwrap();

    let config = ScanConfig {
        probe: ProbeContext {
            read_timeout: Duration::from_millis(50),
            ..fast_config().probe
        },
        ..fast_config()
    };
    let space = space(&[format!("{}/28", ip(net, 0))], &[port]);
    let plan = ShardPlan::new(space.len(), config.shard, config.seed).unwrap();
    let seq_of = |last: u8| {
        (0..plan.shard_len())
            .find(|&s| {
                space.get(plan.position(s).unwrap()).unwrap().0 == IpAddr::from(ip(net, last))
            })
            .unwrap()
    };
    let mut skip = Checkpoint::default();
    skip.mark_done(0);
    skip.mark_done(1);
    skip.mark_done(seq_of(6));
    skip.mark_done(11);
    let expected: Vec<u128> = (0..16).filter(|s| !skip.is_done(*s)).collect();
    assert!(
        !skip.is_done(seq_of(7)),
        "the probed listener must not be skipped"
    );

    let (summary, results) = scan(Arc::clone(&space), config, skip.clone()).await;
    assert_one_result_per_seq(&results, expected.iter().copied());
    assert_eq!(summary.skipped, 16 - expected.len() as u64);
    assert_eq!(summary.end, ScanEnd::Completed);
    assert!(results.iter().all(|r| r.ip != IpAddr::from(ip(net, 6))));
    let open: Vec<&ProbeResult> = results
        .iter()
        .filter(|r| r.outcome == Outcome::Open)
        .collect();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].ip, IpAddr::from(ip(net, 7)));
    // The kernel queued the probed connection (reset or not); the skipped listener saw none.
    assert!(
        probed.accept().is_ok(),
        "control: the probed listener has a connection"
    );
    let err = skipped.accept().unwrap_err();
    assert_eq!(
        err.kind(),
        std::io::ErrorKind::WouldBlock,
        "skipped listener was probed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_signal_ends_the_scan_and_in_flight_results_still_arrive() {
    let net = subnet(76);
    let (_guard, closed) = closed_port(ip(net, 1));
    // 65536 probes at 2000/s would take half a minute.
    let space = space(&[format!("127.{}.0.0/16", net[1])], &[closed]);
    let config = ScanConfig {
        rate: RateLimit::PerSecond(NonZeroU32::new(2000).unwrap()),
        concurrency: 64,
        ..fast_config()
    };
    let (tx, mut rx) = mpsc::channel(16);
    let stop = StopSignal::new();
    let run = tokio::spawn(run_scan(
        space,
        config,
        Checkpoint::default(),
        ScanChannels {
            results: tx,
            stop: stop.clone(),
        },
    ));
    let mut results = Vec::new();
    let drain = async {
        while let Some(r) = rx.recv().await {
            results.push(r);
            if results.len() == 20 {
                stop.stop();
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), drain)
        .await
        .expect("stop was not honoured");
    let summary = run.await.unwrap().unwrap();
    assert_eq!(summary.end, ScanEnd::Stopped);
    assert!(
        results.len() >= 20 && results.len() < 1000,
        "{} results",
        results.len()
    );
    assert_eq!(summary.counts.total(), results.len() as u64);
    let seqs: BTreeSet<u128> = results.iter().map(|r| r.seq).collect();
    assert_eq!(seqs.len(), results.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_output_channel_ends_the_scan() {
    let net = subnet(77);
    let (_guard, closed) = closed_port(ip(net, 1));
    let space = space(&[format!("127.{}.0.0/16", net[1])], &[closed]);
    let config = ScanConfig {
        rate: RateLimit::PerSecond(NonZeroU32::new(2000).unwrap()),
        ..fast_config()
    };
    let (tx, mut rx) = mpsc::channel(4);
    let run = tokio::spawn(run_scan(
        space,
        config,
        Checkpoint::default(),
        ScanChannels {
            results: tx,
            stop: StopSignal::new(),
        },
    ));
    for _ in 0..5 {
        assert!(rx.recv().await.is_some());
    }
    drop(rx);
    let summary = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("a closed channel was not noticed")
        .unwrap()
        .unwrap();
    assert_eq!(summary.end, ScanEnd::OutputClosed);
    assert!(summary.counts.total() < 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_probe_the_space_exactly_once_between_them() {
    let net = subnet(78);
    let port = listen(ip(net, 20), 0, Peer::Banner(b"hello\n")).await;
    let (_guard, closed) = closed_port(ip(net, 250));
    let space = space(&[format!("{}/27", ip(net, 0))], &[port, closed]);
    let mut seen: BTreeMap<SocketAddr, usize> = BTreeMap::new();
    let mut opens = 0;
    for index in 0..3 {
        let config = ScanConfig {
            shard: Shard { index, count: 3 },
            ..fast_config()
        };
        let (summary, results) = scan(Arc::clone(&space), config, Checkpoint::default()).await;
        assert_eq!(summary.end, ScanEnd::Completed);
        assert_eq!(summary.counts.total() as u128, summary.shard_len);
        assert_one_result_per_seq(&results, 0..summary.shard_len);
        opens += summary.counts.open;
        for r in results {
            *seen.entry(SocketAddr::new(r.ip, r.port)).or_default() += 1;
        }
    }
    assert_eq!(seen.len(), 64);
    assert!(seen.values().all(|&n| n == 1));
    assert_eq!(opens, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_names_travel_with_their_results() {
    let port = listen(Ipv4Addr::LOCALHOST, 0, Peer::Banner(b"hi\n")).await;
    let space = space(&["localhost".to_string()], &[port]);
    let (summary, results) = scan(space, fast_config(), Checkpoint::default()).await;
    assert_eq!(summary.end, ScanEnd::Completed);
    let v4 = results
        .iter()
        .find(|r| r.ip == IpAddr::from(Ipv4Addr::LOCALHOST))
        .expect("localhost resolves to 127.0.0.1");
    assert_eq!(v4.outcome, Outcome::Open);
    assert_eq!(v4.hostname.as_deref(), Some("localhost"));
    let obs = v4.observation.as_ref().unwrap();
    assert_eq!(obs.hostname.as_deref(), Some("localhost"));
    assert!(results
        .iter()
        .all(|r| r.hostname.as_deref() == Some("localhost")));
}

// ---------------------------------------------------------------------------------------------
// Probes that pause between connections (the DICOM probe's follow-up associations) lend their
// probe slot back while they wait, and still keep their politeness gap per server.

/// What a [`DicomAcceptor`] saw, in the order it saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// An A-ASSOCIATE-RQ arrived at server `server`.
    Request { server: usize },
    /// Server `server` sent its A-RELEASE-RP for an association.
    Released { server: usize },
    /// The probe closed an association's connection after the release.
    Closed { server: usize },
}

/// A DICOM acceptor for the pause tests: it accepts every association without a presentation
/// context (so the probe goes straight to the release) and logs, with the time, every request
/// and every release it answers. Its first answer is delayed by `first_answer_delay` (a server
/// that is slow to start an association).
#[derive(Clone, Default)]
struct DicomLog {
    seen: Arc<std::sync::Mutex<Vec<(Seen, tokio::time::Instant)>>>,
    /// Woken at every event.
    changed: Arc<tokio::sync::Notify>,
}

impl DicomLog {
    fn push(&self, seen: Seen) {
        let at = tokio::time::Instant::now();
        self.seen.lock().unwrap().push((seen, at));
        self.changed.notify_waiters();
    }

    fn events(&self) -> Vec<(Seen, tokio::time::Instant)> {
        self.seen.lock().unwrap().clone()
    }

    fn order(&self) -> Vec<Seen> {
        self.events().into_iter().map(|(s, _)| s).collect()
    }
}

fn associate_ac() -> Vec<u8> {
    let mut body = vec![0, 1, 0, 0];
    body.extend(*b"ANY-SCP         MEDSURFACE      ");
    body.extend([0u8; 32]);
    let context = b"1.2.840.10008.3.1.1.1";
    body.extend([0x10, 0]);
    body.extend((context.len() as u16).to_be_bytes());
    body.extend(context);
    let mut pdu = vec![0x02, 0];
    pdu.extend((body.len() as u32).to_be_bytes());
    pdu.extend(body);
    pdu
}

/// Reads one whole PDU; `None` at EOF, on an error, or past 64 KiB.
async fn read_pdu(stream: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut header = [0u8; 6];
    stream.read_exact(&mut header).await.ok()?;
    let len = u32::from_be_bytes([header[2], header[3], header[4], header[5]]) as usize;
    if len > 64 * 1024 {
        return None;
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await.ok()?;
    Some((header[0], body))
}

async fn dicom_acceptor(
    addr: Ipv4Addr,
    port: u16,
    server: usize,
    log: DicomLog,
    first_answer_delay: Duration,
) -> u16 {
    let listener = TcpListener::bind((addr, port))
        .await
        .expect("bind test acceptor");
    let port = listener.local_addr().expect("local addr").port();
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((mut stream, _)) = listener.accept().await {
            let delay = if first {
                first_answer_delay
            } else {
                Duration::ZERO
            };
            first = false;
            let log = log.clone();
            tokio::spawn(async move {
                let Some((0x01, _)) = read_pdu(&mut stream).await else {
                    return;
                };
                log.push(Seen::Request { server });
                tokio::time::sleep(delay).await; // slow on purpose
                if stream.write_all(&associate_ac()).await.is_err() {
                    return;
                }
                let Some((0x05, _)) = read_pdu(&mut stream).await else {
                    return;
                };
                log.push(Seen::Released { server });
                let _ = stream.write_all(&[0x06, 0, 0, 0, 0, 4, 0, 0, 0, 0]).await;
                let _ = read_pdu(&mut stream).await; // until the probe closes
                log.push(Seen::Closed { server });
            });
        }
    });
    port
}

/// A scan that sends every DICOM-speaking port of `config` to the DICOM probe.
fn dicom_config(port: u16, concurrency: usize, gap: Duration) -> ScanConfig {
    let mut config = fast_config();
    config.concurrency = concurrency;
    config.probe.read_timeout = Duration::from_secs(2);
    config.probe.probe_timeout = Duration::from_secs(20);
    config.probe.overrides.insert(port, "dicom");
    config.probe.dicom.follow_up_gap = gap;
    config
}

/// For each server, every gap between one association's release and the next request.
fn gaps_per_server(log: &DicomLog) -> BTreeMap<usize, Vec<Duration>> {
    let mut released: BTreeMap<usize, tokio::time::Instant> = BTreeMap::new();
    let mut gaps: BTreeMap<usize, Vec<Duration>> = BTreeMap::new();
    for (seen, at) in log.events() {
        match seen {
            Seen::Released { server } => {
                released.insert(server, at);
            }
            Seen::Request { server } => {
                if let Some(before) = released.remove(&server) {
                    gaps.entry(server).or_default().push(at - before);
                }
            }
            Seen::Closed { .. } => {}
        }
    }
    gaps
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_in_its_follow_up_gap_lends_its_slot_to_the_next_server() {
    let net = subnet(81);
    let log = DicomLog::default();
    let gap = Duration::from_millis(300);
    let port = dicom_acceptor(ip(net, 1), 0, 1, log.clone(), Duration::ZERO).await;
    dicom_acceptor(ip(net, 2), port, 2, log.clone(), Duration::ZERO).await;
    // Concurrency 2: one worker and ONE probe slot.
    let config = dicom_config(port, 2, gap);
    let space = space(&[ip(net, 1).to_string(), ip(net, 2).to_string()], &[port]);
    let (summary, results) = scan(space, config, Checkpoint::default()).await;
    assert_eq!(summary.counts.open, 2);
    for r in &results {
        assert_eq!(detail(r, "dicom.association"), Some(&"accepted".into()));
        assert_eq!(
            detail(r, "dicom.accepts_any_ae"),
            Some(&true.into()),
            "{r:?}"
        );
        assert_eq!(
            detail(r, "dicom.accepts_any_calling_ae"),
            Some(&true.into())
        );
        assert_eq!(detail(r, "probe.error"), None);
    }
    let requests: Vec<usize> = log
        .order()
        .into_iter()
        .filter_map(|s| match s {
            Seen::Request { server } => Some(server),
            Seen::Released { .. } | Seen::Closed { .. } => None,
        })
        .collect();
    assert_eq!(requests.len(), 6, "{requests:?}");
    // The first server probed sleeps in its gap after its main association; the other server's
    // main association comes before that server's second one.
    let first = requests[0];
    let other_first = requests.iter().position(|&s| s != first).unwrap();
    let first_second = requests.iter().skip(1).position(|&s| s == first).unwrap() + 1;
    assert!(
        other_first < first_second,
        "the second server waited for the first one's whole probe: {requests:?}"
    );
    // Each server still gets its politeness gap between two associations (a lower bound,
    // measured at the server from its release answer to the next request).
    let gaps = gaps_per_server(&log);
    assert_eq!(gaps.values().map(Vec::len).sum::<usize>(), 4, "{gaps:?}");
    for (server, gaps) in gaps {
        for g in gaps {
            assert!(g >= gap, "server {server}: only {g:?} between associations");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_queued_for_a_slot_is_not_a_probe_timeout() {
    // Four servers that take 500 ms to accept their first association, one probe slot, and a
    // probe budget of 2 s: each probe's follow-ups queue behind the others' slow main
    // associations, so each probe lasts well over 2 s, but works for much less.
    let net = subnet(82);
    let log = DicomLog::default();
    let slow = Duration::from_millis(500);
    let port = dicom_acceptor(ip(net, 1), 0, 1, log.clone(), slow).await;
    for server in 2..=4 {
        dicom_acceptor(ip(net, server as u8), port, server, log.clone(), slow).await;
    }
    let mut config = dicom_config(port, 2, Duration::from_millis(50));
    config.probe.read_timeout = Duration::from_secs(1);
    config.probe.probe_timeout = Duration::from_secs(2);
    let space = space(
        &[format!("{}/30", ip(net, 0)), ip(net, 4).to_string()],
        &[port],
    );
    let (summary, results) = scan(space, config, Checkpoint::default()).await;
    assert_eq!(summary.counts.open, 4, "{results:?}");
    for r in &results {
        if r.outcome != Outcome::Open {
            continue;
        }
        assert_eq!(detail(r, "probe.error"), None, "{r:?}");
        assert_eq!(
            detail(r, "dicom.accepts_any_ae"),
            Some(&true.into()),
            "{r:?}"
        );
        assert_eq!(
            detail(r, "dicom.accepts_any_calling_ae"),
            Some(&true.into()),
            "{r:?}"
        );
    }
    // The scan as a whole took longer than one probe's budget: the queueing did happen.
    assert!(summary.elapsed > Duration::from_secs(2), "{summary:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_ends_a_probe_paused_between_associations() {
    let net = subnet(83);
    let log = DicomLog::default();
    let port = dicom_acceptor(ip(net, 1), 0, 1, log.clone(), Duration::ZERO).await;
    // A gap of an hour, and a budget longer still: only the stop can end this probe soon.
    let mut config = dicom_config(port, 8, Duration::from_secs(3600));
    config.probe.probe_timeout = Duration::from_secs(7200);
    let space = space(&[ip(net, 1).to_string()], &[port]);
    let (tx, mut rx) = mpsc::channel(16);
    let stop = StopSignal::new();
    let run = tokio::spawn(run_scan(
        space,
        config,
        Checkpoint::default(),
        ScanChannels {
            results: tx,
            stop: stop.clone(),
        },
    ));
    // Stop once the probe has closed the main association's connection: it is then in its gap
    // (the probe's own check for a stop before it pauses is a few instructions earlier; the
    // Slot unit tests cover a stop during the gap deterministically).
    let released = async {
        loop {
            let changed = log.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if log.order().contains(&Seen::Closed { server: 1 }) {
                return;
            }
            changed.await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), released)
        .await
        .expect("the main association was never released");
    stop.stop();
    let result = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("the paused probe did not end on stop")
        .expect("one result");
    let summary = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the scan did not end")
        .unwrap()
        .unwrap();
    assert_eq!(summary.end, ScanEnd::Completed);
    assert_eq!(result.outcome, Outcome::Open);
    assert_eq!(
        detail(&result, "dicom.association"),
        Some(&"accepted".into())
    );
    // What it saw before the stop is kept; the follow-ups never happened.
    assert_eq!(detail(&result, "dicom.accepts_any_ae"), None);
    assert_eq!(detail(&result, "probe.error"), None);
    assert_eq!(
        log.order(),
        vec![
            Seen::Request { server: 1 },
            Seen::Released { server: 1 },
            Seen::Closed { server: 1 }
        ]
    );
}
