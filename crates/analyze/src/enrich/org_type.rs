//! Organisation type (university, hospital, cloud, isp, government, other) from rules kept as
//! data in `knowledge/org-types.toml`.
//!
//! The rules read three kinds of evidence about who holds an address: organisation names (the
//! record's `org`, the source's `net.isp`, the TLS certificate's subject organisation
//! `tls.cert_org`), and host names (the record's host name, `net.hostnames`, `net.domains`, the
//! certificate's `tls.cert_sans`). A rule lists name patterns (words or phrases, matched on word
//! boundaries after folding case and common diacritics, with `*` at either end to allow a word
//! to go on — German and Nordic compounds), domain patterns (a suffix of whole labels, `*`
//! and `?` inside a label) and label patterns (one whole label anywhere in a host name).
//!
//! Every pattern of the file is compiled once: name patterns into one Aho-Corasick automaton
//! (word boundaries are checked on its matches, which keeps hundreds of Unicode-aware patterns
//! small), host patterns into two `RegexSet`s over ASCII. Classifying a service runs at most
//! three automata per input string whatever the number of rules. When rules of
//! several types match, the verdict is the match with the highest rule `priority`, then the
//! type that comes first in the file's `precedence`; the file says why that order.

use std::collections::HashMap;
use std::fmt;

use aho_corasick::AhoCorasick;
use medsurface_model::Service;
use regex::RegexSet;
use serde::Deserialize;
use toml::Spanned;

use super::error::{OrgRulesError, OrgRulesErrorKind};
use crate::error::line_of;

/// The shipped rules, compiled into the binary.
pub const BUILTIN_TOML: &str = include_str!("../../../../knowledge/org-types.toml");
/// How the shipped rules are named in errors.
pub const BUILTIN_NAME: &str = "knowledge/org-types.toml";

/// Longest input string looked at (names and host names are short; peer text is hostile).
const MAX_INPUT: usize = 256;
/// Most host names looked at per service (a certificate may list thousands of SANs).
const MAX_HOSTS: usize = 32;

/// Who holds an address, as the research groups owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrgType {
    /// Universities and other higher-education and academic-medicine institutions.
    University,
    /// Hospitals, clinics, imaging centres and health services that treat patients.
    Hospital,
    /// Cloud, hosting and data-centre providers.
    Cloud,
    /// Internet service providers and telecommunication carriers.
    Isp,
    /// Public administrations, ministries, agencies, the military.
    Government,
    /// Anything else (companies, vendors, unknown owners).
    Other,
}

impl OrgType {
    pub const ALL: [OrgType; 6] = [
        OrgType::University,
        OrgType::Hospital,
        OrgType::Cloud,
        OrgType::Isp,
        OrgType::Government,
        OrgType::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgType::University => "university",
            OrgType::Hospital => "hospital",
            OrgType::Cloud => "cloud",
            OrgType::Isp => "isp",
            OrgType::Government => "government",
            OrgType::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<OrgType> {
        OrgType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for OrgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    precedence: Spanned<Vec<Spanned<String>>>,
    #[serde(rename = "rule")]
    rules: Vec<Spanned<RawRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    #[serde(rename = "type")]
    ty: Spanned<String>,
    #[serde(default)]
    priority: i32,
    #[serde(default)]
    names: Vec<Spanned<String>>,
    #[serde(default)]
    domains: Vec<Spanned<String>>,
    #[serde(default)]
    labels: Vec<Spanned<String>>,
    note: Spanned<String>,
    source: Spanned<String>,
}

/// One loaded rule (its patterns live in the compiled sets).
#[derive(Debug, Clone)]
pub struct OrgRule {
    pub id: String,
    pub org_type: OrgType,
    pub priority: i32,
    pub note: String,
    pub source: String,
    /// 1-based line of the rule in its file.
    pub line: usize,
}

/// Where a verdict came from: the rule and the input it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgVerdict {
    pub org_type: OrgType,
    /// The deciding rule's id; `None` when no rule matched (type `other`).
    pub rule: Option<String>,
    /// The input the deciding rule matched (`org`, `net.isp`, `hostname`, …).
    pub field: Option<&'static str>,
}

/// The evidence about one address's holder: organisation names and host names, each with the
/// field it came from.
#[derive(Debug, Clone, Default)]
pub struct OrgInputs<'a> {
    names: Vec<(&'static str, &'a str)>,
    hosts: Vec<(&'static str, &'a str)>,
}

