//! The assessment stage: known vulnerabilities, honeypot verdicts, flags, then DREAD, for a
//! whole set of services at once (honeypot clusters need the set), or for a large set in
//! chunks against a compact index of the whole set ([`Assessor::assess_with`]).
//!
//! Order matters and is fixed: vulnerabilities first (the rubric reads their counts, CVSS and
//! KEV status), then honeypots (they need the set), then flags (the rubric may read them), then
//! the rubric. The result depends only on the services and the loaded data, never on their
//! order in memory beyond the order of `reasons`.

use std::collections::HashMap;

use medsurface_model::{Dread, Honeypot, Service};

use super::error::RiskError;
use super::facts::service_facts;
use super::flags::{
    fact_flags, replace_flags, DEFAULT_CREDENTIALS_PAGE, LIKELY_HONEYPOT,
    VERSION_UNKNOWN_VULNS_POSSIBLE,
};
use super::honeypot::{HoneypotIndex, HoneypotRules};
use super::rubric::Rubric;
use super::vulns::{merge_vulns, KnownVulns, Matched};

/// Web protocols on which a default-credentials login page can be seen.
const WEB: &[&str] = &["http", "https"];

/// The loaded assessment data and the one entry point, [`Assessor::assess`].
#[derive(Debug, Clone)]
pub struct Assessor {
    rubric: Rubric,
    vulns: KnownVulns,
    honeypots: HoneypotRules,
}

impl Assessor {
    pub fn new(rubric: Rubric, vulns: KnownVulns, honeypots: HoneypotRules) -> Assessor {
        Assessor {
            rubric,
            vulns,
            honeypots,
        }
    }

    /// The shipped rubric, vulnerability file and honeypot file.
    pub fn builtin() -> Result<Assessor, RiskError> {
        Ok(Assessor::new(
            Rubric::builtin()?,
            KnownVulns::builtin()?,
            HoneypotRules::builtin()?,
        ))
    }

    pub fn rubric(&self) -> &Rubric {
        &self.rubric
    }

    pub fn vulns(&self) -> &KnownVulns {
        &self.vulns
    }

    /// To add advisories (NVD, KEV, OSV importers) before assessing.
    pub fn vulns_mut(&mut self) -> &mut KnownVulns {
        &mut self.vulns
    }

    pub fn honeypots(&self) -> &HoneypotRules {
        &self.honeypots
    }

    /// Assesses every service in place: `vulnerabilities` (merged), `honeypot`, `flags`,
    /// `dread`. Running it twice gives the same result.
    ///
    /// The one-shot form of [`Assessor::assess_with`]: the set is its own honeypot index.
    pub fn assess(&self, services: &mut [Service]) {
        let mut index = self.honeypots.index();
        for s in services.iter() {
            index.add(s);
        }
        self.assess_with(services, &index.finish());
    }

    /// Assesses `chunk`, part (or all) of a set whose every service was fed to `index`
    /// ([`HoneypotRules::index`]), in place. Each service comes out exactly as
    /// [`Assessor::assess`] of the whole set leaves it, so a set too large for memory can be
    /// read twice, once to build the index and once in chunks to assess.
    pub fn assess_with(&self, services: &mut [Service], index: &HoneypotIndex) {
        // Vulnerability matching depends only on (vendor, product, version): match each distinct
        // triple once (large sets repeat a few products and versions many times).
        let mut memo: HashMap<(&str, &str, Option<&str>), usize> = HashMap::new();
        let mut matched: Vec<Matched> = Vec::new();
        let mut which: Vec<Option<usize>> = Vec::with_capacity(services.len());
        for s in services.iter() {
            let (Some(v), Some(p)) = (s.vendor.as_deref(), s.product.as_deref()) else {
                which.push(None);
                continue;
            };
            let key = (v, p, s.version.as_deref());
            let i = *memo.entry(key).or_insert_with(|| {
                matched.push(self.vulns.match_service(s));
                matched.len() - 1
            });
            which.push(Some(i));
        }
        drop(memo);
        let mut version_unknown = vec![false; services.len()];
        for ((s, unknown), m) in services
            .iter_mut()
            .zip(version_unknown.iter_mut())
            .zip(which)
        {
            let found = match m {
                Some(i) => {
                    *unknown = matched[i].version_unknown;
                    matched[i].vulns.clone()
                }
                None => Vec::new(),
            };
            merge_vulns(&mut s.vulnerabilities, found, &self.vulns);
        }

        let verdicts = self.honeypots.judge_with(services, index);
        let threshold = self.honeypots.heuristics.threshold;
        let mut extras: Vec<(Option<Honeypot>, bool)> =
            verdicts.into_iter().zip(version_unknown).collect();

        // Flags and scores are per service: spread them over the available cores (each
        // service's result depends on it alone, so the outcome does not depend on the split).
        par_zip(services, &mut extras, |services, extras| {
            let mut ours: Vec<&'static str> = Vec::new();
            for (s, (verdict, unknown)) in services.iter_mut().zip(extras.iter_mut()) {
                ours.clear();
                fact_flags(s, &mut ours);
                if *unknown {
                    ours.push(VERSION_UNKNOWN_VULNS_POSSIBLE);
                }
                if let (Some(v), Some(p), Some(proto)) = (&s.vendor, &s.product, &s.protocol) {
                    if WEB.contains(&proto.as_str())
                        && self.vulns.default_credentials_for(v, p).is_some()
                    {
                        ours.push(DEFAULT_CREDENTIALS_PAGE);
                    }
                }
                let verdict = verdict.take();
                if verdict.as_ref().is_some_and(|h| h.likelihood >= threshold) {
                    ours.push(LIKELY_HONEYPOT);
                }
                s.honeypot = verdict;
                replace_flags(s, &ours);
                s.dread = Some(self.score(s));
            }
        });
    }

    /// The DREAD rating of one service as it stands (vulnerabilities, honeypot and flags as
    /// already set).
    pub fn score(&self, s: &Service) -> Dread {
        self.rubric.score(&service_facts(s))
    }
}

/// Below this many items, work stays on the calling thread.
const PAR_MIN: usize = 4096;

/// Runs `f` over matching chunks of two equally long slices, on up to
/// `available_parallelism()` threads for large inputs.
pub(crate) fn par_zip<A: Send, B: Send>(
    a: &mut [A],
    b: &mut [B],
    f: impl Fn(&mut [A], &mut [B]) + Sync,
) {
    debug_assert_eq!(a.len(), b.len());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if a.len() < PAR_MIN || threads < 2 {
        f(a, b);
        return;
    }
    let chunk = a.len().div_ceil(threads);
    std::thread::scope(|scope| {
        for (ca, cb) in a.chunks_mut(chunk).zip(b.chunks_mut(chunk)) {
            let f = &f;
            scope.spawn(move || f(ca, cb));
        }
    });
}
