//! Compiled matchers: one condition over one observation field, evaluated without allocating.
//!
//! A condition names its subject (`port`, `protocol`, `transport` or a key of
//! [`medsurface_model::fields::FIELDS`], optionally one member of a JSON object such as a
//! header) and one test. Tests were checked against the field's type when the signature was
//! loaded, so evaluation never has to guess: a string test reads a string (or any string of a
//! list), an integer test reads an integer.
//!
//! A [`Classifier`](crate::Classifier) tries up to every signature on one observation, so the
//! same field (a page title, a page body) meets many `contains` tests in one call. It gathers
//! those needles into [`LiteralGroups`], one multi-pattern automaton per subject and case
//! mode, and a per-call [`Scratch`] searches a field once, on the first test that needs it,
//! remembering which needles occur; every later test of that field is a bit lookup. The
//! scratch also walks the observation's details once, so that a condition finds its field's
//! value by position instead of a map lookup. [`Cond::holds`], without a scratch, answers the
//! same by searching each needle alone; the evidence of a verdict and
//! [`Signature::matches`](crate::Signature::matches) use it, and the tests compare the two.

use medsurface_model::fields::{self, FieldType};
use medsurface_model::Observation;
use regex::Regex;
use serde_json::Value;

use crate::signature::FieldMask;

/// What a condition reads.
#[derive(Debug, Clone)]
pub(crate) enum Subject {
    Port,
    Protocol,
    Transport,
    Detail {
        name: &'static str,
        /// The field's position in [`medsurface_model::fields::FIELDS`].
        index: usize,
        ty: FieldType,
        /// A member of a JSON object field (matched case-insensitively, as header names are).
        key: Option<String>,
    },
}

impl Subject {
    pub(crate) fn name(&self) -> String {
        match self {
            Subject::Port => "port".into(),
            Subject::Protocol => "protocol".into(),
            Subject::Transport => "transport".into(),
            Subject::Detail {
                name, key: None, ..
            } => (*name).into(),
            Subject::Detail {
                name, key: Some(k), ..
            } => format!("{name}[{k}]"),
        }
    }
}

/// A value a field holds, borrowed from the observation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Got<'a> {
    Int(i64),
    Str(&'a str),
    Json(&'a Value),
}

/// A scalar in a signature file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Want {
    Int(i64),
    Bool(bool),
    /// Lower-cased when the test is case-insensitive.
    Str(String),
}

#[derive(Debug, Clone)]
pub(crate) enum Test {
    Equals {
        want: Want,
        case_sensitive: bool,
    },
    In {
        want: Vec<Want>,
        case_sensitive: bool,
    },
    /// `contains` and `prefix` of ASCII text: a direct byte search (ASCII case folding unless
    /// case-sensitive). Faster than a regex call for the short strings titles are.
    Literal(Literal),
    /// `contains` and `prefix` of non-ASCII text: an escaped literal regex (`(?i)` unless
    /// case-sensitive).
    Pattern(Regex),
    Regex(Regex),
    Exists(bool),
}

impl Test {
    /// Relative cost: cheap tests run first so that most signatures fail before any regex.
    pub(crate) fn cost(&self) -> u8 {
        match self {
            Test::Equals { .. } | Test::In { .. } | Test::Exists(_) => 0,
            Test::Literal(_) | Test::Pattern(_) => 1,
            Test::Regex(_) => 2,
        }
    }
}

/// One condition with the text that describes it in evidence.
#[derive(Debug, Clone)]
pub(crate) struct Cond {
    pub(crate) subject: Subject,
    pub(crate) test: Test,
    pub(crate) rule: String,
    /// How much this condition narrows a match (see `signatures/README.md`, "Choosing").
    pub(crate) weight: u32,
}

/// A top-level matcher: one condition, or a group of which one must hold.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    One(Cond),
    Any(Vec<Cond>),
}

impl Matcher {
    pub(crate) fn cost(&self) -> u8 {
        match self {
            Matcher::One(c) => c.test.cost(),
            Matcher::Any(cs) => cs.iter().map(|c| c.test.cost()).max().unwrap_or(0),
        }
    }

    pub(crate) fn weight(&self) -> u32 {
        match self {
            Matcher::One(c) => c.weight,
            Matcher::Any(cs) => cs.iter().map(|c| c.weight).min().unwrap_or(0),
        }
    }