impl<'a> OrgInputs<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    /// An organisation name (AS organisation, ISP, certificate O=).
    pub fn name(mut self, field: &'static str, value: &'a str) -> Self {
        if !value.trim().is_empty() {
            self.names.push((field, value));
        }
        self
    }

    /// A host or domain name.
    pub fn host(mut self, field: &'static str, value: &'a str) -> Self {
        if !value.trim().is_empty() && self.hosts.len() < MAX_HOSTS {
            self.hosts.push((field, value));
        }
        self
    }

    /// What a service record says about its holder.
    pub fn of_service(s: &'a Service) -> Self {
        let text = |k: &str| s.details.get(k).and_then(|v| v.as_str());
        let list = |k: &str| {
            s.details
                .get(k)
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
        };
        let mut inputs = OrgInputs::new();
        for (field, value) in [
            ("org", s.org.as_deref()),
            ("net.isp", text("net.isp")),
            ("tls.cert_org", text("tls.cert_org")),
        ] {
            if let Some(v) = value {
                inputs = inputs.name(field, v);
            }
        }
        if let Some(h) = s.hostname.as_deref() {
            inputs = inputs.host("hostname", h);
        }
        for field in ["net.hostnames", "net.domains", "tls.cert_sans"] {
            for h in list(field) {
                inputs = inputs.host(field, h);
            }
        }
        inputs
    }

    /// Whether there is anything to judge by.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.hosts.is_empty()
    }
}

/// The compiled rules.
#[derive(Debug, Clone)]
pub struct OrgTypes {
    rules: Vec<OrgRule>,
    /// Rank of each type in the precedence (0 wins), indexed by `OrgType as usize`.
    rank: [usize; 6],
    precedence: Vec<OrgType>,
    names: AhoCorasick,
    /// Per name pattern: its rule and whether each end needs a word boundary.
    name_rule: Vec<NamePattern>,
    domains: RegexSet,
    domain_rule: Vec<usize>,
    labels: RegexSet,
    label_rule: Vec<usize>,
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, offset: usize, kind: OrgRulesErrorKind) -> OrgRulesError {
        OrgRulesError {
            file: self.file.to_string(),
            line: line_of(self.text, offset),
            kind,
        }
    }
}

impl OrgTypes {
    /// The shipped rules (`knowledge/org-types.toml`).
    pub fn builtin() -> Result<OrgTypes, OrgRulesError> {
        OrgTypes::parse(BUILTIN_NAME, BUILTIN_TOML)
    }

