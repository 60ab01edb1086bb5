//! Simulated hospital services on loopback, for the demo, the tests and the benchmarks.
//!
//! Each kind behaves like the real thing as far as a read-only probe can tell (a MySQL server
//! greets first, an HL7 listener acknowledges an MLLP frame, an Orthanc answers HTTP), plus a few
//! hostile kinds (floods, terminal escapes, a server that dribbles bytes) that every probe must
//! survive. Nothing here holds or sends patient data. Listeners bind only to loopback addresses:
//! the lab refuses anything else.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::cli::LabArgs;
use crate::exit::{Exit, InputError};

/// A kind of simulated service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Silent,
    Mysql,
    Hl7,
    HttpOrthanc,
    HttpOpenEmr,
    Escape,
    Flood,
    Drip,
}

/// Every kind with its name and what it does (the `--list` text).
pub const KINDS: &[(Kind, &str, &str)] = &[
    (
        Kind::Silent,
        "silent",
        "accepts and says nothing (DICOM, PostgreSQL and HTTP wait for the client)",
    ),
    (
        Kind::Mysql,
        "mysql",
        "greets with a MySQL protocol-10 handshake, as MySQL and MariaDB do",
    ),
    (
        Kind::Hl7,
        "hl7",
        "HL7 v2 over MLLP: answers each framed message with an ACK (MSA|AA)",
    ),
    (
        Kind::HttpOrthanc,
        "http-orthanc",
        "HTTP like Orthanc Explorer: / redirects to app/explorer.html",
    ),
    (
        Kind::HttpOpenEmr,
        "http-openemr",
        "HTTP like an OpenEMR login page",
    ),
    (
        Kind::Escape,
        "escape",
        "hostile: a banner full of terminal escape sequences",
    ),
    (
        Kind::Flood,
        "flood",
        "hostile: sends 10 MB of garbage at once",
    ),
    (
        Kind::Drip,
        "drip",
        "hostile: one byte every 100 ms, for a minute",
    ),
];

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        KINDS.iter().find(|(_, n, _)| *n == s).map(|(k, _, _)| *k)
    }

    pub fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _, _)| *k == self)
            .map(|(_, n, _)| *n)
            .unwrap_or("?")
    }
}

/// One service to serve.
#[derive(Debug, Clone, Copy)]
pub struct LabService {
    pub kind: Kind,
    pub addr: SocketAddr,
}

impl LabService {
    /// `KIND@ADDR:PORT`, loopback addresses only.
    pub fn parse(s: &str) -> Result<LabService> {
        let (kind, addr) = s
            .split_once('@')
            .ok_or_else(|| InputError(format!("{s:?}: expected KIND@ADDR:PORT")))?;
        let kind = Kind::parse(kind)
            .ok_or_else(|| InputError(format!("{s:?}: unknown kind {kind:?} (see --list)")))?;
        let addr: SocketAddr = addr
            .parse()
            .map_err(|_| InputError(format!("{s:?}: {addr:?} is not ADDR:PORT")))?;
        if !addr.ip().is_loopback() {
            return Err(
                InputError(format!("{s:?}: the lab serves on loopback addresses only")).into(),
            );
        }
        Ok(LabService { kind, addr })
    }
}

/// The hidden `medsurface lab` command: serve until killed.
pub fn run(args: LabArgs) -> Result<Exit> {
    if args.list {
        for (_, name, what) in KINDS {
            println!("{name:14} {what}");
        }
        return Ok(Exit::Ok);
    }
    let services = args
        .services
        .iter()
        .map(|s| LabService::parse(s))
        .collect::<Result<Vec<_>>>()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        for s in &services {
            let bound = serve(*s).await?;
            println!("ready {} {bound}", s.kind.name());
        }
        use std::io::Write;
        std::io::stdout().flush()?;
        let _ = tokio::signal::ctrl_c().await;
        anyhow::Ok(())
    })?;
    Ok(Exit::Ok)
}

/// Binds one service and serves it in the background; returns the bound address.
pub async fn serve(service: LabService) -> Result<SocketAddr> {
    if !service.addr.ip().is_loopback() {
        bail!(
            "the lab serves on loopback addresses only, not {}",
            service.addr
        );
    }
    let listener = TcpListener::bind(service.addr).await.with_context(|| {
        format!(
            "cannot listen on {} for {}",
            service.addr,
            service.kind.name()
        )
    })?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                // A client that goes away mid-answer is normal for a scanner's peer.
                let _ = tokio::time::timeout(Duration::from_secs(60), handle(service.kind, stream))
                    .await;
            });
        }
    });
    Ok(bound)
}

