//! The analysis stage as the binary runs it: classify each fresh observation while its
//! transient fields are still there, then strip them, so nothing transient is ever stored or
//! printed.
//!
//! It is the one place where live scans (and, with the ingest stage, imports) meet the
//! classifier, so both are classified by the same signatures in the same way.

use std::path::Path;

use anyhow::{Context, Result};
use medsurface_analyze::Classifier;
use medsurface_model::classify::Classification;
use medsurface_model::fields::strip_transient;
use medsurface_model::{Observation, ProbeResult, Service};

/// The loaded analysis stages.
pub struct Analysis {
    classifier: Classifier,
}

impl Analysis {
    /// The built-in signatures, plus a user directory of signature files when given.
    pub fn load(extra_signatures: Option<&Path>) -> Result<Analysis> {
        let classifier = match extra_signatures {
            None => Classifier::builtin().context("the built-in signatures do not load")?,
            Some(dir) => Classifier::builtin_and_dir(dir).map_err(|e| {
                anyhow::Error::new(crate::exit::InputError(format!("--signatures: {e}")))
            })?,
        };
        Ok(Analysis { classifier })
    }

    /// [`Analysis::load`] on a thread of its own while `beside` runs on this one, for the
    /// start of a command: compiling the signatures is CPU work, opening (or creating) the
    /// store mostly waits for the disk, so the two overlap instead of adding up. Both finish
    /// before this returns, so nothing is sent or recorded until both are ready. An error of
    /// `beside` is returned first (it is what the command did first before).
    pub fn load_beside<T>(
        extra_signatures: Option<&Path>,
        beside: impl FnOnce() -> Result<T>,
    ) -> Result<(Analysis, T)> {
        std::thread::scope(|s| {
            let loading = std::thread::Builder::new()
                .name("load-signatures".into())
                .spawn_scoped(s, || Analysis::load(extra_signatures))
                .context("start the thread that loads the signatures")?;
            let other = beside();
            let analysis = loading
                .join()
                .map_err(|_| anyhow::anyhow!("loading the signatures panicked"))?;
            let other = other?;
            Ok((analysis?, other))
        })
    }

    /// The classifier's verdict on one observation (transient fields still there).
    pub fn classify(&self, obs: &Observation) -> Option<Classification> {
        self.classifier.classify(obs)
    }

    /// Classifies an open result's observation and removes its transient fields.
    pub fn process(&self, result: &mut ProbeResult) {
        if let Some(obs) = result.observation.as_mut() {
            result.classification = self.classifier.classify(obs);
            strip_transient(&mut obs.details);
        }
    }
}

/// The service record of a processed result (None for results without an observation).
pub fn service_record(result: &ProbeResult) -> Option<Service> {
    let obs = result.observation.as_ref()?;
    let mut service = Service::from_observation(obs);
    if let Some(c) = &result.classification {
        service.apply_classification(c);
    }
    Some(service)
}

#[cfg(test)]
mod tests {
    use super::*;
    use medsurface_model::{Details, Outcome, Source, Transport};

    #[test]
    fn classifies_then_strips_transient_fields() {
        let mut details = Details::new();
        details.insert("http.title".into(), "Orthanc Explorer".into());
        details.insert("_http.body".into(), "<html>MEDSURFACE^CANARY</html>".into());
        let mut r = ProbeResult {
            seq: 0,
            ip: "127.0.0.1".parse().unwrap(),
            port: 8042,
            hostname: None,
            outcome: Outcome::Open,
            attempts: 1,
            rtt_us: None,
            reason: None,
            observation: Some(Observation {
                ip: "127.0.0.1".parse().unwrap(),
                port: 8042,
                transport: Transport::Tcp,
                hostname: None,
                protocol: Some("http".into()),
                probe: "http".into(),
                source: Source::Scan,
                seen_at: "2026-01-01T00:00:00Z".parse().unwrap(),
                details,
            }),
            classification: None,
        };
        Analysis::load(None).unwrap().process(&mut r);
        let s = service_record(&r).unwrap();
        assert_eq!(s.category.as_deref(), Some("imaging"), "{s:?}");
        assert!(!serde_json::to_string(&s).unwrap().contains("CANARY"));
        assert!(!r.observation.unwrap().details.contains_key("_http.body"));
    }
}