    /// Loads and compiles a rules file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<OrgTypes, OrgRulesError> {
        let cx = Ctx { file, text };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            cx.err(
                offset,
                OrgRulesErrorKind::Syntax(e.message().trim().to_string()),
            )
        })?;

        let mut precedence = Vec::new();
        for t in raw.precedence.get_ref() {
            let ty = OrgType::parse(t.get_ref()).ok_or_else(|| {
                cx.err(
                    t.span().start,
                    OrgRulesErrorKind::UnknownType(t.get_ref().clone()),
                )
            })?;
            if precedence.contains(&ty) {
                return Err(cx.err(
                    t.span().start,
                    OrgRulesErrorKind::Precedence(format!("`{ty}` is listed twice")),
                ));
            }
            precedence.push(ty);
        }
        if let Some(missing) = OrgType::ALL.iter().find(|t| !precedence.contains(t)) {
            return Err(cx.err(
                raw.precedence.span().start,
                OrgRulesErrorKind::Precedence(format!("`{missing}` is missing")),
            ));
        }
        let mut rank = [0; 6];
        for (i, t) in precedence.iter().enumerate() {
            rank[*t as usize] = i;
        }

        if raw.rules.is_empty() {
            return Err(cx.err(
                0,
                OrgRulesErrorKind::Missing("no [[rule]]: the file needs at least one".into()),
            ));
        }
        let mut rules = Vec::with_capacity(raw.rules.len());
        let mut seen: HashMap<String, usize> = HashMap::new();
        let (mut names, mut name_rule) = (Vec::new(), Vec::new());
        let (mut domains, mut domain_rule) = (Vec::new(), Vec::new());
        let (mut labels, mut label_rule) = (Vec::new(), Vec::new());
        for spanned in &raw.rules {
            let r = spanned.get_ref();
            let line = line_of(text, spanned.span().start);
            let id = r.id.get_ref();
            if id.is_empty()
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(cx.err(
                    r.id.span().start,
                    OrgRulesErrorKind::Missing(format!(
                        "rule id `{id}`: lower-case letters, digits and '-'"
                    )),
                ));
            }
            if let Some(first) = seen.insert(id.clone(), line_of(text, r.id.span().start)) {
                return Err(cx.err(
                    r.id.span().start,
                    OrgRulesErrorKind::DuplicateId(format!("`{id}`, first at line {first}")),
                ));
            }
            let org_type = OrgType::parse(r.ty.get_ref()).ok_or_else(|| {
                cx.err(
                    r.ty.span().start,
                    OrgRulesErrorKind::UnknownType(r.ty.get_ref().clone()),
                )
            })?;
            for (what, v) in [("note", &r.note), ("source", &r.source)] {
                if v.get_ref().trim().is_empty() {
                    return Err(cx.err(
                        v.span().start,
                        OrgRulesErrorKind::Missing(format!("rule `{id}`: {what} is empty")),
                    ));
                }
            }
            if r.names.is_empty() && r.domains.is_empty() && r.labels.is_empty() {
                return Err(cx.err(
                    spanned.span().start,
                    OrgRulesErrorKind::Missing(format!(
                        "rule `{id}` has no names, domains or labels"
                    )),
                ));
            }
            let index = rules.len();
            for p in &r.names {
                let (core, left, right) = name_pattern(p.get_ref())
                    .map_err(|m| cx.err(p.span().start, OrgRulesErrorKind::BadPattern(m)))?;
                names.push(core);
                name_rule.push(NamePattern {
                    rule: index,
                    left,
                    right,
                });
            }
            for p in &r.domains {
                let re = host_regex(p.get_ref(), HostPattern::Domain)
                    .map_err(|m| cx.err(p.span().start, OrgRulesErrorKind::BadPattern(m)))?;
                domains.push(re);
                domain_rule.push(index);
            }
            for p in &r.labels {
                let re = host_regex(p.get_ref(), HostPattern::Label)
                    .map_err(|m| cx.err(p.span().start, OrgRulesErrorKind::BadPattern(m)))?;
                labels.push(re);
                label_rule.push(index);
            }
            rules.push(OrgRule {
                id: id.clone(),
                org_type,
                priority: r.priority,
                note: r.note.get_ref().clone(),
                source: r.source.get_ref().clone(),
                line,
            });
        }
        let set = |patterns: &[String]| {
            RegexSet::new(patterns)
                .map_err(|e| cx.err(0, OrgRulesErrorKind::BadPattern(e.to_string())))
        };
        Ok(OrgTypes {
            names: AhoCorasick::new(&names)
                .map_err(|e| cx.err(0, OrgRulesErrorKind::BadPattern(e.to_string())))?,
            domains: set(&domains)?,
            labels: set(&labels)?,
            rules,
            rank,
            precedence,
            name_rule,
            domain_rule,
            label_rule,
        })
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[OrgRule] {
        &self.rules
    }

    /// The types from strongest to weakest, as the file orders them.
    pub fn precedence(&self) -> &[OrgType] {
        &self.precedence
    }

    /// The verdict for the evidence: `None` when there is none to judge by; `other` (without a
    /// rule) when nothing matched.
    pub fn classify(&self, inputs: &OrgInputs<'_>) -> Option<OrgVerdict> {
        if inputs.is_empty() {
            return None;
        }
        // (priority, -rank) of the best match so far, with its rule and field.
        let mut best: Option<((i32, isize), usize, &'static str)> = None;
        let mut consider = |rule: usize, field: &'static str| {
            let r = &self.rules[rule];
            let key = (r.priority, -(self.rank[r.org_type as usize] as isize));
            if best.is_none_or(|(k, _, _)| key > k) {
                best = Some((key, rule, field));
            }
        };
        for (field, name) in &inputs.names {
            let folded = fold(bounded(name));
            for m in self.names.find_overlapping_iter(&folded) {
                let p = &self.name_rule[m.pattern().as_usize()];
                let before = folded[..m.start()].chars().next_back();
                let after = folded[m.end()..].chars().next();
                let free = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
                if (!p.left || free(before)) && (!p.right || free(after)) {
                    consider(p.rule, field);
                }
            }
        }
        for (field, host) in &inputs.hosts {
            let host = normalise_host(bounded(host));
            if host.is_empty() {
                continue;
            }
            for i in self.domains.matches(&host).iter() {
                consider(self.domain_rule[i], field);
            }
            for i in self.labels.matches(&host).iter() {
                consider(self.label_rule[i], field);
            }
        }
        Some(match best {
            Some((_, rule, field)) => OrgVerdict {
                org_type: self.rules[rule].org_type,
                rule: Some(self.rules[rule].id.clone()),
                field: Some(field),
            },
            None => OrgVerdict {
                org_type: OrgType::Other,
                rule: None,
                field: None,
            },
        })
    }
}

