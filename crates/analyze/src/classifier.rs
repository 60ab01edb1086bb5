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
use crate::matcher::{FieldIndex, LiteralGroups, Matcher, Scratch, Subject};
use crate::signature::{FieldMask, Signature};

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
    /// The signatures each field's presence lets through their gates, as positions in `order`;
    /// `None` when there are more signatures than [`Candidates`] holds.
    gates: Option<GateIndex>,
}

/// Most signatures a [`Candidates`] set holds: positions in [`Classifier::order`].
const CANDIDATE_WORDS: usize = 4;

/// A set of positions in [`Classifier::order`], on the stack.
type Candidates = [u64; CANDIDATE_WORDS];

/// Which signatures can pass their gate, by field: most observations hold none of the fields
/// that most signatures need (a DICOM peer has no page title), and visiting every signature to
/// test its gate was a tenth of a call.
#[derive(Debug, Clone)]
struct GateIndex {
    /// Signatures without a gate.
    ungated: Candidates,
    /// For field `i` of [`medsurface_model::fields::FIELDS`]: the signatures whose gate holds it.
    by_field: Vec<Candidates>,
    /// The fields of any gate.
    any_gate: FieldMask,
}

impl GateIndex {
    fn new(signatures: &[Signature], order: &[usize]) -> Option<GateIndex> {
        if order.len() > CANDIDATE_WORDS * 64 {
            return None;
        }
        let mut index = GateIndex {
            ungated: [0; CANDIDATE_WORDS],
            by_field: vec![[0; CANDIDATE_WORDS]; FieldMask::BITS as usize],
            any_gate: 0,
        };
        for (p, &i) in order.iter().enumerate() {
            let gate = signatures[i].gate;
            let set = |c: &mut Candidates| c[p / 64] |= 1 << (p % 64);
            if gate == 0 {
                set(&mut index.ungated);
            }
            index.any_gate |= gate;
            for (f, c) in index.by_field.iter_mut().enumerate() {
                if gate & (1 << f) != 0 {
                    set(c);
                }
            }
        }
        Some(index)
    }

    /// The signatures whose gate `present` passes (the `gate == 0 || gate & present != 0` of
    /// [`Signature::matches_in`]).
    fn candidates(&self, present: FieldMask) -> Candidates {
        let mut c = self.ungated;
        let mut fields = present & self.any_gate;
        while fields != 0 {
            let f = fields.trailing_zeros() as usize;
            fields &= fields - 1;
            for (w, by) in c.iter_mut().zip(&self.by_field[f]) {
                *w |= by;
            }
        }
        c
    }
}

