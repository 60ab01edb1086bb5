//! The DREAD rubric as data: rules over [`Facts`] that set factor values, each with a sentence
//! of evidence. The shipped rubric is `risk/dread.toml` (compiled into the binary); users pass
//! their own file, which replaces it.
//!
//! Combination (documented in `risk/README.md`): each factor is the **maximum** value set by the
//! rules whose conditions hold; on a tie the rule written first wins. A rule without conditions
//! is a baseline rule; loading requires baseline rules to set all five factors, so every factor
//! of every finding has a value and a rule to cite. The overall score is the mean of the five
//! factors rounded to one decimal, and its band is given by [`severity_of`].
//!
//! The engine knows nothing of services: [`Rubric::parse`] checks conditions and templates
//! against whatever [`Vocabulary`] it is given, so the supply-chain stage scores vendor access
//! paths with its own file and its own facts.

use std::collections::BTreeMap;
use std::path::Path;

use medsurface_model::risk::{Dread, Evidence, Factor, Severity};
use serde::Deserialize;
use toml::Spanned;

use super::cond::{compile_all, Cond, RawCond, Template};
use super::error::{read, FileCtx, RiskError, RiskErrorKind};
use super::facts::{FactSource, Vocabulary};
use crate::signature::valid_id;

/// The shipped rubric, as named in errors.
pub const BUILTIN_RUBRIC_NAME: &str = "risk/dread.toml";
/// The shipped rubric's text.
pub const BUILTIN_RUBRIC: &str = include_str!("../../../../risk/dread.toml");

/// Lower bounds of the severity bands over the overall score (0–10).
pub const CRITICAL_FROM: f32 = 8.0;
pub const HIGH_FROM: f32 = 6.5;
pub const MEDIUM_FROM: f32 = 4.0;