    /// The condition that holds (the first of an `any` group that does), if any.
    pub(crate) fn holding<'s>(&'s self, obs: &Observation) -> Option<&'s Cond> {
        match self {
            Matcher::One(c) => c.holds(obs).then_some(c),
            Matcher::Any(cs) => cs.iter().find(|c| c.holds(obs)),
        }
    }

    /// Whether the matcher holds, with the literal tests answered through `scratch` (the same
    /// answer as [`Matcher::holding`], which searches each needle on its own).
    pub(crate) fn holds_in<'o>(&self, obs: &'o Observation, scratch: &mut Scratch<'_, 'o>) -> bool {
        match self {
            Matcher::One(c) => c.holds_in(obs, Some(scratch)),
            Matcher::Any(cs) => cs.iter().any(|c| c.holds_in(obs, Some(&mut *scratch))),
        }
    }
}

/// Reads a subject from an observation; `None` when absent (or JSON null).
pub(crate) fn read<'a>(subject: &Subject, obs: &'a Observation) -> Option<Got<'a>> {
    match subject {
        Subject::Port => Some(Got::Int(i64::from(obs.port))),
        Subject::Protocol => obs.protocol.as_deref().map(Got::Str),
        Subject::Transport => Some(Got::Str(obs.transport.as_str())),
        Subject::Detail { name, key, .. } => detail(obs.details.get(*name)?, key.as_deref()),
    }
}

/// What a detail subject reads from its field's value.
fn detail<'a>(v: &'a Value, key: Option<&str>) -> Option<Got<'a>> {
    let v = match key {
        None => v,
        Some(k) => v
            .as_object()?
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(k))
            .map(|(_, v)| v)?,
    };
    match v {
        Value::Null => None,
        Value::String(s) => Some(Got::Str(s)),
        Value::Number(n) => n.as_i64().map(Got::Int).or(Some(Got::Json(v))),
        other => Some(Got::Json(other)),
    }
}

impl Cond {
    pub(crate) fn holds(&self, obs: &Observation) -> bool {
        self.holds_in(obs, None)
    }

    /// [`Cond::holds`]; with a scratch, a detail field is read from its per-call view and a
    /// literal test of a string goes through its group.
    fn holds_in<'o>(&self, obs: &'o Observation, scratch: Option<&mut Scratch<'_, 'o>>) -> bool {
        // Most conditions of a call are `contains` tests of a field whose group an earlier
        // condition already searched: the answer is a bit, without reading the field again.
        if let (Test::Literal(lit), Some(scratch)) = (&self.test, &scratch) {
            if let Some(known) = scratch.known(lit) {
                return known;
            }
        }
        let got = match (&self.subject, &scratch) {
            (
                Subject::Detail {
                    index, name, key, ..
                },
                Some(scratch),
            ) => scratch
                .value(*index, name, obs)
                .and_then(|v| detail(v, key.as_deref())),
            _ => read(&self.subject, obs),
        };
        if let Test::Exists(want) = self.test {
            return got.is_some() == want;
        }
        match got {
            None => false,
            Some(Got::Int(i)) => self.test_int(i),
            Some(Got::Str(s)) => match (&self.test, scratch) {
                (Test::Literal(lit), Some(scratch)) => scratch.literal_in(lit, s),
                _ => self.test_str(s),
            },
            Some(Got::Json(Value::Bool(b))) => self.test_bool(*b),
            // A list of strings holds when one of them does.
            Some(Got::Json(Value::Array(items))) => items
                .iter()
                .any(|item| item.as_str().is_some_and(|s| self.test_str(s))),
            Some(Got::Json(_)) => false,
        }
    }

    fn test_int(&self, got: i64) -> bool {
        match &self.test {
            Test::Equals {
                want: Want::Int(w), ..
            } => *w == got,
            Test::In { want, .. } => want.contains(&Want::Int(got)),
            _ => false,
        }
    }

    fn test_bool(&self, got: bool) -> bool {
        matches!(&self.test, Test::Equals { want: Want::Bool(w), .. } if *w == got)
    }

    fn test_str(&self, got: &str) -> bool {
        match &self.test {
            Test::Equals {
                want: Want::Str(w),
                case_sensitive,
            } => str_eq(w, got, *case_sensitive),
            Test::In {
                want,
                case_sensitive,
            } => want
                .iter()
                .any(|w| matches!(w, Want::Str(w) if str_eq(w, got, *case_sensitive))),
            Test::Literal(lit) => lit.is_in(got),
            Test::Pattern(re) | Test::Regex(re) => re.is_match(got),
            _ => false,
        }
    }
}

