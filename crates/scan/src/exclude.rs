//! The exclusion list: ranges medsurface never probes, each with the reason it is excluded.
//!
//! Like zmap's `blocklist.conf`, the built-in list is a data file, `conf/exclude.conf`,
//! compiled into the binary; its format is documented at the top of that file and is the same
//! for user files given with `--exclude`. Rules are validated strictly on load (habit 6): a bad
//! CIDR, host bits set, an unknown section or a missing note in the built-in file is an error
//! naming the file and line.
//!
//! Applying the list is never silent. A target that lies entirely inside excluded ranges is
//! refused with a [`Refusal`] naming the target, the rule, its note and its line: the user
//! asked for something we will not do, so the run stops. A target that merely overlaps a rule
//! loses the excluded addresses and gets an [`ExclusionNote`] saying how many, which the CLI
//! prints. That is why exclusion works on the per-argument specifications kept by
//! [`Targets`], not on the merged ranges.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use crate::targets::{merge_spans, subtract_spans, Family, Span, Spec, Targets};

/// The built-in rules, checked by the tests of this module.
const BUILTIN: &str = include_str!("../../../conf/exclude.conf");

/// How the built-in rules name their file in messages.
pub const BUILTIN_FILE: &str = "built-in exclude.conf";

/// Which built-in sections apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExclusionPolicy {
    /// Reserved and private ranges are excluded: the right default for internet scans.
    #[default]
    ExcludePrivate,
    /// Only reserved ranges are excluded: a hospital team scanning its internal network.
    AllowPrivate,
}

/// The section of the exclusion file a rule is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Always excluded.
    Reserved,
    /// Excluded unless [`ExclusionPolicy::AllowPrivate`] (built-in file only).
    Private,
}

/// One excluded range and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub net: IpNet,
    pub note: String,
    pub file: String,
    pub line: usize,
    pub section: Section,
}

impl Rule {
    fn span(&self) -> Span {
        Span::block(self.net.network(), self.net.prefix_len())
    }
}

/// Why a line of an exclusion file is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleProblem {
    #[error("not a CIDR block or an address")]
    BadNetwork,
    #[error("host bits are set; the block is {network}")]
    HostBitsSet { network: IpNet },
    #[error("the rule has no note saying why the range is excluded")]
    MissingNote,
    #[error("unknown section [{name}] (expected [reserved] or [private])")]
    UnknownSection { name: String },
    #[error("the line is not valid UTF-8")]
    NotUtf8,
}

/// Why an exclusion list could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ExclusionError {
    #[error("cannot read exclusion file {file}")]
    ReadFile {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}: {reason}: {text:?}")]
    BadLine {
        file: String,
        line: usize,
        text: String,
        reason: RuleProblem,
    },
}

/// A target the user asked for that lies entirely inside excluded ranges.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing to scan {target}: it lies inside {rule}, excluded because it is {note} \
     ({file}:{line})"
)]
pub struct Refusal {
    /// The target as the user wrote it (with file:line when it came from an @file).
    pub target: String,
    pub rule: IpNet,
    pub note: String,
    pub file: String,
    pub line: usize,
    /// Lets the CLI suggest lifting private exclusions when that is what stopped the scan.
    pub section: Section,
}

/// Addresses removed from a target that only partly overlapped a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExclusionNote {
    pub target: String,
    pub rule: IpNet,
    pub note: String,
    pub file: String,
    pub line: usize,
    /// Addresses of this target inside this rule (they may lie inside another rule too).
    pub excluded: u128,
}

impl fmt::Display for ExclusionNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.excluded == 1 { "" } else { "es" };
        write!(
            f,
            "skipping {} address{plural} of {} inside {}: {} ({}:{})",
            self.excluded, self.target, self.rule, self.note, self.file, self.line
        )
    }
}

/// Whether a file's rules must carry notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notes {
    Required,
    Optional,
}

/// A set of exclusion rules, ready to apply to targets.
#[derive(Debug, Clone, Default)]
pub struct ExclusionList {
    /// Sorted by (family, first address).
    rules: Vec<Rule>,
    spans: Vec<Span>,
    /// `reach[k]`: the largest last address among `spans[..=k]` of the same family, so the
    /// rules touching a range are found by binary search even when user rules overlap.
    reach: Vec<(Family, u128)>,
    /// The union of all rules.
    holes: Vec<Span>,
}