async fn handle(kind: Kind, mut s: TcpStream) -> std::io::Result<()> {
    match kind {
        Kind::Silent => {
            let mut buf = [0u8; 1024];
            while s.read(&mut buf).await? > 0 {}
        }
        Kind::Mysql => {
            s.write_all(&mysql_greeting("8.0.36-lab")).await?;
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await?;
        }
        Kind::Hl7 => hl7(&mut s).await?,
        Kind::HttpOrthanc => http(&mut s, orthanc_page).await?,
        Kind::HttpOpenEmr => http(&mut s, openemr_page).await?,
        Kind::Escape => {
            s.write_all(b"\x1b[2J\x1b[1;31mPACS-CONSOLE\x1b]0;owned\x07 ready\r\n\x1b[6n")
                .await?
        }
        Kind::Flood => {
            let chunk = vec![b'\xAA'; 64 * 1024];
            for _ in 0..160 {
                s.write_all(&chunk).await?;
            }
        }
        Kind::Drip => {
            for _ in 0..600 {
                s.write_all(b".").await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    Ok(())
}

/// A MySQL protocol-10 initial handshake packet with the given server version.
fn mysql_greeting(version: &str) -> Vec<u8> {
    let mut p = vec![10u8];
    p.extend_from_slice(version.as_bytes());
    p.push(0);
    p.extend_from_slice(&42u32.to_le_bytes()); // connection id
    p.extend_from_slice(b"abcdefgh\0"); // auth plugin data, part 1
    p.extend_from_slice(&0xf7ffu16.to_le_bytes()); // capabilities (lower)
    p.push(0xff); // charset
    p.extend_from_slice(&2u16.to_le_bytes()); // status
    p.extend_from_slice(&0x81ffu16.to_le_bytes()); // capabilities (upper)
    p.push(21);
    p.extend_from_slice(&[0u8; 10]);
    p.extend_from_slice(b"ijklmnopqrst\0");
    p.extend_from_slice(b"caching_sha2_password\0");
    let len = p.len() as u32;
    let mut packet = len.to_le_bytes()[..3].to_vec();
    packet.push(0); // sequence id
    packet.extend_from_slice(&p);
    packet
}

/// MLLP: 0x0B message 0x1C 0x0D; answers each frame with an ACK naming the lab.
async fn hl7(s: &mut TcpStream) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 1 << 20 {
            return Ok(());
        }
        while let Some(end) = buf.windows(2).position(|w| w == [0x1c, 0x0d]) {
            let frame: Vec<u8> = buf.drain(..end + 2).collect();
            let msg = String::from_utf8_lossy(&frame);
            let control_id = msg
                .split('\r')
                .find(|seg| seg.trim_start_matches('\x0b').starts_with("MSH"))
                .and_then(|msh| msh.split('|').nth(9))
                .unwrap_or("0")
                .to_string();
            let ack = format!(
                "\x0bMSH|^~\\&|LAB-HIS|ST-EXAMPLE|MEDSURFACE|MEDSURFACE|20260101000000||ACK^A01|ACK{control_id}|T|2.5\rMSA|AA|{control_id}\r\x1c\r"
            );
            s.write_all(ack.as_bytes()).await?;
        }
    }
}

/// A minimal HTTP/1.1 server: reads one request head (capped), answers, closes.
async fn http(s: &mut TcpStream, page: fn(&str) -> Vec<u8>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    s.write_all(&page(&path)).await?;
    s.shutdown().await
}

fn response(status: &str, extra: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\n{extra}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn orthanc_page(path: &str) -> Vec<u8> {
    match path {
        "/" => response("307 Temporary Redirect", "Location: /app/explorer.html\r\n", "text/plain", ""),
        "/app/explorer.html" => response(
            "200 OK",
            "",
            "text/html",
            "<!DOCTYPE html><html><head><title>Orthanc Explorer</title></head><body><div id=\"lookup\">Lab simulation</div></body></html>",
        ),
        _ => response("404 Not Found", "", "text/plain", ""),
    }
}

fn openemr_page(path: &str) -> Vec<u8> {
    match path {
        "/" | "/interface/login/login.php" => response(
            "200 OK",
            "Server: Apache/2.4.57 (Debian)\r\nSet-Cookie: OpenEMR=lab; path=/\r\n",
            "text/html",
            "<html><head><title>OpenEMR Login</title></head><body><form>Username Password</form></body></html>",
        ),
        _ => response("404 Not Found", "Server: Apache/2.4.57 (Debian)\r\n", "text/plain", ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_unique_names_and_parse_back() {
        let mut names: Vec<&str> = KINDS.iter().map(|(_, n, _)| *n).collect();
        for (k, n, what) in KINDS {
            assert_eq!(Kind::parse(n), Some(*k));
            assert!(!what.is_empty());
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), KINDS.len());
    }

    #[test]
    fn lab_refuses_non_loopback_addresses() {
        assert!(LabService::parse("silent@192.0.2.1:80").is_err());
        assert!(LabService::parse("silent@127.3.2.1:80").is_ok());
        assert!(LabService::parse("nope@127.0.0.1:80").is_err());
        assert!(LabService::parse("silent127.0.0.1:80").is_err());
    }

    #[test]
    fn mysql_greeting_length_prefix_matches_payload() {
        let g = mysql_greeting("8.0.36-lab");
        let len = u32::from_le_bytes([g[0], g[1], g[2], 0]) as usize;
        assert_eq!(len, g.len() - 4);
        assert_eq!(g[4], 10);
    }
}