/// `want` is already lower-cased when the comparison is case-insensitive (ASCII folding).
fn str_eq(want: &str, got: &str, case_sensitive: bool) -> bool {
    if case_sensitive {
        want == got
    } else {
        want.eq_ignore_ascii_case(got)
    }
}

/// An ASCII literal searched for in a string.
#[derive(Debug, Clone)]
pub(crate) struct Literal {
    /// Lower-cased when the search is case-insensitive.
    needle: Vec<u8>,
    case_sensitive: bool,
    /// Only at the start of the string (`prefix`).
    anchored: bool,
    /// The unanchored search, built once: aho-corasick's vectorised prefilters scan a page
    /// body many times faster than a byte-by-byte loop (it was most of an import's time).
    searcher: Option<aho_corasick::AhoCorasick>,
    /// Where a classifier's [`LiteralGroups`] keeps this needle (unanchored needles only).
    slot: Option<Slot>,
}

/// A needle's place in [`LiteralGroups`]: its group, and its bit in [`Scratch::found`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    group: u8,
    bit: u16,
}

impl Literal {
    /// `None` when `text` is not ASCII (the caller falls back to a regex) or empty.
    pub(crate) fn new(text: &str, case_sensitive: bool, anchored: bool) -> Option<Literal> {
        if text.is_empty() || !text.is_ascii() {
            return None;
        }
        let needle = if case_sensitive {
            text.as_bytes().to_vec()
        } else {
            text.to_ascii_lowercase().into_bytes()
        };
        let searcher = if anchored {
            None
        } else {
            aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(!case_sensitive)
                .build([&needle])
                .ok()
        };
        Some(Literal {
            needle,
            case_sensitive,
            anchored,
            searcher,
            slot: None,
        })
    }

    pub(crate) fn is_in(&self, hay: &str) -> bool {
        let (hay, n) = (hay.as_bytes(), self.needle.as_slice());
        if hay.len() < n.len() {
            return false;
        }
        let same = |window: &[u8]| {
            if self.case_sensitive {
                window == n
            } else {
                window.eq_ignore_ascii_case(n)
            }
        };
        if self.anchored {
            return same(&hay[..n.len()]);
        }
        if let Some(searcher) = &self.searcher {
            return searcher.is_match(hay);
        }
        let first = n[0];
        let last_start = hay.len() - n.len();
        (0..=last_start).any(|i| {
            let b = hay[i];
            let hit = if self.case_sensitive {
                b == first
            } else {
                b.to_ascii_lowercase() == first
            };
            hit && same(&hay[i..i + n.len()])
        })
    }
}

/// Most groups a classifier keeps (one bit each in [`Scratch`]); the needles of further
/// groups are searched on their own.
const MAX_GROUPS: usize = 64;
/// Words of [`Scratch`]'s needle bits: at most `64 * FOUND_WORDS` grouped needles, so that a
/// scratch lives on the stack; further needles are searched on their own.
const FOUND_WORDS: usize = 8;

/// The unanchored `contains` needles of a classifier, one automaton per subject and case mode.
#[derive(Debug, Clone)]
pub(crate) struct LiteralGroups {
    groups: Vec<Group>,
}

#[derive(Debug, Clone)]
struct Group {
    /// Short strings: one overlapping pass of a DFA sees every needle that occurs.
    overlapping: aho_corasick::AhoCorasick,
    /// Long strings (a page body): leftmost-first search, case-sensitive over the needles as
    /// stored (lower-cased when the group is case-insensitive, and the string is then
    /// lower-cased chunk by chunk), so that aho-corasick's vectorised literal prefilters skip
    /// most of the string, which an overlapping DFA pass cannot. `None` when a needle is too
    /// long for the chunks.
    leftmost: Option<aho_corasick::AhoCorasick>,
    /// The distinct needles (lower-cased when the group is case-insensitive).
    needles: Vec<Vec<u8>>,
    /// For needle `i`: the other needles of which one is a prefix of the other, the only ones
    /// that can match where needle `i` starts.
    same_start: Vec<Vec<usize>>,
    case_sensitive: bool,
    /// The bit of the group's first needle; needle `i` has bit `base + i`.
    base: u16,
}

/// Strings at least this long are searched with [`Group::leftmost`].
const LONG: usize = 256;
/// Bytes lower-cased at a time for [`Group::leftmost`], into [`LOWER`].
const CHUNK: usize = 4096;

