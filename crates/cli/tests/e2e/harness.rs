//! Helpers shared by the end-to-end tests.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_medsurface"));
    c.env_remove("MEDSURFACE_DB");
    c.env("MEDSURFACE_NO_PROGRESS", "1");
    c
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run medsurface")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub struct TempDb {
    pub dir: tempfile::TempDir,
}

impl TempDb {
    pub fn new() -> TempDb {
        TempDb {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("t.db")
    }
    pub fn arg(&self) -> String {
        self.path().display().to_string()
    }
}

/// A listener on a loopback address that counts accepted connections and optionally greets.
pub struct Listener {
    pub addr: SocketAddr,
    pub accepts: Arc<AtomicUsize>,
}

impl Listener {
    pub fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }
}

/// Binds a listener on `ip:port` (port 0 = any) that greets each client with `banner`.
pub fn listen(ip: Ipv4Addr, port: u16, banner: &'static [u8]) -> Listener {
    let l = TcpListener::bind((ip, port)).unwrap_or_else(|e| panic!("bind {ip}:{port}: {e}"));
    let addr = l.local_addr().expect("local addr");
    let accepts = Arc::new(AtomicUsize::new(0));
    let counter = accepts.clone();
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut s) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            if !banner.is_empty() {
                let _ = s.write_all(banner);
            }
            let mut buf = [0u8; 64];
            let _ = s.set_read_timeout(Some(std::time::Duration::from_millis(50)));
            let _ = s.read(&mut buf);
        }
    });
    Listener { addr, accepts }
}

/// A deterministic pseudo-random stream for choosing addresses.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// `(ip, port)` of every JSON service line on stdout.
pub fn json_services(out: &str) -> BTreeSet<(IpAddr, u16)> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}"));
            (
                v["ip"].as_str().expect("ip").parse().expect("ip parses"),
                v["port"].as_u64().expect("port") as u16,
            )
        })
        .collect()
}

/// The scans in a store, as `scans --json` prints them.
pub fn scans(db: &Path) -> Vec<serde_json::Value> {
    let o = run(&["scans", "--json", "--db", &db.display().to_string()]);
    assert!(o.status.success(), "scans failed: {}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("scan JSON"))
        .collect()
}

/// A free port on `ip`, found by binding port 0 and letting it go.
pub fn free_port(ip: &str) -> u16 {
    TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running lab; its stdout stays open as long as it lives, so the lab never writes to a
/// closed pipe.
pub struct Lab(
    Child,
    #[allow(dead_code)] std::io::Lines<BufReader<std::process::ChildStdout>>,
);

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `medsurface lab` and waits for one "ready" line per service.
pub fn lab(services: &[String]) -> Lab {
    let mut child = bin()
        .arg("lab")
        .args(services)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the lab");
    let out = child.stdout.take().expect("lab stdout");
    let mut lines = BufReader::new(out).lines();
    for _ in services {
        let line = lines.next().expect("lab ready line").expect("read lab");
        assert!(line.starts_with("ready "), "{line}");
    }
    Lab(child, lines)
}