/// At most [`MAX_INPUT`] bytes, cut at a character boundary.
fn bounded(s: &str) -> &str {
    if s.len() <= MAX_INPUT {
        return s;
    }
    let mut end = MAX_INPUT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Lower case, common Latin diacritics removed (ä → a, ß → ss, ł → l, …), runs of white space,
/// hyphens and underscores made one space. Applied alike to patterns and inputs, so "Universität", "Universitat" and
/// "UNIVERSITÄT" meet; letters it does not know are kept as they are, which is still exact.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.trim().chars().flat_map(char::to_lowercase) {
        if c.is_whitespace() || matches!(c, '-' | '_' | '\u{2010}'..='\u{2015}') {
            space = true;
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' | 'ạ' | 'ả' | 'ấ' | 'ầ' | 'ậ' => {
                out.push('a')
            }
            'æ' => out.push_str("ae"),
            'ç' | 'ć' | 'č' => out.push('c'),
            'ď' | 'đ' => out.push('d'),
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' | 'ệ' | 'ế' | 'ề' => {
                out.push('e')
            }
            'ğ' => out.push('g'),
            'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' | 'ị' => out.push('i'),
            'ł' | 'ľ' | 'ĺ' => out.push('l'),
            'ñ' | 'ń' | 'ň' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' | 'ọ' | 'ộ' | 'ố' | 'ồ' | 'ơ' | 'ớ' => {
                out.push('o')
            }
            'œ' => out.push_str("oe"),
            'ř' | 'ŕ' => out.push('r'),
            'ś' | 'š' | 'ş' | 'ș' => out.push('s'),
            'ß' => out.push_str("ss"),
            'ť' | 'ţ' | 'ț' => out.push('t'),
            'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' | 'ư' | 'ụ' | 'ứ' | 'ừ' => {
                out.push('u')
            }
            'ý' | 'ÿ' | 'ỳ' => out.push('y'),
            // Greek tonos: "Νοσοκομείο" meets "νοσοκομειο".
            'ά' => out.push('α'),
            'έ' => out.push('ε'),
            'ή' => out.push('η'),
            'ί' | 'ϊ' | 'ΐ' => out.push('ι'),
            'ό' => out.push('ο'),
            'ύ' | 'ϋ' | 'ΰ' => out.push('υ'),
            'ώ' => out.push('ω'),
            'ź' | 'ż' | 'ž' => out.push('z'),
            // Typographic apostrophes as the ASCII one.
            '\u{2019}' | '\u{2018}' | '`' => out.push('\''),
            c => out.push(c),
        }
    }
    out
}

/// Whether words in the script of `c` are separated by spaces, so a pattern edge on `c` needs a
/// word boundary. Han, kana, Hangul and Thai run words together: "東京大学" holds "大学".
fn spaced_script(c: char) -> bool {
    c.is_alphanumeric()
        && !matches!(c,
            '\u{0E00}'..='\u{0E7F}'      // Thai
            | '\u{3040}'..='\u{30FF}'    // Hiragana, Katakana
            | '\u{3400}'..='\u{4DBF}'    // CJK extension A
            | '\u{4E00}'..='\u{9FFF}'    // CJK unified ideographs
            | '\u{F900}'..='\u{FAFF}'    // CJK compatibility
            | '\u{AC00}'..='\u{D7AF}'    // Hangul syllables
            | '\u{1100}'..='\u{11FF}')
}

/// A compiled name pattern's rule and which of its ends need a word boundary.
#[derive(Debug, Clone, Copy)]
struct NamePattern {
    rule: usize,
    left: bool,
    right: bool,
}