thread_local! {
    /// The lower-cased chunk of [`Group::search`] (at most [`CHUNK`] bytes).
    static LOWER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Whether two subjects read the same value (the grouping key, with the case mode).
fn same_subject(a: &Subject, b: &Subject) -> bool {
    match (a, b) {
        (Subject::Port, Subject::Port)
        | (Subject::Protocol, Subject::Protocol)
        | (Subject::Transport, Subject::Transport) => true,
        (
            Subject::Detail {
                name: n1, key: k1, ..
            },
            Subject::Detail {
                name: n2, key: k2, ..
            },
        ) => n1 == n2 && k1 == k2,
        _ => false,
    }
}

impl Group {
    fn new(needles: Vec<Vec<u8>>, case_sensitive: bool, base: u16) -> Option<Group> {
        let build = |kind, match_kind, insensitive| {
            aho_corasick::AhoCorasick::builder()
                .match_kind(match_kind)
                .ascii_case_insensitive(insensitive)
                .kind(kind)
                .build(&needles)
                .ok()
        };
        let standard = aho_corasick::MatchKind::Standard;
        let overlapping = build(
            Some(aho_corasick::AhoCorasickKind::DFA),
            standard,
            !case_sensitive,
        )
        .or_else(|| build(None, standard, !case_sensitive))?;
        let longest = needles.iter().map(Vec::len).max().unwrap_or(0);
        let leftmost = if longest * 2 <= CHUNK {
            build(None, aho_corasick::MatchKind::LeftmostFirst, false)
        } else {
            None
        };
        let same_start = needles
            .iter()
            .enumerate()
            .map(|(i, n)| {
                (0..needles.len())
                    .filter(|&j| {
                        j != i && (n.starts_with(&needles[j]) || needles[j].starts_with(n))
                    })
                    .collect()
            })
            .collect();
        Some(Group {
            overlapping,
            leftmost,
            needles,
            same_start,
            case_sensitive,
            base,
        })
    }

    /// Sets the bit of every needle that occurs in `hay`; `None` if the search could not run.
    fn search(&self, hay: &[u8], found: &mut [u64; FOUND_WORDS]) -> Option<()> {
        match &self.leftmost {
            Some(leftmost) if hay.len() >= LONG => {
                if self.case_sensitive {
                    return self.search_leftmost(leftmost, hay, found);
                }
                // Consecutive chunks overlap by the longest needle less one byte, so that every
                // occurrence lies whole in one of them.
                let longest = self.needles.iter().map(Vec::len).max().unwrap_or(1);
                let step = CHUNK - longest.saturating_sub(1);
                // One buffer per thread, not a zeroed array per search: zeroing 4 KiB cost more
                // than lower-casing a typical page body into it.
                LOWER.with_borrow_mut(|buf| {
                    let mut start = 0;
                    loop {
                        let end = hay.len().min(start + CHUNK);
                        buf.clear();
                        // One pass that copies and folds, not a copy and then a second pass.
                        buf.extend(hay[start..end].iter().map(u8::to_ascii_lowercase));
                        self.search_leftmost(leftmost, buf, found)?;
                        if end == hay.len() {
                            return Some(());
                        }
                        start += step;
                    }
                })
            }
            _ => {
                for m in self.overlapping.try_find_overlapping_iter(hay).ok()? {
                    self.set(m.pattern().as_usize(), found);
                }
                Some(())
            }
        }
    }

    /// Leftmost-first search finds each position where some needle starts, in order, and
    /// reports the first needle listed of those that start there; the others that start there
    /// are among its `same_start` and are checked directly. The search resumes one byte
    /// further, so overlapping occurrences are seen too.
    fn search_leftmost(
        &self,
        leftmost: &aho_corasick::AhoCorasick,
        hay: &[u8],
        found: &mut [u64; FOUND_WORDS],
    ) -> Option<()> {
        let mut at = 0;
        while at < hay.len() {
            let input = aho_corasick::Input::new(hay).span(at..hay.len());
            let Some(m) = leftmost.try_find(input).ok()? else {
                break;
            };
            let p = m.pattern().as_usize();
            self.set(p, found);
            for &q in &self.same_start[p] {
                if hay[m.start()..].starts_with(&self.needles[q]) {
                    self.set(q, found);
                }
            }
            at = m.start() + 1;
        }
        Some(())
    }

    fn set(&self, pattern: usize, found: &mut [u64; FOUND_WORDS]) {
        let bit = usize::from(self.base) + pattern;
        if let Some(word) = found.get_mut(bit / 64) {
            *word |= 1 << (bit % 64);
        }
    }
}

impl LiteralGroups {
    /// Groups the unanchored literal needles of `conds` by subject and case mode, builds one
    /// automaton per group and gives each needle its slot. Needles beyond the scratch's
    /// capacity keep no slot and are searched on their own.
    pub(crate) fn build<'a>(conds: impl IntoIterator<Item = &'a mut Cond>) -> LiteralGroups {
        let mut conds: Vec<&mut Cond> = conds
            .into_iter()
            .filter(|c| matches!(&c.test, Test::Literal(l) if !l.anchored))
            .collect();
        // (subject, case mode, distinct needles) in order of first appearance.
        let mut keys: Vec<(Subject, bool, Vec<Vec<u8>>)> = Vec::new();
        let mut places = Vec::with_capacity(conds.len());
        for c in &conds {
            let Test::Literal(lit) = &c.test else {
                continue;
            };
            let g = match keys
                .iter()
                .position(|(s, cs, _)| *cs == lit.case_sensitive && same_subject(s, &c.subject))
            {
                Some(g) => g,
                None => {
                    keys.push((c.subject.clone(), lit.case_sensitive, Vec::new()));
                    keys.len() - 1
                }
            };
            let needles = &mut keys[g].2;
            let p = match needles.iter().position(|n| *n == lit.needle) {
                Some(p) => p,
                None => {
                    needles.push(lit.needle.clone());
                    needles.len() - 1
                }
            };
            places.push((g, p));
        }
        let mut groups: Vec<Group> = Vec::new();
        let mut group_of: Vec<Option<u8>> = Vec::with_capacity(keys.len());
        let mut next_bit = 0usize;
        for (_, case_sensitive, needles) in keys {
            let count = needles.len();
            let fits = groups.len() < MAX_GROUPS && next_bit + count <= 64 * FOUND_WORDS;
            let built = fits
                .then(|| {
                    let index = u8::try_from(groups.len()).ok()?;
                    let base = u16::try_from(next_bit).ok()?;
                    groups.push(Group::new(needles, case_sensitive, base)?);
                    next_bit += count;
                    Some(index)
                })
                .flatten();
            group_of.push(built);
        }
        for (c, (g, p)) in conds.iter_mut().zip(places) {
            if let Test::Literal(lit) = &mut c.test {
                lit.slot = group_of[g].and_then(|group| {
                    let base = groups[usize::from(group)].base;
                    let bit = base.checked_add(u16::try_from(p).ok()?)?;
                    Some(Slot { group, bit })
                });
            }
        }
        LiteralGroups { groups }
    }
}

