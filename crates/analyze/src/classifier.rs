//! The engine: a set of signatures, checked as a whole, and the choice of the best match.
//!
//! Choosing is deterministic and explained in `signatures/README.md`: among the signatures whose
//! matchers all hold, the highest `priority` wins, then the highest specificity (the sum of the
//! matchers' weights: an exact value weighs more than a pattern, a port or protocol least), then
//! the smallest id. Every example of every signature must be won by its own signature without a
//! tie — [`Classifier::verify_examples`] checks it, and `cargo test` runs it on the shipped set —
//! so an ambiguous or shadowed signature is found when it is written.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use medsurface_model::classify::{Classification, Evidence};
use medsurface_model::Observation;

use crate::error::{ErrorKind, SignatureError};
use crate::matcher::{FieldIndex, LiteralGroups, Matcher, Scratch};
use crate::signature::Signature;

/// A set of compiled signatures.
#[derive(Debug, Clone)]
pub struct Classifier {
    /// Sorted by id.
    signatures: Vec<Signature>,
    /// Indexes into `signatures`, best first: priority, then specificity (both descending),
    /// then id. The first signature in this order that matches is the best match.
    order: Vec<usize>,
    /// The `contains` needles of every signature, grouped by field: one search per field and
    /// call instead of one per needle.
    literals: LiteralGroups,
    /// Field names to positions, for the per-call view of an observation's details.
    fields: FieldIndex,
}

/// The signature that won an observation, borrowed from the classifier.
#[derive(Debug, Clone, Copy)]
pub struct Match<'c> {
    pub signature: &'c Signature,
}

impl Match<'_> {
    /// The owned verdict: product metadata, the version read from `obs`, and the matchers that
    /// held as evidence.
    pub fn classification(&self, obs: &Observation) -> Classification {
        let s = self.signature;
        let evidence = s
            .matchers
            .iter()
            .filter_map(|m| m.holding(obs))
            .map(|c| Evidence {
                field: c.subject.name(),
                rule: c.rule.clone(),
            })
            .collect();
        Classification {
            signature: s.id.clone(),
            category: s.category,
            vendor: s.vendor.clone(),
            product: s.product.clone(),
            version: s.extract_version(obs),
            confidence: s.confidence,
            evidence,
        }
    }
}

/// Why an example of a signature fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExampleProblem {
    /// The example was not classified as its signature (`won_by`: what it was classified as).
    NotWon { won_by: Option<String> },
    /// Another matching signature has the same priority and specificity: the choice between them
    /// falls to the id order, which is an accident, not a decision.
    Tie { with: String },
    /// The version extracted is not `expect_version`.
    Version {
        expected: String,
        got: Option<String>,
    },
    /// A counterexample matched the signature.
    CounterexampleMatched,
}

/// One failing example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExampleFailure {
    pub signature: String,
    pub file: String,
    pub line: usize,
    pub problem: ExampleProblem,
}

impl std::fmt::Display for ExampleFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {}: {:?}",
            self.file, self.line, self.signature, self.problem
        )
    }
}

impl Classifier {
    /// The signatures shipped in `signatures/`, compiled into the binary.
    pub fn builtin() -> Result<Classifier, SignatureError> {
        Classifier::from_sources(
            crate::builtin_files()
                .iter()
                .map(|(name, text)| (format!("signatures/{name}"), (*text).to_string())),
        )
    }

    /// Every `*.toml` file of a directory (not recursive).
    pub fn from_dir(dir: &Path) -> Result<Classifier, SignatureError> {
        Classifier::from_sources(read_dir(dir)?)
    }

    /// The built-in signatures plus a user directory; an id in both is an error.
    pub fn builtin_and_dir(dir: &Path) -> Result<Classifier, SignatureError> {
        let builtin = crate::builtin_files()
            .iter()
            .map(|(name, text)| (format!("signatures/{name}"), (*text).to_string()));
        Classifier::from_sources(builtin.chain(read_dir(dir)?))
    }