impl ExclusionList {
    /// The built-in rules of `conf/exclude.conf`, filtered by `policy`.
    pub fn builtin(policy: ExclusionPolicy) -> Result<ExclusionList, ExclusionError> {
        let rules = parse_rules(BUILTIN, BUILTIN_FILE, Notes::Required)?;
        let rules = rules
            .into_iter()
            .filter(|r| r.section == Section::Reserved || policy == ExclusionPolicy::ExcludePrivate)
            .collect();
        Ok(ExclusionList::from_rules(rules))
    }

    /// Rules from a user file (format of `conf/exclude.conf`; notes optional; every section
    /// applies).
    pub fn from_file(path: &Path) -> Result<ExclusionList, ExclusionError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| ExclusionError::ReadFile {
            file: file.clone(),
            source,
        })?;
        let mut rules = Vec::new();
        for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
            let Ok(text) = std::str::from_utf8(line) else {
                return Err(ExclusionError::BadLine {
                    file,
                    line: index + 1,
                    text: medsurface_model::text::printable(line, 200),
                    reason: RuleProblem::NotUtf8,
                });
            };
            // Parse line by line so numbering survives the UTF-8 check above.
            let mut parsed = parse_rules(text, &file, Notes::Optional).map_err(|e| match e {
                ExclusionError::BadLine {
                    file, text, reason, ..
                } => ExclusionError::BadLine {
                    file,
                    line: index + 1,
                    text,
                    reason,
                },
                other => other,
            })?;
            for rule in &mut parsed {
                rule.line = index + 1;
                // Sections only matter for the built-in list; in a user file every rule applies.
                rule.section = Section::Reserved;
            }
            rules.extend(parsed);
        }
        Ok(ExclusionList::from_rules(rules))
    }

    /// Rules from text in the exclusion file format, named `file` in messages.
    pub fn parse(text: &str, file: &str) -> Result<ExclusionList, ExclusionError> {
        Ok(ExclusionList::from_rules(parse_rules(
            text,
            file,
            Notes::Optional,
        )?))
    }

    /// Adds every rule of `other`.
    pub fn extend(&mut self, other: ExclusionList) {
        let mut rules = std::mem::take(&mut self.rules);
        rules.extend(other.rules);
        *self = ExclusionList::from_rules(rules);
    }

    /// The rules, sorted by address.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether `ip` lies inside any rule.
    pub fn excludes(&self, ip: IpAddr) -> bool {
        let (family, value) = Family::of(ip);
        let k = self
            .holes
            .partition_point(|h| (h.family, h.last) < (family, value));
        self.holes.get(k).is_some_and(|h| h.contains(family, value))
    }

    /// Removes excluded addresses from `targets`. A target entirely inside excluded ranges is
    /// refused; a target partly inside gets one note per rule it overlaps.
    pub fn apply(&self, targets: Targets) -> Result<(Targets, Vec<ExclusionNote>), Refusal> {
        let (args, specs, mut names) = targets.into_parts();
        let mut notes = Vec::new();
        let mut kept = Vec::with_capacity(specs.len());
        for spec in specs {
            let hits = self.hits(&spec);
            if hits.is_empty() {
                kept.push(spec);
                continue;
            }
            let remaining = subtract_spans(&spec.spans, &self.holes);
            if remaining.is_empty() {
                // Name the rule holding most of the target (the only one, usually).
                let mut best = hits[0];
                for &hit in &hits[1..] {
                    if hit.1 > best.1 {
                        best = hit;
                    }
                }
                let rule = &self.rules[best.0];
                return Err(Refusal {
                    target: spec.describe(),
                    rule: rule.net,
                    note: rule.note.clone(),
                    file: rule.file.clone(),
                    line: rule.line,
                    section: rule.section,
                });
            }
            let target = spec.describe();
            for (index, excluded) in hits {
                let rule = &self.rules[index];
                notes.push(ExclusionNote {
                    target: target.clone(),
                    rule: rule.net,
                    note: rule.note.clone(),
                    file: rule.file.clone(),
                    line: rule.line,
                    excluded,
                });
            }
            kept.push(Spec {
                spans: remaining,
                ..spec
            });
        }
        names.retain(|ip, _| !self.excludes(*ip));
        Ok((Targets::assemble_subset(args, kept, names), notes))
    }

    /// Rules overlapping a target, with how many of its addresses each one holds.
    fn hits(&self, spec: &Spec) -> Vec<(usize, u128)> {
        let mut hits: Vec<(usize, u128)> = Vec::new();
        for span in &spec.spans {
            let lo = self
                .reach
                .partition_point(|r| *r < (span.family, span.first));
            let hi = self
                .spans
                .partition_point(|s| (s.family, s.first) <= (span.family, span.last));
            for index in lo..hi.max(lo) {
                let Some(overlap) = span.overlap(&self.spans[index]) else {
                    continue;
                };
                match hits.iter_mut().find(|(i, _)| *i == index) {
                    Some(hit) => hit.1 = hit.1.saturating_add(overlap.count()),
                    None => hits.push((index, overlap.count())),
                }
            }
        }
        hits
    }

    fn from_rules(mut rules: Vec<Rule>) -> ExclusionList {
        rules.sort_by_key(|r| r.span());
        let spans: Vec<Span> = rules.iter().map(Rule::span).collect();
        let mut reach: Vec<(Family, u128)> = Vec::with_capacity(spans.len());
        for span in &spans {
            let prev = reach.last().copied();
            reach.push(match prev {
                Some((family, last)) if family == span.family => (family, last.max(span.last)),
                _ => (span.family, span.last),
            });
        }
        let holes = merge_spans(spans.clone());
        ExclusionList {
            rules,
            spans,
            reach,
            holes,
        }
    }
}