/// A name pattern as (folded text, boundary needed on the left, on the right): words on
/// boundaries, `*` at an end lets the word go on (`klinik*` holds "Klinikum", `*klinik` holds
/// "Uniklinik"). Spaces and hyphens are one space after folding, in patterns and inputs alike.
fn name_pattern(pattern: &str) -> Result<(String, bool, bool), String> {
    let folded = fold(pattern);
    let mut core = folded.as_str();
    let open_left = core.starts_with('*');
    if open_left {
        core = &core[1..];
    }
    let open_right = core.ends_with('*');
    if open_right {
        core = &core[..core.len() - 1];
    }
    if core.trim().chars().count() < 2 {
        return Err(format!(
            "`{pattern}`: a name pattern needs at least two characters"
        ));
    }
    if core.contains('*') {
        return Err(format!(
            "`{pattern}`: `*` may only stand at the start or the end of a name pattern"
        ));
    }
    let first = core.chars().next().unwrap_or(' ');
    let last = core.chars().next_back().unwrap_or(' ');
    Ok((
        core.to_string(),
        !open_left && spaced_script(first),
        !open_right && spaced_script(last),
    ))
}

#[derive(Clone, Copy)]
enum HostPattern {
    /// Whole labels ending the host name: `ac.??`, `uni-*.de`, `amazonaws.com`.
    Domain,
    /// One whole label anywhere: `*klinik*`, `dsl*`.
    Label,
}

/// A host pattern as a regex over a normalised host name.
fn host_regex(pattern: &str, kind: HostPattern) -> Result<String, String> {
    if pattern.is_empty()
        || !pattern.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'*' | b'?')
        })
    {
        return Err(format!(
            "`{pattern}`: host patterns are lower-case ASCII letters, digits, '-', '.', '*' and '?'"
        ));
    }
    let labels: Vec<&str> = pattern.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return Err(format!("`{pattern}`: an empty label"));
    }
    if matches!(kind, HostPattern::Label) && labels.len() > 1 {
        return Err(format!(
            "`{pattern}`: a label pattern is one label (use `domains` for suffixes)"
        ));
    }
    if labels.iter().all(|l| l.bytes().all(|b| b == b'*')) {
        return Err(format!("`{pattern}`: matches everything"));
    }
    let compiled: Vec<String> = labels
        .iter()
        .map(|l| {
            l.chars()
                .map(|c| match c {
                    '*' => "[a-z0-9-]*".to_string(),
                    '?' => "[a-z0-9-]".to_string(),
                    c => regex::escape(&c.to_string()),
                })
                .collect::<String>()
        })
        .collect();
    let body = compiled.join(r"\.");
    Ok(match kind {
        HostPattern::Domain => format!(r"(?:^|\.){body}$"),
        HostPattern::Label => format!(r"(?:^|\.){body}(?:\.|$)"),
    })
}