/// Field names of [`fields::FIELDS`] to their positions, in an open-addressing hash table:
/// every key of an observation is looked up once per classification call, and a binary search
/// over the sorted names costs several string comparisons per key.
#[derive(Debug, Clone)]
pub(crate) struct FieldIndex {
    /// Position + 1 of a field hashed here (0: empty); always more than half empty.
    slots: Vec<u8>,
    /// The fields hashed here.
    indexed: FieldMask,
}

/// Fields the per-call view holds: as many as a [`FieldMask`] has bits.
const VIEW: usize = FieldMask::BITS as usize;

impl FieldIndex {
    const SLOTS: usize = 4 * VIEW;

    fn hash(name: &[u8]) -> usize {
        // Two words, not a byte loop (this runs for every key of every observation): the first
        // and last eight bytes with the length. Names share a prefix (`http.`, `tls.cert_`) or a
        // suffix (`_version`), rarely both at one length; a collision only costs a probe.
        let h = match (name.first_chunk::<8>(), name.last_chunk::<8>()) {
            (Some(head), Some(tail)) => {
                u64::from_le_bytes(*head) ^ u64::from_le_bytes(*tail).rotate_left(29)
            }
            _ => name
                .iter()
                .fold(0, |h: u64, &b| h.rotate_left(8) ^ u64::from(b)),
        };
        let h = (h ^ name.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (h >> 32) as usize % Self::SLOTS
    }

    /// An index of every field (the tests' vocabulary checks).
    #[cfg(test)]
    pub(crate) fn new() -> FieldIndex {
        FieldIndex::only(FieldMask::MAX)
    }

    /// An index of the fields of `mask` only. A classifier's signatures read a few dozen fields;
    /// an observation's other keys (geography, network owner, certificates) then mostly land
    /// on an empty slot instead of being compared with a field name.
    pub(crate) fn only(mask: FieldMask) -> FieldIndex {
        let mut slots = vec![0u8; Self::SLOTS];
        let mut indexed = 0;
        for (i, f) in fields::FIELDS.iter().enumerate().take(VIEW) {
            if mask & (1 << i) == 0 {
                continue;
            }
            indexed |= 1 << i;
            let mut s = Self::hash(f.name.as_bytes());
            while slots[s] != 0 {
                s = (s + 1) % Self::SLOTS;
            }
            // VIEW (128) < u8::MAX: the position + 1 fits.
            slots[s] = u8::try_from(i + 1).unwrap_or(0);
        }
        FieldIndex { slots, indexed }
    }

    /// The position of `name` in [`fields::FIELDS`], among the first [`VIEW`].
    pub(crate) fn get(&self, name: &str) -> Option<usize> {
        let mut s = Self::hash(name.as_bytes());
        loop {
            let i = usize::from(*self.slots.get(s)?).checked_sub(1)?;
            if fields::FIELDS.get(i).is_some_and(|f| f.name == name) {
                return Some(i);
            }
            s = (s + 1) % Self::SLOTS;
        }
    }
}

/// What one classification call has learnt of its observation: the value of each field (one
/// walk of the details map instead of a lookup per condition), which fields are present, which
/// literal groups were searched and which of their needles occur. Lives on the stack.
pub(crate) struct Scratch<'c, 'o> {
    groups: &'c LiteralGroups,
    /// The observation's value of field `i` of [`fields::FIELDS`].
    values: [Option<&'o Value>; VIEW],
    /// The fields present, as [`crate::signature::present`] computes them, among those of the
    /// index (every field a signature's gate names).
    pub(crate) present: FieldMask,
    /// The fields of the index: `values` is only meaningful for them.
    indexed: FieldMask,
    /// Bit `g`: group `g` was searched (in the string its subject reads from this observation).
    scanned: u64,
    /// Bit `slot.bit`: that needle occurs.
    found: [u64; FOUND_WORDS],
}

impl<'c, 'o> Scratch<'c, 'o> {
    pub(crate) fn new(
        groups: &'c LiteralGroups,
        index: &FieldIndex,
        obs: &'o Observation,
    ) -> Scratch<'c, 'o> {
        let mut values = [None; VIEW];
        let mut present: FieldMask = 0;
        for (k, v) in &obs.details {
            if let Some(i) = index.get(k) {
                if let Some(slot) = values.get_mut(i) {
                    *slot = Some(v);
                    present |= 1 << i;
                }
            }
        }
        Scratch {
            groups,
            values,
            present,
            indexed: index.indexed,
            scanned: 0,
            found: [0; FOUND_WORDS],
        }
    }