fn parse_rules(text: &str, file: &str, notes: Notes) -> Result<Vec<Rule>, ExclusionError> {
    let mut rules = Vec::new();
    let mut section = Section::Reserved;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let bad = |reason| ExclusionError::BadLine {
            file: file.to_string(),
            line: index + 1,
            text: line.to_string(),
            reason,
        };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = match name.trim() {
                "reserved" => Section::Reserved,
                "private" => Section::Private,
                other => {
                    return Err(bad(RuleProblem::UnknownSection {
                        name: other.to_string(),
                    }))
                }
            };
            continue;
        }
        let (cidr, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let net = parse_network(cidr).map_err(bad)?;
        let note = rest.trim();
        let note = note.strip_prefix('#').unwrap_or(note).trim();
        let note = match (note.is_empty(), notes) {
            (false, _) => note.to_string(),
            (true, Notes::Required) => return Err(bad(RuleProblem::MissingNote)),
            (true, Notes::Optional) => format!("listed in {file}"),
        };
        rules.push(Rule {
            net,
            note,
            file: file.to_string(),
            line: index + 1,
            section,
        });
    }
    Ok(rules)
}

fn parse_network(text: &str) -> Result<IpNet, RuleProblem> {
    if text.contains('/') {
        let net: IpNet = text.parse().map_err(|_| RuleProblem::BadNetwork)?;
        if net.trunc() != net {
            return Err(RuleProblem::HostBitsSet {
                network: net.trunc(),
            });
        }
        Ok(net)
    } else {
        let ip: IpAddr = text.parse().map_err(|_| RuleProblem::BadNetwork)?;
        Ok(IpNet::from(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::parse_targets;

    fn targets(list: &[&str]) -> Targets {
        let args: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        parse_targets(&args).unwrap()
    }

    fn builtin() -> ExclusionList {
        ExclusionList::builtin(ExclusionPolicy::ExcludePrivate).unwrap()
    }

    #[test]
    fn builtin_file_is_valid() {
        let list = builtin();
        assert!(list.rules().len() >= 20, "{}", list.rules().len());
        for rule in list.rules() {
            assert!(!rule.note.trim().is_empty(), "line {}", rule.line);
            assert_eq!(rule.net.trunc(), rule.net, "line {}", rule.line);
            assert_eq!(rule.file, BUILTIN_FILE);
        }
        // No two built-in rules overlap: each range is excluded for exactly one stated reason.
        for pair in list.spans.windows(2) {
            assert!(
                pair[0].overlap(&pair[1]).is_none(),
                "{:?} overlaps {:?}",
                pair[0],
                pair[1]
            );
        }
        let private = list
            .rules()
            .iter()
            .filter(|r| r.section == Section::Private)
            .count();
        assert_eq!(private, 7);
        let allowed = ExclusionList::builtin(ExclusionPolicy::AllowPrivate).unwrap();
        assert_eq!(allowed.rules().len(), list.rules().len() - private);
        for must in [
            "0.0.0.0/8",
            "224.0.0.0/4",
            "240.0.0.0/4",
            "2001:db8::/32",
            "ff00::/8",
            "::/128",
        ] {
            let net: IpNet = must.parse().unwrap();
            assert!(
                allowed.rules().iter().any(|r| r.net == net),
                "{must} missing"
            );
        }
    }

    #[test]
    fn loopback_is_never_excluded() {
        for policy in [
            ExclusionPolicy::ExcludePrivate,
            ExclusionPolicy::AllowPrivate,
        ] {
            let list = ExclusionList::builtin(policy).unwrap();
            let (t, notes) = list.apply(targets(&["127.0.0.0/8", "::1"])).unwrap();
            assert_eq!(t.len(), (1 << 24) + 1);
            assert!(notes.is_empty());
            assert!(!list.excludes("127.0.0.1".parse().unwrap()));
        }
    }

    #[test]
    fn a_target_inside_a_rule_is_refused_naming_the_rule() {
        let refusal = builtin().apply(targets(&["198.51.100.0/25", "192.0.2.7"]));
        let refusal = match refusal {
            Err(r) => r,
            Ok((t, _)) => panic!("accepted {} addresses", t.len()),
        };
        assert_eq!(refusal.target, "198.51.100.0/25");
        assert_eq!(refusal.rule, "198.51.100.0/24".parse::<IpNet>().unwrap());
        assert!(refusal.note.contains("TEST-NET-2"), "{}", refusal.note);
        assert_eq!(refusal.section, Section::Reserved);
        let line = BUILTIN
            .lines()
            .position(|l| l.starts_with("198.51.100.0/24"))
            .unwrap();
        assert_eq!(refusal.line, line + 1);
        let msg = refusal.to_string();
        assert!(
            msg.contains("198.51.100.0/24") && msg.contains(BUILTIN_FILE),
            "{msg}"
        );

        let refusal = builtin().apply(targets(&["192.0.2.7"])).unwrap_err();
        assert_eq!(refusal.rule.to_string(), "192.0.2.0/24");
    }

    #[test]
    fn the_whole_ipv4_space_loses_exactly_the_excluded_ranges() {
        let (t, notes) = builtin().apply(targets(&["0.0.0.0/0"])).unwrap();
        let reserved: u128 = (1 << 24) + 256 * 5 + (1 << 17) + (1 << 28) * 2;
        let private: u128 = (1 << 24) + (1 << 22) + (1 << 16) + (1 << 20) + (1 << 16);
        assert_eq!(t.len(), (1u128 << 32) - reserved - private);
        assert_eq!(notes.len(), 14);
        assert_eq!(
            notes.iter().map(|n| n.excluded).sum::<u128>(),
            reserved + private
        );
        assert!(notes.iter().all(|n| n.target == "0.0.0.0/0"));
        let excluded_first = t.get(0).unwrap().0;
        assert_eq!(excluded_first.to_string(), "1.0.0.0");

        let allowed = ExclusionList::builtin(ExclusionPolicy::AllowPrivate).unwrap();
        let (t, _) = allowed.apply(targets(&["0.0.0.0/0"])).unwrap();
        assert_eq!(t.len(), (1u128 << 32) - reserved);
    }

    #[test]
    fn private_ranges_depend_on_the_policy() {
        let refusal = builtin().apply(targets(&["10.1.2.0/24"])).unwrap_err();
        assert_eq!(refusal.section, Section::Private);
        assert_eq!(refusal.rule.to_string(), "10.0.0.0/8");
        let allowed = ExclusionList::builtin(ExclusionPolicy::AllowPrivate).unwrap();
        let (t, notes) = allowed.apply(targets(&["10.1.2.0/24", "fd00::1"])).unwrap();
        assert_eq!(t.len(), 257);
        assert!(notes.is_empty());
    }

    #[test]
    fn partial_overlap_is_trimmed_and_noted() {
        let (t, notes) = builtin()
            .apply(targets(&["192.0.1.250-192.0.3.4"]))
            .unwrap();
        // 192.0.1.250..=192.0.1.255 (6) + 192.0.3.0..=192.0.3.4 (5); 192.0.2.0/24 removed.
        assert_eq!(t.len(), 11);
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].excluded, 256);
        assert_eq!(notes[0].rule.to_string(), "192.0.2.0/24");
        assert!(
            notes[0].to_string().contains("256 addresses"),
            "{}",
            notes[0]
        );
        for i in 0..t.len() {
            let ip = t.get(i).unwrap().0;
            assert!(!builtin().excludes(ip), "{ip}");
        }
    }

    #[test]
    fn user_files_parse_with_and_without_notes_and_extend() {
        let text =
            "# ours\n203.0.112.0/24 # partner network\n198.51.99.1\n[private]\n2001:db9::/48 lab\n";
        let mut list = ExclusionList::parse(text, "mine.conf").unwrap();
        assert_eq!(list.rules().len(), 3);
        let single = list
            .rules()
            .iter()
            .find(|r| r.net.prefix_len() == 32)
            .unwrap();
        assert_eq!(single.note, "listed in mine.conf");
        assert_eq!(single.line, 3);
        let partner = list.rules().iter().find(|r| r.line == 2).unwrap();
        assert_eq!(partner.note, "partner network");
        list.extend(builtin());
        let refusal = list.apply(targets(&["203.0.112.9"])).unwrap_err();
        assert_eq!((refusal.file.as_str(), refusal.line), ("mine.conf", 2));
        // A target inside two overlapping rules names the first one holding all of it.
        let list = ExclusionList::parse("8.0.0.0/8 a\n8.8.0.0/16 b\n", "x").unwrap();
        let refusal = list.apply(targets(&["8.8.8.0/24"])).unwrap_err();
        assert_eq!(
            (refusal.rule.to_string().as_str(), refusal.note.as_str()),
            ("8.0.0.0/8", "a")
        );
    }

    #[test]
    fn overlapping_user_rules_count_per_rule() {
        let list = ExclusionList::parse("8.0.0.0/8 a\n8.8.0.0/16 b\n", "x").unwrap();
        let (t, notes) = list.apply(targets(&["7.255.255.254-8.0.0.1"])).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].excluded, 2);
        let (t, notes) = list.apply(targets(&["7.255.255.255-8.8.0.0"])).unwrap();
        assert_eq!(t.len(), 1);
        let mut seen: Vec<(String, u128)> =
            notes.iter().map(|n| (n.note.clone(), n.excluded)).collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                ("a".to_string(), 0x08_08_00_01 - 0x08_00_00_00),
                ("b".to_string(), 1)
            ]
        );
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let cases = [
            (
                "10.0.0.0/8 ok\n10.0.0.1/8 bad\n",
                2,
                RuleProblem::HostBitsSet {
                    network: "10.0.0.0/8".parse().unwrap(),
                },
            ),
            ("# c\n\nnonsense here\n", 3, RuleProblem::BadNetwork),
            (
                "[public]\n",
                1,
                RuleProblem::UnknownSection {
                    name: "public".into(),
                },
            ),
            ("10.0.0.0/33 x\n", 1, RuleProblem::BadNetwork),
        ];
        for (text, want_line, want) in cases {
            match ExclusionList::parse(text, "f.conf") {
                Err(ExclusionError::BadLine {
                    file, line, reason, ..
                }) => {
                    assert_eq!((file.as_str(), line, reason), ("f.conf", want_line, want));
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        match parse_rules("10.0.0.0/8\n", "builtin", Notes::Required) {
            Err(ExclusionError::BadLine { reason, .. }) => {
                assert_eq!(reason, RuleProblem::MissingNote)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn from_file_reads_and_reports_lines() {
        let dir = std::env::temp_dir();
        let good = dir.join(format!(
            "medsurface-exclude-{}-good.conf",
            std::process::id()
        ));
        std::fs::write(&good, "# mine\n\n203.0.112.0/24 partner\n").unwrap();
        let list = ExclusionList::from_file(&good).unwrap();
        assert_eq!(list.rules().len(), 1);
        assert_eq!(list.rules()[0].line, 3);
        let bad = dir.join(format!(
            "medsurface-exclude-{}-bad.conf",
            std::process::id()
        ));
        std::fs::write(&bad, b"203.0.112.0/24 partner\n\xff\xfe\n").unwrap();
        match ExclusionList::from_file(&bad) {
            Err(ExclusionError::BadLine { line, reason, .. }) => {
                assert_eq!((line, reason), (2, RuleProblem::NotUtf8))
            }
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_file(&good);
        let _ = std::fs::remove_file(&bad);
        assert!(matches!(
            ExclusionList::from_file(&dir.join("medsurface-no-such-exclude.conf")),
            Err(ExclusionError::ReadFile { .. })
        ));
    }
}