/// Lower case, without a wildcard label (`*.` of certificate names) or a final dot.
fn normalise_host(h: &str) -> String {
    let h = h.trim().trim_end_matches('.');
    let h = h.strip_prefix("*.").unwrap_or(h);
    h.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINI: &str = r#"
precedence = ["university", "hospital", "government", "cloud", "isp", "other"]

[[rule]]
id = "uni"
type = "university"
names = ["universit*", "大学"]
domains = ["edu", "ac.??"]
note = "n"
source = "s"

[[rule]]
id = "hospital"
type = "hospital"
names = ["hospital", "*klinik*", "medical center"]
labels = ["*hospital*"]
note = "n"
source = "s"

[[rule]]
id = "cloud-services"
type = "cloud"
priority = 1
names = ["cloud services"]
note = "n"
source = "s"
"#;

    fn one(rules: &OrgTypes, name: &str, host: &str) -> OrgType {
        rules
            .classify(&OrgInputs::new().name("org", name).host("hostname", host))
            .map(|v| v.org_type)
            .expect("inputs")
    }

    #[test]
    fn words_match_on_boundaries_and_compounds_with_stars() {
        let r = OrgTypes::parse("mini.toml", MINI).unwrap();
        assert_eq!(one(&r, "Universität Wien", ""), OrgType::University);
        assert_eq!(one(&r, "UNIVERSITAT DE BARCELONA", ""), OrgType::University);
        assert_eq!(one(&r, "東京大学", ""), OrgType::University);
        assert_eq!(one(&r, "Universal Music", ""), OrgType::Other);
        assert_eq!(one(&r, "Uniklinikum Köln", ""), OrgType::Hospital);
        assert_eq!(one(&r, "Hospitality Group", ""), OrgType::Other);
        assert_eq!(one(&r, "St. Mary's Medical  Center", ""), OrgType::Hospital);
        assert_eq!(one(&r, "St. Mary's Medical-Center", ""), OrgType::Hospital);
        assert_eq!(one(&r, "Medical Centers Inc", ""), OrgType::Other);
    }

    #[test]
    fn precedence_then_priority_decide() {
        let r = OrgTypes::parse("mini.toml", MINI).unwrap();
        assert_eq!(
            one(&r, "University Hospital Zurich", ""),
            OrgType::University
        );
        assert_eq!(one(&r, "Hospital Cloud Services GmbH", ""), OrgType::Cloud);
        let v = r
            .classify(
                &OrgInputs::new()
                    .name("org", "Acme")
                    .host("net.hostnames", "pacs.ox.ac.uk"),
            )
            .unwrap();
        assert_eq!(v.org_type, OrgType::University);
        assert_eq!(v.rule.as_deref(), Some("uni"));
        assert_eq!(v.field, Some("net.hostnames"));
        assert!(r.classify(&OrgInputs::new()).is_none());
    }

    #[test]
    fn host_patterns_are_label_aligned() {
        let r = OrgTypes::parse("mini.toml", MINI).unwrap();
        assert_eq!(one(&r, "", "www.mit.edu"), OrgType::University);
        assert_eq!(one(&r, "", "*.med.ox.ac.uk."), OrgType::University);
        assert_eq!(one(&r, "", "education.example"), OrgType::Other);
        assert_eq!(one(&r, "", "ac.example.com"), OrgType::Other);
        assert_eq!(one(&r, "", "pacs.stmaryshospital.org"), OrgType::Hospital);
    }

    #[test]
    fn bad_files_name_the_line() {
        let unknown_type = MINI.replace("type = \"cloud\"", "type = \"clowd\"");
        let e = OrgTypes::parse("x.toml", &unknown_type).unwrap_err();
        assert_eq!(e.kind, OrgRulesErrorKind::UnknownType("clowd".into()));
        assert_eq!(
            e.line,
            1 + MINI.lines().position(|l| l == "type = \"cloud\"").unwrap()
        );
        assert!(e.to_string().starts_with(&format!("x.toml:{}: ", e.line)));

        let unknown_key = MINI.replace("priority = 1", "priorty = 1");
        let e = OrgTypes::parse("x.toml", &unknown_key).unwrap_err();
        assert!(matches!(e.kind, OrgRulesErrorKind::Syntax(_)), "{e}");
        assert_eq!(
            e.line,
            1 + MINI.lines().position(|l| l.contains("priority")).unwrap()
        );

        let dup = MINI.replace("id = \"hospital\"", "id = \"uni\"");
        let e = OrgTypes::parse("x.toml", &dup).unwrap_err();
        assert!(matches!(e.kind, OrgRulesErrorKind::DuplicateId(_)), "{e}");

        let bad_host = MINI.replace("\"ac.??\"", "\"AC.UK\"");
        let e = OrgTypes::parse("x.toml", &bad_host).unwrap_err();
        assert!(matches!(e.kind, OrgRulesErrorKind::BadPattern(_)), "{e}");
        assert_eq!(
            e.line,
            1 + MINI.lines().position(|l| l.contains("ac.??")).unwrap()
        );

        let star_inside = MINI.replace("\"universit*\"", "\"uni*sity\"");
        let e = OrgTypes::parse("x.toml", &star_inside).unwrap_err();
        assert!(matches!(e.kind, OrgRulesErrorKind::BadPattern(_)), "{e}");

        let no_other = MINI.replace(", \"other\"]", "]");
        let e = OrgTypes::parse("x.toml", &no_other).unwrap_err();
        assert!(matches!(e.kind, OrgRulesErrorKind::Precedence(_)), "{e}");

        let no_source = MINI.replacen("source = \"s\"", "source = \" \"", 1);
        let e = OrgTypes::parse("x.toml", &no_source).unwrap_err();
        assert!(matches!(e.kind, OrgRulesErrorKind::Missing(_)), "{e}");
    }

    #[test]
    fn the_builtin_rules_load_and_every_type_has_a_rule() {
        let r = OrgTypes::builtin().unwrap_or_else(|e| panic!("{e}"));
        for t in OrgType::ALL {
            if t != OrgType::Other {
                assert!(r.rules().iter().any(|x| x.org_type == t), "no rule for {t}");
            }
        }
    }

    #[test]
    fn hostile_input_is_bounded() {
        let r = OrgTypes::builtin().unwrap();
        let long = "a".repeat(100_000) + " University";
        // Cut before the word: bounded, and no panic on a multi-byte boundary.
        assert_eq!(one(&r, &long, ""), OrgType::Other);
        let multibyte = "ä".repeat(200);
        assert_eq!(one(&r, &multibyte, ""), OrgType::Other);
    }
}
