//! Helpers shared by the real-peer tests (dicom_peers, web_peers, app_peers): where the repo
//! is, and the classifier's verdict on a probe's output, as the binary would classify it.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

use medsurface_analyze::Classifier;
use medsurface_model::classify::Category;
use medsurface_model::{Observation, Source, Timestamp, Transport};
use medsurface_scan::ProbeOutput;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The classifier's verdict on one observation: the winning signature, its category and
/// product, and the version it read. `None` (no signature claims it) is a verdict too.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdict {
    pub signature: String,
    pub category: Category,
    pub product: String,
    pub version: Option<String>,
}

pub fn verdict(
    signature: &str,
    category: Category,
    product: &str,
    version: Option<&str>,
) -> Verdict {
    Verdict {
        signature: signature.into(),
        category,
        product: product.into(),
        version: version.map(str::to_string),
    }
}

/// A probe output as the engine records it: the peer's own port, and the transient fields
/// still present (the binary classifies before it strips them).
pub fn observation(probe: &str, port: u16, out: &ProbeOutput) -> Observation {
    Observation {
        ip: "127.0.0.1".parse().expect("ip"),
        port,
        transport: Transport::Tcp,
        hostname: None,
        protocol: out.protocol.clone(),
        probe: probe.into(),
        source: Source::Scan,
        seen_at: Timestamp::now(),
        details: out.details.clone(),
    }
}

pub fn classify_observation(classifier: &Classifier, obs: &Observation) -> Option<Verdict> {
    classifier.classify(obs).map(|c| Verdict {
        signature: c.signature,
        category: c.category,
        product: c.product,
        version: c.version,
    })
}

/// Classifies a probe output as the engine records it.
pub fn classify(
    classifier: &Classifier,
    probe: &str,
    port: u16,
    out: &ProbeOutput,
) -> Option<Verdict> {
    classify_observation(classifier, &observation(probe, port, out))
}

/// A set of real peers started by one of the scripts under `scripts/peers/`, described by the
/// manifest the script writes (ports, canaries, versions); stopped when dropped. The state
/// directory (logs, configurations) is kept when stopping fails, for the post-mortem.
pub struct PeerLab {
    pub state: std::path::PathBuf,
    pub json: serde_json::Value,
    kit: &'static str,
}

impl PeerLab {
    /// Runs `<kit>/start STATE` (e.g. `scripts/peers/web`) and reads `STATE/<manifest>`.
    pub fn start(kit: &'static str, manifest: &str) -> PeerLab {
        let name = kit.trim_start_matches("scripts/").replace('/', "-");
        let state = std::env::temp_dir().join(format!("medsurface-{name}-{}", std::process::id()));
        let out = std::process::Command::new(repo_root().join(kit).join("start"))
            .arg(&state)
            .output()
            .unwrap_or_else(|e| {
                panic!("run {kit}/start (run scripts/install-test-deps first): {e}")
            });
        assert!(
            out.status.success(),
            "{kit}/start failed (run scripts/install-test-deps first):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text =
            std::fs::read(state.join(manifest)).unwrap_or_else(|e| panic!("{manifest}: {e}"));
        let json = serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{manifest}: {e}"));
        PeerLab { state, json, kit }
    }

    pub fn port(&self, peer: &str) -> u16 {
        self.json["peers"][peer]["port"]
            .as_u64()
            .expect("peer port") as u16
    }
}

impl Drop for PeerLab {
    fn drop(&mut self) {
        let stopped = std::process::Command::new(repo_root().join(self.kit).join("stop"))
            .arg(&self.state)
            .status()
            .is_ok_and(|s| s.success());
        if stopped {
            let _ = std::fs::remove_dir_all(&self.state);
        }
    }
}