    /// Signatures from (file name, contents) pairs; the id of each is its file stem.
    pub fn from_sources(
        sources: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Classifier, SignatureError> {
        let mut by_id: BTreeMap<String, Signature> = BTreeMap::new();
        for (file, text) in sources {
            let stem = Path::new(&file)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let sig = Signature::parse(&stem, &file, &text)?;
            if let Some(first) = by_id.get(&stem) {
                return Err(SignatureError {
                    file,
                    line: 0,
                    kind: ErrorKind::DuplicateId(first.file.clone()),
                });
            }
            by_id.insert(stem, sig);
        }
        let mut signatures: Vec<Signature> = by_id.into_values().collect();
        let literals = LiteralGroups::build(
            signatures
                .iter_mut()
                .flat_map(|s| s.matchers.iter_mut())
                .flat_map(|m| match m {
                    Matcher::One(c) => std::slice::from_mut(c).iter_mut(),
                    Matcher::Any(cs) => cs.iter_mut(),
                }),
        );
        let mut order: Vec<usize> = (0..signatures.len()).collect();
        // Stable: equal keys keep id order.
        order.sort_by_key(|&i| {
            std::cmp::Reverse((signatures[i].priority, signatures[i].specificity))
        });
        Ok(Classifier {
            signatures,
            order,
            literals,
            fields: FieldIndex::new(),
        })
    }

    /// Every signature, sorted by id.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// The signature with that id.
    pub fn get(&self, id: &str) -> Option<&Signature> {
        self.signatures
            .binary_search_by(|s| s.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.signatures[i])
    }

    /// The best matching signature, without allocating: the first match in best-first order.
    pub fn best_match<'c>(&'c self, obs: &Observation) -> Option<Match<'c>> {
        let mut scratch = Scratch::new(&self.literals, &self.fields, obs);
        self.order
            .iter()
            .map(|&i| &self.signatures[i])
            .find(|s| s.matches_in(obs, &mut scratch))
            .map(|signature| Match { signature })
    }

    /// The classification of `obs`, or `None` when no signature matches.
    pub fn classify(&self, obs: &Observation) -> Option<Classification> {
        self.best_match(obs).map(|m| m.classification(obs))
    }

    /// Every matching signature, best first (the first is what [`Classifier::classify`] picks).
    pub fn classify_all<'c>(&'c self, obs: &Observation) -> Vec<Match<'c>> {
        let mut scratch = Scratch::new(&self.literals, &self.fields, obs);
        self.order
            .iter()
            .map(|&i| &self.signatures[i])
            .filter(|s| s.matches_in(obs, &mut scratch))
            .map(|signature| Match { signature })
            .collect()
    }

    /// Checks every example and counterexample of every signature against the whole set.
    pub fn verify_examples(&self) -> Vec<ExampleFailure> {
        let mut failures = Vec::new();
        for s in &self.signatures {
            let fail = |line, problem| ExampleFailure {
                signature: s.id.clone(),
                file: s.file.clone(),
                line,
                problem,
            };
            for ex in &s.examples {
                let all = self.classify_all(&ex.observation);
                match all.first() {
                    Some(m) if m.signature.id == s.id => {
                        if let Some(second) = all.get(1).filter(|o| {
                            (o.signature.priority, o.signature.specificity)
                                == (s.priority, s.specificity)
                        }) {
                            failures.push(fail(
                                ex.line,
                                ExampleProblem::Tie {
                                    with: second.signature.id.clone(),
                                },
                            ));
                        }
                        if let Some(expected) = &ex.expect_version {
                            let got = s.extract_version(&ex.observation);
                            if got.as_deref() != Some(expected.as_str()) {
                                failures.push(fail(
                                    ex.line,
                                    ExampleProblem::Version {
                                        expected: expected.clone(),
                                        got,
                                    },
                                ));
                            }
                        }
                    }
                    other => failures.push(fail(
                        ex.line,
                        ExampleProblem::NotWon {
                            won_by: other.map(|m| m.signature.id.clone()),
                        },
                    )),
                }
            }
            for ex in &s.counterexamples {
                if s.matches(&ex.observation) {
                    failures.push(fail(ex.line, ExampleProblem::CounterexampleMatched));
                }
            }
        }
        failures
    }
}

fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, SignatureError> {
    let io_err = |file: &Path, e: std::io::Error| SignatureError {
        file: file.display().to_string(),
        line: 0,
        kind: ErrorKind::Read(e.to_string()),
    };
    let mut paths: Vec<_> = fs::read_dir(dir)
        .map_err(|e| io_err(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).map_err(|e| io_err(&p, e))?;
            Ok((p.display().to_string(), text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use medsurface_model::{Details, Observation, Source, Timestamp, Transport};

    use super::Classifier;

    /// The corpus and every example and counterexample, plus mixtures of neighbouring
    /// examples (one's fields over another's, so titles, bodies and locations meet signatures
    /// that were not written for them).
    fn observations(c: &Classifier) -> Vec<Observation> {
        let mut all: Vec<Observation> = c
            .signatures()
            .iter()
            .flat_map(|s| s.examples.iter().chain(&s.counterexamples))
            .map(|e| e.observation.clone())
            .collect();
        let n = all.len();
        for i in 0..n {
            for j in 1..6 {
                let mut mixed = all[i].clone();
                let donor = &all[(i + j * 7) % n];
                mixed
                    .details
                    .extend(donor.details.iter().map(|(k, v)| (k.clone(), v.clone())));
                all.push(mixed);
            }
        }
        for line in include_str!("../tests/corpus/corpus.jsonl").lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let details: Details =
                serde_json::from_value(v["details"].clone()).expect("corpus details");
            all.push(Observation {
                ip: "192.0.2.1".parse().expect("literal address"),
                port: u16::try_from(v["port"].as_u64().unwrap_or(0)).unwrap_or(0),
                transport: Transport::Tcp,
                hostname: None,
                protocol: v["protocol"].as_str().map(str::to_string),
                probe: "corpus".into(),
                source: Source::Scan,
                seen_at: Timestamp::UNIX_EPOCH,
                details,
            });
        }
        all
    }

    /// The per-call scratch (grouped literal search, field view, field mask) picks what each
    /// signature's own [`Signature::matches`](crate::Signature::matches) does: the matching
    /// set, in best-first order, and the best match.
    #[test]
    fn the_per_call_scratch_classifies_as_signature_by_signature() {
        let c = Classifier::builtin().expect("builtin signatures");
        let all = observations(&c);
        let mut matched = 0;
        for obs in &all {
            let naive: Vec<&str> = c
                .order
                .iter()
                .map(|&i| &c.signatures[i])
                .filter(|s| s.matches(obs))
                .map(|s| s.id.as_str())
                .collect();
            let grouped: Vec<&str> = c
                .classify_all(obs)
                .iter()
                .map(|m| m.signature.id.as_str())
                .collect();
            assert_eq!(grouped, naive, "{obs:?}");
            let best = c.best_match(obs).map(|m| m.signature.id.as_str());
            assert_eq!(best, naive.first().copied(), "{obs:?}");
            matched += usize::from(best.is_some());
        }
        assert!(matched * 2 > all.len(), "{matched} of {}", all.len());
    }
}