/// The band of an overall score: critical ≥ 8.0, high ≥ 6.5, medium ≥ 4.0, else low.
pub fn severity_of(score: f32) -> Severity {
    if score >= CRITICAL_FROM {
        Severity::Critical
    } else if score >= HIGH_FROM {
        Severity::High
    } else if score >= MEDIUM_FROM {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// The overall score of five factor values: their mean, rounded to one decimal.
pub fn score_of(values: [u8; 5]) -> f32 {
    let sum: u32 = values.iter().map(|v| u32::from(*v)).sum();
    // sum / 5 to one decimal = round(sum * 2) / 10, exact in integers.
    (sum * 2) as f32 / 10.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRubric {
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    description: String,
    #[serde(default)]
    when: Vec<Spanned<RawCond>>,
    set: Spanned<BTreeMap<String, Spanned<i64>>>,
    reason: Spanned<String>,
}

/// One loaded rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub description: String,
    /// Line of the rule in its file.
    pub line: usize,
    /// The factor values it sets, in factor order.
    pub set: Vec<(Factor, u8)>,
    pub reason: Template,
    pub(crate) when: Vec<Cond>,
}

impl Rule {
    /// Whether this is a baseline rule (no conditions: it always applies).
    pub fn is_baseline(&self) -> bool {
        self.when.is_empty()
    }

    /// Whether its conditions hold for these facts.
    pub fn matches(&self, facts: &dyn FactSource) -> bool {
        self.when.iter().all(|c| c.holds(facts))
    }

    /// The fact keys its conditions name.
    pub fn fact_keys(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for c in &self.when {
            c.keys(&mut out);
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// A loaded, validated rubric.
#[derive(Debug, Clone)]
pub struct Rubric {
    /// The file it came from, as named in errors.
    pub file: String,
    pub rules: Vec<Rule>,
}

impl Rubric {
    /// The shipped rubric, checked against [`Vocabulary::service`].
    pub fn builtin() -> Result<Rubric, RiskError> {
        Rubric::parse(BUILTIN_RUBRIC_NAME, BUILTIN_RUBRIC, &Vocabulary::service())
    }

    /// A user's rubric file, checked against `vocab`.
    pub fn load(path: &Path, vocab: &Vocabulary) -> Result<Rubric, RiskError> {
        let text = read(path)?;
        Rubric::parse(&path.display().to_string(), &text, vocab)
    }

    /// Parses and validates rubric text. `file` names it in errors.
    pub fn parse(file: &str, text: &str, vocab: &Vocabulary) -> Result<Rubric, RiskError> {
        let cx = FileCtx { file, text };
        let raw: RawRubric = cx.parse()?;
        if raw.rule.is_empty() {
            return Err(cx.whole(RiskErrorKind::Missing("no [[rule]] in the rubric".into())));
        }
        let mut rules = Vec::with_capacity(raw.rule.len());
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for spanned in &raw.rule {
            let at = spanned.span().start;
            let r = spanned.get_ref();
            let id = r.id.get_ref().clone();
            let id_at = r.id.span().start;
            if !valid_id(&id) {
                return Err(cx.err(
                    id_at,
                    RiskErrorKind::Syntax(format!(
                        "bad rule id `{id}` (lower-case letters, digits and '-')"
                    )),
                ));
            }
            if let Some(first) = seen.get(&id) {
                return Err(cx.err(
                    id_at,
                    RiskErrorKind::DuplicateId {
                        id,
                        first_line: *first,
                    },
                ));
            }
            seen.insert(id.clone(), cx.line(id_at));
            if r.description.trim().is_empty() {
                return Err(cx.err(at, RiskErrorKind::Missing("empty description".into())));
            }
            let mut set = Vec::new();
            for (name, value) in r.set.get_ref() {
                let vat = value.span().start;
                let Some(factor) = Factor::parse(name) else {
                    return Err(cx.err(vat, RiskErrorKind::UnknownFactor(name.clone())));
                };
                let v = *value.get_ref();
                if !(0..=10).contains(&v) {
                    return Err(cx.err(
                        vat,
                        RiskErrorKind::OutOfRange(format!("{name} = {v}: factors are 0–10")),
                    ));
                }
                set.push((factor, v as u8));
            }
            if set.is_empty() {
                return Err(cx.err(
                    r.set.span().start,
                    RiskErrorKind::Missing(format!("rule `{id}` sets no factor")),
                ));
            }
            set.sort_by_key(|(f, _)| *f);
            let when = compile_all(&cx, vocab, &r.when)?;
            let reason = Template::parse(&cx, r.reason.span().start, vocab, r.reason.get_ref())?;
            rules.push(Rule {
                id,
                description: r.description.trim().to_string(),
                line: cx.line(at),
                set,
                reason,
                when,
            });
        }
        for f in Factor::ALL {
            let covered = rules
                .iter()
                .any(|r| r.is_baseline() && r.set.iter().any(|(g, _)| *g == f));
            if !covered {
                return Err(cx.whole(
                    RiskErrorKind::Missing(format!(
                        "no baseline rule (a rule without `when`) sets `{f}`: every factor needs a value and a rule to cite"
                    )),
                ));
            }
        }
        Ok(Rubric {
            file: file.to_string(),
            rules,
        })
    }

    /// The rule of that id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Ids of the rules whose conditions hold, in file order.
    pub fn matching(&self, facts: &dyn FactSource) -> Vec<&str> {
        self.rules
            .iter()
            .filter(|r| r.matches(facts))
            .map(|r| r.id.as_str())
            .collect()
    }

    /// Scores one set of facts: each factor is the maximum over matching rules (first rule wins
    /// a tie), with that rule's id and rendered reason as its evidence.
    pub fn score(&self, facts: &dyn FactSource) -> Dread {
        // (value, rule index) per factor, in Factor::ALL order.
        let mut best: [Option<(u8, usize)>; 5] = [None; 5];
        for (i, rule) in self.rules.iter().enumerate() {
            if !rule.matches(facts) {
                continue;
            }
            for (f, v) in &rule.set {
                let slot = &mut best[*f as usize];
                if slot.is_none_or(|(cur, _)| *v > cur) {
                    *slot = Some((*v, i));
                }
            }
        }
        let mut dread = Dread::default();
        let mut rendered: Vec<(usize, String)> = Vec::with_capacity(5);
        for f in Factor::ALL {
            // Baseline rules guarantee a value; stay total anyway.
            let Some((v, i)) = best[f as usize] else {
                continue;
            };
            dread.set(f, v);
            let rule = &self.rules[i];
            let reason = match rendered.iter().find(|(j, _)| *j == i) {
                Some((_, r)) => r.clone(),
                None => {
                    let r = rule.reason.render(facts);
                    rendered.push((i, r.clone()));
                    r
                }
            };
            dread.evidence.insert(
                f.as_str().to_string(),
                Evidence {
                    rule: rule.id.clone(),
                    reason,
                },
            );
        }
        dread.score = score_of(Factor::ALL.map(|f| dread.get(f)));
        dread.severity = severity_of(dread.score);
        dread
    }
}