/// The positions of a [`Candidates`] set, ascending.
fn positions(c: Candidates) -> impl Iterator<Item = usize> {
    c.into_iter().enumerate().flat_map(|(w, mut bits)| {
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                w * 64 + b
            })
        })
    })
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
        let gates = GateIndex::new(&signatures, &order);
        let read = signatures
            .iter()
            .flat_map(|s| &s.matchers)
            .flat_map(|m| match m {
                Matcher::One(c) => std::slice::from_ref(c).iter(),
                Matcher::Any(cs) => cs.iter(),
            })
            .fold(0, |mask: FieldMask, c| match c.subject {
                Subject::Detail { index, .. } => {
                    mask | u32::try_from(index)
                        .ok()
                        .and_then(|i| FieldMask::from(1u8).checked_shl(i))
                        .unwrap_or(0)
                }
                _ => mask,
            });
        Ok(Classifier {
            gates,
            signatures,
            order,
            literals,
            fields: FieldIndex::only(read),
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
        self.in_order(&scratch)
            .find(|s| s.matches_in(obs, &mut scratch))
            .map(|signature| Match { signature })
    }

    /// The signatures, best first, that can pass their gate for the observation of `scratch`
    /// (every signature when there is no gate index).
    fn in_order<'c>(&'c self, scratch: &Scratch) -> impl Iterator<Item = &'c Signature> + 'c {
        let (all, some) = match &self.gates {
            Some(gates) => (None, Some(positions(gates.candidates(scratch.present)))),
            None => (Some(0..self.order.len()), None),
        };
        all.into_iter()
            .flatten()
            .chain(some.into_iter().flatten())
            .map(|p| &self.signatures[self.order[p]])
    }

    /// The classification of `obs`, or `None` when no signature matches.
    pub fn classify(&self, obs: &Observation) -> Option<Classification> {
        self.best_match(obs).map(|m| m.classification(obs))
    }

    /// Every matching signature, best first (the first is what [`Classifier::classify`] picks).
    pub fn classify_all<'c>(&'c self, obs: &Observation) -> Vec<Match<'c>> {
        let mut scratch = Scratch::new(&self.literals, &self.fields, obs);
        self.in_order(&scratch)
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
    /// that were not written for them), plus [`shodan_like`] variants of the examples.
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
        all.extend(shodan_like(&all[..n]));
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

    /// Variants shaped like an import's observations, where the per-call shortcuts (the gate
    /// index, the view of the fields signatures read, the needle bits of searched groups) could
    /// part from the signature-by-signature answer: keys no signature reads around the fields,
    /// page bodies of several chunks holding every example's strings in changed case and
    /// astride chunk boundaries, one field left out at a time, strings turned into lists.
    fn shodan_like(base: &[Observation]) -> Vec<Observation> {
        let strings: Vec<&str> = base
            .iter()
            .flat_map(|o| o.details.values())
            .filter_map(|v| v.as_str())
            .collect();
        let mut out = Vec::new();
        for (n, obs) in base.iter().enumerate() {
            let mut shodan = obs.clone();
            for (k, v) in [
                ("geo.country", "IT"),
                ("net.org", "Example Hospital"),
                ("shodan.module", "http"),
                ("banner.text", "HTTP/1.1 200 OK"),
                ("not.a.field", "x"),
            ] {
                shodan
                    .details
                    .entry(k.to_string())
                    .or_insert_with(|| v.into());
            }
            // A page of filler with the strings spliced in, some across the 4 KiB chunks of the
            // case-folded search, in the case given, upper or lower.
            let mut body = String::new();
            for (i, text) in strings.iter().enumerate().skip(n % 7).step_by(5) {
                while body.len() < (2000 * (i % 3) + 4090).saturating_sub(text.len() / 2) {
                    body.push_str("<div class=\"x\">lorem ipsum</div> ");
                }
                match (n + i) % 3 {
                    0 => body.push_str(text),
                    1 => body.push_str(&text.to_ascii_uppercase()),
                    _ => body.push_str(&text.to_ascii_lowercase()),
                }
                if body.len() > 14_000 {
                    break;
                }
            }
            let mut with_body = shodan.clone();
            with_body.details.insert("_http.body".into(), body.into());
            out.push(shodan);
            out.push(with_body.clone());
            for k in obs.details.keys() {
                let mut less = with_body.clone();
                less.details.remove(k);
                out.push(less);
                let mut listed = with_body.clone();
                if let Some(v) = listed.details.get_mut(k).filter(|v| v.is_string()) {
                    *v = serde_json::Value::Array(vec!["other".into(), v.clone()]);
                    out.push(listed);
                }
            }
        }
        out
    }

    /// The per-call scratch (grouped literal search, field view, field mask) picks what each
    /// signature's own [`Signature::matches`](crate::Signature::matches) does: the matching
    /// set, in best-first order, and the best match.
    #[test]
    fn the_per_call_scratch_classifies_as_signature_by_signature() {
        agrees_signature_by_signature(&Classifier::builtin().expect("builtin signatures"));
    }

    /// Signatures without a gate (no matcher that needs a field present: a port, a protocol, a
    /// field that must be absent) are candidates for every observation. The shipped set has
    /// none, so two are added.
    #[test]
    fn ungated_signatures_are_tried_on_every_observation() {
        let extra = [
            (
                "zz-any-on-port-4242.toml",
                r#"
name = "Anything on 4242"
vendor = "Example"
product = "Port"
category = "imaging"
references = ["https://example.org/"]
priority = 100
[[match]]
field = "port"
in = [4242, 80]
[[example]]
port = 4242
"#,
            ),
            (
                "zz-untitled-web.toml",
                r#"
name = "Untitled web page"
vendor = "Example"
product = "Web"
category = "imaging"
references = ["https://example.org/"]
priority = 100
[[match]]
field = "http.title"
exists = false
[[match]]
any = [{ field = "protocol", equals = "http" }, { field = "port", equals = 443 }]
[[example]]
port = 443
"#,
            ),
        ];
        let c = Classifier::from_sources(
            crate::builtin_files()
                .iter()
                .chain(&extra)
                .map(|(name, text)| (format!("signatures/{name}"), (*text).to_string())),
        )
        .expect("signatures");
        let ungated: Vec<&str> = c
            .signatures()
            .iter()
            .filter(|s| s.gate == 0)
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(ungated, ["zz-any-on-port-4242", "zz-untitled-web"]);
        agrees_signature_by_signature(&c);
        // They do win observations, so the comparison above covered them.
        let won = observations(&c)
            .iter()
            .filter_map(|o| c.best_match(o))
            .filter(|m| m.signature.id.starts_with("zz-"))
            .count();
        assert!(won > 100, "{won}");
    }

    /// On [`observations`]: the matching set of [`Classifier::classify_all`], in best-first
    /// order, and [`Classifier::best_match`] are those of [`crate::Signature::matches`] tried one
    /// signature after the other.
    fn agrees_signature_by_signature(c: &Classifier) {
        let all = observations(c);
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