    /// `obs.details.get(name)`, for the field at `index` of [`fields::FIELDS`].
    fn value(&self, index: usize, name: &str, obs: &'o Observation) -> Option<&'o Value> {
        match self.values.get(index) {
            Some(v) if v.is_some() || self.indexed & (1 << index) != 0 => *v,
            _ => obs.details.get(name),
        }
    }

    /// [`Literal::is_in`] of the string `lit`'s subject reads from this call's observation, when
    /// its group was already searched in it. A group is only marked searched for that string
    /// (present, and a string, not a list), so the bit is the whole answer.
    fn known(&self, lit: &Literal) -> Option<bool> {
        let slot = lit.slot?;
        if self.scanned & (1u64 << slot.group) == 0 {
            return None;
        }
        let bit = usize::from(slot.bit);
        Some(self.found[bit / 64] & (1 << (bit % 64)) != 0)
    }

    /// [`Literal::is_in`], for `hay` the string that `lit`'s subject reads from this call's
    /// observation: the first needle of a group searches the string for all of them at once.
    fn literal_in(&mut self, lit: &Literal, hay: &str) -> bool {
        let Some(slot) = lit.slot else {
            return lit.is_in(hay);
        };
        let Some(group) = self.groups.groups.get(usize::from(slot.group)) else {
            return lit.is_in(hay);
        };
        let mask = 1u64 << slot.group;
        if self.scanned & mask == 0 {
            if group.search(hay.as_bytes(), &mut self.found).is_none() {
                return lit.is_in(hay);
            }
            self.scanned |= mask;
        }
        let bit = usize::from(slot.bit);
        self.found[bit / 64] & (1 << (bit % 64)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::{Cond, FieldIndex, Literal, LiteralGroups, Scratch, Subject, Test};
    use medsurface_model::fields::{self, FieldType};
    use medsurface_model::{Details, Observation, Source, Timestamp, Transport};

    fn empty_observation() -> Observation {
        Observation {
            ip: "192.0.2.1".parse().expect("literal address"),
            port: 80,
            transport: Transport::Tcp,
            hostname: None,
            protocol: None,
            probe: "test".into(),
            source: Source::Scan,
            seen_at: Timestamp::UNIX_EPOCH,
            details: Details::new(),
        }
    }

    fn position(name: &str) -> usize {
        fields::FIELDS
            .binary_search_by(|f| f.name.cmp(name))
            .expect("a field")
    }

    /// The hash index finds every field where the binary search does, and nothing else.
    #[test]
    fn field_index_agrees_with_the_sorted_vocabulary() {
        let index = FieldIndex::new();
        for (i, f) in fields::FIELDS.iter().enumerate() {
            assert_eq!(index.get(f.name), Some(i).filter(|&i| i < super::VIEW));
            for other in [
                f.name.to_ascii_uppercase(),
                format!("{}x", f.name),
                f.name[..f.name.len() - 1].to_string(),
                format!("_{}", f.name),
            ] {
                let expected = fields::FIELDS
                    .binary_search_by(|g| g.name.cmp(&other))
                    .ok()
                    .filter(|&i| i < super::VIEW);
                assert_eq!(index.get(&other), expected, "{other}");
            }
        }
        assert_eq!(index.get(""), None);
        assert_eq!(index.get("http.titel"), None);
    }

    /// The hash spreads the vocabulary: few fields are found past their first slot.
    #[test]
    fn field_index_rarely_probes() {
        let index = FieldIndex::new();
        let mut extra = 0;
        for (i, f) in fields::FIELDS.iter().enumerate().take(super::VIEW) {
            let mut s = FieldIndex::hash(f.name.as_bytes());
            while usize::from(index.slots[s]) != i + 1 {
                s = (s + 1) % FieldIndex::SLOTS;
                extra += 1;
            }
        }
        let n = fields::FIELDS.len().min(super::VIEW);
        assert!(extra * 4 <= n, "{extra} extra probes for {n} fields");
    }

    /// xorshift64: reproducible cases without a dependency.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        fn text(&mut self, alphabet: &[&str], max_len: usize) -> String {
            let len = self.below(max_len + 1);
            (0..len)
                .map(|_| alphabet[self.below(alphabet.len())])
                .collect()
        }
    }

    /// A page-sized string (searched by [`super::Group::leftmost`], in chunks when folding
    /// case) of filler with short runs of needle letters, some astride the chunk boundaries.
    fn long_hay(rng: &mut Rng, needle_chars: &[&str], hay_chars: &[&str]) -> String {
        let filler = ["x", " ", "é", "\u{212A}", "<p>"];
        let mut hay = rng.text(&filler, 9000).into_bytes();
        hay.resize(hay.len().max(super::LONG), b'y');
        for _ in 0..rng.below(12) {
            let snippet = rng.text(needle_chars, 6);
            let near_boundary = rng.below(2) == 0;
            let at = if near_boundary {
                (super::CHUNK - 8) * (1 + rng.below(2)) + rng.below(16)
            } else {
                rng.below(hay.len())
            };
            let at = at.min(hay.len());
            // Splice at a character boundary only: the string stays UTF-8.
            if std::str::from_utf8(&hay[..at]).is_ok() {
                hay.splice(at..at, snippet.bytes());
            }
        }
        if rng.below(2) == 0 {
            hay.extend(rng.text(hay_chars, 6).bytes());
        }
        String::from_utf8(hay).expect("spliced at character boundaries")
    }

    fn cond(subject: &Subject, lit: Literal) -> Cond {
        Cond {
            subject: subject.clone(),
            test: Test::Literal(lit),
            rule: String::new(),
            weight: 0,
        }
    }

    /// The grouped search answers every needle as its own search does: mixed case, needles
    /// that overlap or contain each other, at the start or end, non-ASCII haystacks (the
    /// Kelvin sign folds to `k` in Unicode, not in ASCII), empty haystacks, repeated needles.
    #[test]
    fn grouped_search_answers_as_each_needle_alone() {
        let subjects = [
            Subject::Detail {
                name: "http.title",
                index: position("http.title"),
                ty: FieldType::Str,
                key: None,
            },
            Subject::Detail {
                name: "http.headers",
                index: position("http.headers"),
                ty: FieldType::Str,
                key: Some("Server".into()),
            },
            Subject::Protocol,
        ];
        let needle_chars = ["a", "A", "b", "B", "k", "K", "-", "ab", "AB"];
        let hay_chars = [
            "a", "A", "b", "B", "k", "K", "-", " ", "é", "\u{212A}", "ß", "ab", "Ab", "\0",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut compared, mut held) = (0usize, 0usize);
        for _round in 0..150 {
            let mut conds = Vec::new();
            for _ in 0..rng.below(40) {
                let subject = &subjects[rng.below(subjects.len())];
                let needle = rng.text(&needle_chars, 4);
                let case_sensitive = rng.below(2) == 0;
                let anchored = rng.below(6) == 0;
                if let Some(lit) = Literal::new(&needle, case_sensitive, anchored) {
                    conds.push(cond(subject, lit));
                }
            }
            let groups = LiteralGroups::build(conds.iter_mut());
            let (index, obs) = (FieldIndex::new(), empty_observation());
            for c in &conds {
                if let Test::Literal(lit) = &c.test {
                    assert_eq!(lit.slot.is_some(), !lit.anchored, "{lit:?}");
                }
            }
            for _observation in 0..20 {
                // One string per subject, as one observation holds.
                let hays: Vec<String> = subjects
                    .iter()
                    .map(|_| {
                        if rng.below(4) == 0 {
                            long_hay(&mut rng, &needle_chars, &hay_chars)
                        } else {
                            rng.text(&hay_chars, 24)
                        }
                    })
                    .collect();
                let mut scratch = Scratch::new(&groups, &index, &obs);
                let mut order: Vec<usize> = (0..conds.len()).collect();
                for i in (1..order.len()).rev() {
                    order.swap(i, rng.below(i + 1));
                }
                for i in order {
                    let c = &conds[i];
                    let Test::Literal(lit) = &c.test else {
                        unreachable!("only literals here")
                    };
                    let which = subjects
                        .iter()
                        .position(|s| super::same_subject(s, &c.subject))
                        .expect("subject");
                    let hay = hays[which].as_str();
                    let alone = lit.is_in(hay);
                    let plain = if lit.case_sensitive {
                        hay.as_bytes()
                            .windows(lit.needle.len())
                            .any(|w| w == lit.needle)
                    } else {
                        hay.as_bytes()
                            .windows(lit.needle.len())
                            .any(|w| w.eq_ignore_ascii_case(&lit.needle))
                    };
                    if !lit.anchored {
                        assert_eq!(alone, plain, "{lit:?} in {hay:?}");
                    }
                    assert_eq!(
                        scratch.literal_in(lit, hay),
                        alone,
                        "{lit:?} in {hay:?} (hays {hays:?})"
                    );
                    compared += 1;
                    held += usize::from(alone);
                }
            }
        }
        // Both answers are common, or the comparison proves little.
        assert!(compared > 20_000 && held * 10 > compared && held * 10 < compared * 9);
    }

    /// Needles beyond the scratch's capacity are searched on their own, with the same answer.
    #[test]
    fn needles_beyond_capacity_are_searched_alone() {
        let subject = Subject::Protocol;
        let mut conds: Vec<Cond> = (0..super::FOUND_WORDS * 64 + 10)
            .map(|i| {
                cond(
                    &subject,
                    Literal::new(&format!("n{i}x"), false, false).unwrap(),
                )
            })
            .collect();
        let groups = LiteralGroups::build(conds.iter_mut());
        let (index, obs) = (FieldIndex::new(), empty_observation());
        let slots = conds
            .iter()
            .filter(|c| matches!(&c.test, Test::Literal(l) if l.slot.is_some()))
            .count();
        assert_eq!(slots, 0, "one group too big for the scratch is not built");
        let mut scratch = Scratch::new(&groups, &index, &obs);
        for (i, c) in conds.iter().enumerate() {
            let Test::Literal(lit) = &c.test else {
                unreachable!("only literals here")
            };
            assert_eq!(scratch.literal_in(lit, "N7X and n600x"), i == 7 || i == 600);
        }
    }

    #[test]
    fn literal_search_folds_ascii_case_and_anchors() {
        let any_case = Literal::new("Orthanc", false, false).unwrap();
        assert!(any_case.is_in("the ORTHANC explorer"));
        assert!(any_case.is_in("orthanc"));
        assert!(!any_case.is_in("orthan"));
        assert!(!any_case.is_in(""));
        let exact = Literal::new("Orthanc", true, false).unwrap();
        assert!(!exact.is_in("the ORTHANC explorer"));
        assert!(exact.is_in("xOrthanc"));
        let prefix = Literal::new("OFFIS_DCMTK_", true, true).unwrap();
        assert!(prefix.is_in("OFFIS_DCMTK_367"));
        assert!(!prefix.is_in("X OFFIS_DCMTK_367"));
        assert!(Literal::new("Ärzte", false, false).is_none());
        assert!(Literal::new("", false, false).is_none());
    }
}
