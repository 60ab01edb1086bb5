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
