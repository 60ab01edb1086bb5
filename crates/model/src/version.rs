//! Version ordering and affected-version ranges, shared by the vulnerability knowledge
//! (product versions such as Orthanc `1.10.1`) and the supply-chain stage (SBOM components with
//! ecosystem version schemes).
//!
//! A [`Range`] has OSV's semantics: a version is affected when it is at or above `introduced`
//! and below `fixed` (or at or below `last_affected`). Comparison depends on the [`Scheme`]:
//! [`Scheme::Generic`] is the dotted-numeric order that fits product banners; the others are the
//! orders of package ecosystems ([`Scheme::for_ecosystem`] picks one from an OSV ecosystem name or
//! a purl type). Versions a scheme cannot read compare as `None`, and a range never claims such a
//! version is affected.
//!
//! The ecosystem comparators are written here rather than pulled in as crates: each is a page of
//! code, this crate has no I/O and few dependencies, and every one is pinned by its ecosystem's
//! own published ordering examples in the tests below (semver.org §11, PEP 440's summary of
//! suffix ordering and packaging's test list, Debian policy §5.6.12 and deb-version(7), Maven's
//! ComparableVersionTest).

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// How versions of one ecosystem are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Numeric and alphabetic runs compared in turn (`1.10.1` > `1.9.12`; `3.6.7` > `3.6.7rc1`):
    /// the order of product versions in banners.
    #[default]
    Generic,
    /// Semantic Versioning 2.0.0 (npm, crates.io, Go modules, Hex, Pub): pre-releases sort before
    /// the release, dot-separated identifiers compare numerically or in ASCII order, build
    /// metadata is ignored. A leading `v` (Go) is accepted, and so is a missing minor or patch
    /// (`1.2` reads as `1.2.0`), since SBOMs often carry such versions.
    Semver,
    /// PEP 440 (PyPI): epochs (`1!2.0`), pre-releases (`a`, `b`, `rc` and their spellings), post
    /// (`.post1`, `-1`) and dev releases, local versions (`+ubuntu1`), normalised as `packaging`
    /// does.
    Pep440,
    /// Debian package versions (`epoch:upstream-revision`), compared as dpkg does: letters before
    /// other characters, `~` before everything, even the end of the string.
    Debian,
    /// Maven's ComparableVersion: `.`/`-` and letter-digit transitions separate items; qualifiers
    /// order `alpha < beta < milestone < rc = cr < snapshot < "" = ga = final < sp`, unknown
    /// qualifiers after `sp` in lexical order.
    Maven,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Generic => "generic",
            Scheme::Semver => "semver",
            Scheme::Pep440 => "pep440",
            Scheme::Debian => "debian",
            Scheme::Maven => "maven",
        }
    }

    /// Orders two versions, or `None` when either cannot be read in this scheme.
    pub fn compare(self, a: &str, b: &str) -> Option<Ordering> {
        match self {
            Scheme::Generic => generic_compare(a, b),
            Scheme::Semver => Some(semver::parse(a)?.cmp(&semver::parse(b)?)),
            Scheme::Pep440 => Some(pep440::parse(a)?.cmp(&pep440::parse(b)?)),
            Scheme::Debian => debian::compare(a, b),
            Scheme::Maven => maven::compare(a, b),
        }
    }

    /// The scheme of an OSV ecosystem (`PyPI`, `npm`, `crates.io`, `Go`, `Maven`, `Debian:12`,
    /// `Ubuntu:22.04:LTS`, …) or a purl type (`pypi`, `npm`, `cargo`, `golang`, `maven`, `deb`,
    /// …), case-insensitively; anything after a `:` (a release) is ignored. Ecosystems whose
    /// order is close to the dotted-numeric one (RubyGems, NuGet, Packagist, Alpine, RPM
    /// distributions, …) get [`Scheme::Generic`]; ecosystems without ordered versions (`GIT`,
    /// `OSS-Fuzz`, `Linux`) and unknown names give `None`.
    pub fn for_ecosystem(name: &str) -> Option<Scheme> {
        let base = name
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        Some(match base.as_str() {
            "npm" | "crates.io" | "cargo" | "go" | "golang" | "hex" | "pub" | "swifturl"
            | "swift" | "bitnami" | "github actions" | "githubactions" => Scheme::Semver,
            "pypi" => Scheme::Pep440,
            "debian" | "ubuntu" | "deb" => Scheme::Debian,
            "maven" => Scheme::Maven,
            "rubygems" | "gem" | "nuget" | "packagist" | "composer" | "alpine" | "apk"
            | "wolfi" | "chainguard" | "rpm" | "red hat" | "rocky linux" | "almalinux" | "suse"
            | "opensuse" | "mageia" | "openeuler" | "hackage" | "cran" | "cocoapods" | "conan"
            | "generic" => Scheme::Generic,
            _ => return None,
        })
    }
}

/// An affected range, OSV-style. `introduced = None` means "from the first version".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
}

impl Range {
    /// Whether `version` is in the range; `None` when the scheme cannot order it against a bound.
    pub fn contains(&self, scheme: Scheme, version: &str) -> Option<bool> {
        if let Some(lo) = self.introduced.as_deref().filter(|s| *s != "0") {
            if scheme.compare(version, lo)? == Ordering::Less {
                return Some(false);
            }
        } else {
            // Still require the version to be readable at all.
            scheme.compare(version, version)?;
        }
        if let Some(hi) = &self.fixed {
            if scheme.compare(version, hi)? != Ordering::Less {
                return Some(false);
            }
        }
        if let Some(hi) = &self.last_affected {
            if scheme.compare(version, hi)? == Ordering::Greater {
                return Some(false);
            }
        }
        Some(true)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Run<'a> {
    Num(&'a str),
    Alpha(&'a str),
}

fn runs(v: &str) -> Option<Vec<Run<'_>>> {
    let v = v.trim();
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    if v.is_empty() || !v.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut out = Vec::new();
    let bytes = v.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let digits = v[start..i].trim_start_matches('0');
            out.push(Run::Num(digits));
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            out.push(Run::Alpha(&v[start..i]));
        } else if matches!(c, b'.' | b'-' | b'_' | b'+' | b'~') {
            i += 1;
        } else {
            return None;
        }
    }
    Some(out)
}

fn generic_compare(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (runs(a)?, runs(b)?);
    let mut i = 0;
    loop {
        match (a.get(i), b.get(i)) {
            (None, None) => return Some(Ordering::Equal),
            // A trailing alphabetic run is a pre-release (`1.0rc1` < `1.0`); a trailing number
            // is a later version (`1.0.1` > `1.0`).
            (Some(Run::Alpha(_)), None) => return Some(Ordering::Less),
            (None, Some(Run::Alpha(_))) => return Some(Ordering::Greater),
            (Some(Run::Num(n)), None) => {
                return Some(if n.is_empty() && a[i..].iter().all(is_zero) {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                })
            }
            (None, Some(Run::Num(n))) => {
                return Some(if n.is_empty() && b[i..].iter().all(is_zero) {
                    Ordering::Equal
                } else {
                    Ordering::Less
                })
            }
            (Some(Run::Num(x)), Some(Run::Num(y))) => {
                let o = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
                if o != Ordering::Equal {
                    return Some(o);
                }
            }
            (Some(Run::Alpha(x)), Some(Run::Alpha(y))) => {
                let o = x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase());
                if o != Ordering::Equal {
                    return Some(o);
                }
            }
            // `1.0a` vs `1.0.1`: the alphabetic run is a pre-release of the shorter version.
            (Some(Run::Alpha(_)), Some(Run::Num(_))) => return Some(Ordering::Less),
            (Some(Run::Num(_)), Some(Run::Alpha(_))) => return Some(Ordering::Greater),
        }
        i += 1;
    }
}

fn is_zero(r: &Run<'_>) -> bool {
    matches!(r, Run::Num(n) if n.is_empty())
}

/// Compares two runs of ASCII digits as unbounded numbers (leading zeros ignored).
fn cmp_digits(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

/// A run of digits ordered by numeric value (any length).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Num(String);

impl Num {
    fn new(s: &str) -> Num {
        Num(s.trim_start_matches('0').to_string())
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_digits(&self.0, &other.0)
    }
}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

mod semver {
    //! Semantic Versioning 2.0.0, precedence as in its §11.
    use super::{all_digits, Num};
    use std::cmp::Ordering;

    #[derive(Debug, PartialEq, Eq)]
    pub(super) struct Version {
        core: [Num; 3],
        pre: Vec<Ident>,
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Ident {
        Numeric(Num),
        Alpha(String),
    }

    impl Ord for Ident {
        fn cmp(&self, other: &Self) -> Ordering {
            match (self, other) {
                (Ident::Numeric(a), Ident::Numeric(b)) => a.cmp(b),
                // §11.4.3: numeric identifiers have lower precedence than alphanumeric ones.
                (Ident::Numeric(_), Ident::Alpha(_)) => Ordering::Less,
                (Ident::Alpha(_), Ident::Numeric(_)) => Ordering::Greater,
                (Ident::Alpha(a), Ident::Alpha(b)) => a.as_bytes().cmp(b.as_bytes()),
            }
        }
    }

    impl PartialOrd for Ident {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }

    impl Ord for Version {
        fn cmp(&self, other: &Self) -> Ordering {
            self.core.cmp(&other.core).then_with(|| {
                match (self.pre.is_empty(), other.pre.is_empty()) {
                    (true, true) => Ordering::Equal,
                    // §11.3: a pre-release has lower precedence than the normal version.
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    // §11.4: identifier by identifier; a larger set wins when all before are equal.
                    (false, false) => self.pre.cmp(&other.pre),
                }
            })
        }
    }

    impl PartialOrd for Version {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }

    pub(super) fn parse(s: &str) -> Option<Version> {
        let s = s.trim();
        let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
        // Build metadata does not take part in precedence (§10).
        let s = s.split_once('+').map_or(s, |(v, _)| v);
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (s, None),
        };
        let mut parts = core.split('.');
        let mut nums: [Num; 3] = [Num::new("0"), Num::new("0"), Num::new("0")];
        for (i, slot) in nums.iter_mut().enumerate() {
            match parts.next() {
                Some(p) if all_digits(p) => *slot = Num::new(p),
                None if i > 0 => {}
                _ => return None,
            }
        }
        if parts.next().is_some() {
            return None;
        }
        let mut ids = Vec::new();
        if let Some(pre) = pre {
            for id in pre.split('.') {
                if id.is_empty() || !id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
                    return None;
                }
                ids.push(if all_digits(id) {
                    Ident::Numeric(Num::new(id))
                } else {
                    Ident::Alpha(id.to_string())
                });
            }
        }
        Some(Version {
            core: nums,
            pre: ids,
        })
    }
}

mod pep440 {
    //! PEP 440 versions, ordered by the key `packaging.version` uses.
    use super::Num;

    /// A component that may sort before or after every value.
    #[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
    enum Bound<T> {
        NegInf,
        Val(T),
        Inf,
    }

    #[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
    enum LocalSeg {
        // Alphanumeric segments sort before numeric ones.
        Alpha(String),
        Numeric(Num),
    }

    #[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub(super) struct Key {
        epoch: Num,
        release: Vec<Num>,
        pre: Bound<(u8, Num)>,
        post: Bound<Num>,
        dev: Bound<Num>,
        local: Bound<Vec<LocalSeg>>,
    }

    struct Cursor<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Cursor<'_> {
        fn peek(&self) -> Option<u8> {
            self.s.get(self.i).copied()
        }
        fn digits(&mut self) -> Option<Num> {
            let start = self.i;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
            (self.i > start)
                .then(|| Num::new(std::str::from_utf8(&self.s[start..self.i]).unwrap_or("0")))
        }
        fn sep(&mut self) -> bool {
            if matches!(self.peek(), Some(b'.' | b'-' | b'_')) {
                self.i += 1;
                true
            } else {
                false
            }
        }
        /// Consumes the first of `words` found here (longest listed first).
        fn word(&mut self, words: &[&'static str]) -> Option<&'static str> {
            let rest = &self.s[self.i..];
            let w = words.iter().find(|w| rest.starts_with(w.as_bytes()))?;
            self.i += w.len();
            Some(w)
        }
        /// `[sep] word [sep] [digits]`, restoring the position when no word follows.
        fn suffix(&mut self, words: &[&'static str]) -> Option<(&'static str, Num)> {
            let save = self.i;
            self.sep();
            let Some(w) = self.word(words) else {
                self.i = save;
                return None;
            };
            let before_num = self.i;
            self.sep();
            let n = match self.digits() {
                Some(n) => n,
                None => {
                    self.i = before_num;
                    Num::new("0")
                }
            };
            Some((w, n))
        }
    }

    pub(super) fn parse(s: &str) -> Option<Key> {
        let lower = s.trim().to_ascii_lowercase();
        let lower = lower.strip_prefix('v').unwrap_or(&lower);
        let (public, local) = match lower.split_once('+') {
            Some((p, l)) => (p, Some(l)),
            None => (lower, None),
        };
        let mut c = Cursor {
            s: public.as_bytes(),
            i: 0,
        };
        let first = c.digits()?;
        let (epoch, mut release) = if c.peek() == Some(b'!') {
            c.i += 1;
            (first, vec![c.digits()?])
        } else {
            (Num::new("0"), vec![first])
        };
        while c.peek() == Some(b'.') && c.s.get(c.i + 1).is_some_and(|d| d.is_ascii_digit()) {
            c.i += 1;
            release.push(c.digits()?);
        }
        let pre = c
            .suffix(&["alpha", "beta", "preview", "pre", "rc", "a", "b", "c"])
            .map(|(w, n)| {
                let rank = match w {
                    "alpha" | "a" => 0,
                    "beta" | "b" => 1,
                    _ => 2,
                };
                (rank, n)
            });
        // `1.0-1` is an implicit post-release.
        let post = if c.peek() == Some(b'-') && c.s.get(c.i + 1).is_some_and(|d| d.is_ascii_digit())
        {
            c.i += 1;
            c.digits()
        } else {
            c.suffix(&["post", "rev", "r"]).map(|(_, n)| n)
        };
        let dev = c.suffix(&["dev"]).map(|(_, n)| n);
        if c.i != c.s.len() {
            return None;
        }
        let local = match local {
            None => None,
            Some(l) => {
                let mut segs = Vec::new();
                for seg in l.split(['.', '-', '_']) {
                    if seg.is_empty() || !seg.bytes().all(|b| b.is_ascii_alphanumeric()) {
                        return None;
                    }
                    segs.push(if seg.bytes().all(|b| b.is_ascii_digit()) {
                        LocalSeg::Numeric(Num::new(seg))
                    } else {
                        LocalSeg::Alpha(seg.to_string())
                    });
                }
                Some(segs)
            }
        };
        // Trailing zeros of the release do not count: 1.0 == 1.0.0.
        while release.len() > 1 && release.last().is_some_and(|n| n.0.is_empty()) {
            release.pop();
        }
        Some(Key {
            epoch,
            release,
            // A dev release of a final version sorts before its pre-releases: 1.0.dev1 < 1.0a1.
            pre: match (&pre, &post, &dev) {
                (None, None, Some(_)) => Bound::NegInf,
                (None, _, _) => Bound::Inf,
                (Some(p), _, _) => Bound::Val((p.0, p.1.clone())),
            },
            post: post.map_or(Bound::NegInf, Bound::Val),
            dev: dev.map_or(Bound::Inf, Bound::Val),
            local: local.map_or(Bound::NegInf, Bound::Val),
        })
    }
}

mod debian {
    //! dpkg's version comparison (lib/dpkg/version.c `verrevcmp`), per deb-version(7).
    use std::cmp::Ordering;

    struct Parts<'a> {
        epoch: &'a str,
        upstream: &'a str,
        revision: &'a str,
    }

    fn split(v: &str) -> Option<Parts<'_>> {
        let v = v.trim();
        let (epoch, rest) = match v.split_once(':') {
            Some((e, r)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => (e, r),
            Some(_) => return None,
            None => ("0", v),
        };
        let (upstream, revision) = rest.rsplit_once('-').unwrap_or((rest, ""));
        let ok = |s: &str, extra: &[u8]| {
            s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".+~".contains(&c) || extra.contains(&c))
        };
        if upstream.is_empty() || !ok(upstream, b"-:") || !ok(revision, b"") {
            return None;
        }
        Some(Parts {
            epoch,
            upstream,
            revision,
        })
    }

    fn order(c: Option<u8>) -> i32 {
        match c {
            None => 0,
            Some(b'~') => -1,
            Some(c) if c.is_ascii_digit() => 0,
            Some(c) if c.is_ascii_alphabetic() => c as i32,
            Some(c) => c as i32 + 256,
        }
    }

    fn verrevcmp(a: &str, b: &str) -> Ordering {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        let (mut i, mut j) = (0, 0);
        let digit = |s: &[u8], k: usize| s.get(k).is_some_and(|c| c.is_ascii_digit());
        while i < a.len() || j < b.len() {
            while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
                let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
                if ac != bc {
                    return ac.cmp(&bc);
                }
                i += 1;
                j += 1;
            }
            while a.get(i) == Some(&b'0') {
                i += 1;
            }
            while b.get(j) == Some(&b'0') {
                j += 1;
            }
            let mut first_diff = Ordering::Equal;
            while digit(a, i) && digit(b, j) {
                if first_diff == Ordering::Equal {
                    first_diff = a[i].cmp(&b[j]);
                }
                i += 1;
                j += 1;
            }
            if digit(a, i) {
                return Ordering::Greater;
            }
            if digit(b, j) {
                return Ordering::Less;
            }
            if first_diff != Ordering::Equal {
                return first_diff;
            }
        }
        Ordering::Equal
    }

    pub(super) fn compare(a: &str, b: &str) -> Option<Ordering> {
        let (a, b) = (split(a)?, split(b)?);
        Some(
            super::cmp_digits(a.epoch, b.epoch)
                .then_with(|| verrevcmp(a.upstream, b.upstream))
                .then_with(|| verrevcmp(a.revision, b.revision)),
        )
    }
}

mod maven {
    //! A port of Maven's `ComparableVersion` (maven-artifact 3.x): items separated by `.`, `-`
    //! and digit/letter transitions; `-` and transitions open a sub-list.
    use std::cmp::Ordering;

    #[derive(Debug)]
    enum Item {
        Int(super::Num),
        Str(String),
        List(Vec<Item>),
    }

    const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

    fn comparable_qualifier(q: &str) -> String {
        match QUALIFIERS.iter().position(|k| *k == q) {
            Some(i) => i.to_string(),
            None => format!("{}-{q}", QUALIFIERS.len()),
        }
    }

    fn string_item(value: &str, followed_by_digit: bool) -> Item {
        let v = match value {
            "a" if followed_by_digit => "alpha",
            "b" if followed_by_digit => "beta",
            "m" if followed_by_digit => "milestone",
            "ga" | "final" => "",
            "cr" => "rc",
            v => v,
        };
        Item::Str(v.to_string())
    }

    fn parse_item(is_digit: bool, buf: &str) -> Item {
        if is_digit {
            Item::Int(super::Num::new(buf))
        } else {
            string_item(buf, false)
        }
    }

    impl Item {
        fn is_null(&self) -> bool {
            match self {
                Item::Int(n) => n.0.is_empty(),
                Item::Str(s) => s.is_empty(),
                Item::List(l) => l.is_empty(),
            }
        }

        /// `other = None` stands for a missing item (the shorter version's padding).
        fn compare(&self, other: Option<&Item>) -> Ordering {
            match (self, other) {
                (Item::Int(n), None) => {
                    if n.0.is_empty() {
                        Ordering::Equal
                    } else {
                        Ordering::Greater
                    }
                }
                (Item::Int(a), Some(Item::Int(b))) => a.cmp(b),
                (Item::Int(_), Some(_)) => Ordering::Greater,
                (Item::Str(s), None) => comparable_qualifier(s).cmp(&comparable_qualifier("")),
                (Item::Str(_), Some(Item::Int(_) | Item::List(_))) => Ordering::Less,
                (Item::Str(a), Some(Item::Str(b))) => {
                    comparable_qualifier(a).cmp(&comparable_qualifier(b))
                }
                (Item::List(l), None) => l.first().map_or(Ordering::Equal, |f| f.compare(None)),
                (Item::List(_), Some(Item::Int(_))) => Ordering::Less,
                (Item::List(_), Some(Item::Str(_))) => Ordering::Greater,
                (Item::List(l), Some(Item::List(r))) => {
                    for k in 0..l.len().max(r.len()) {
                        let o = match (l.get(k), r.get(k)) {
                            (Some(x), y) => x.compare(y),
                            (None, Some(y)) => y.compare(None).reverse(),
                            (None, None) => Ordering::Equal,
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    Ordering::Equal
                }
            }
        }
    }

    fn normalize(list: &mut Vec<Item>) {
        let mut i = list.len();
        while i > 0 {
            i -= 1;
            if list[i].is_null() {
                list.remove(i);
            } else if !matches!(list[i], Item::List(_)) {
                break;
            }
        }
    }

    fn parse(version: &str) -> Option<Item> {
        let v = version.trim().to_lowercase();
        if v.is_empty() || v.chars().any(char::is_whitespace) {
            return None;
        }
        // The innermost list is the last; each list's sub-list is its last item once folded.
        let mut lists: Vec<Vec<Item>> = vec![Vec::new()];
        let mut is_digit = false;
        let mut start = 0;
        let chars: Vec<(usize, char)> = v.char_indices().collect();
        for &(i, c) in &chars {
            let cur = lists.len() - 1;
            if c == '.' || c == '-' {
                if i == start {
                    lists[cur].push(Item::Int(super::Num::new("0")));
                } else {
                    lists[cur].push(parse_item(is_digit, &v[start..i]));
                }
                start = i + c.len_utf8();
                if c == '-' {
                    lists.push(Vec::new());
                }
            } else if c.is_ascii_digit() {
                if !is_digit && i > start {
                    lists[cur].push(string_item(&v[start..i], true));
                    start = i;
                    lists.push(Vec::new());
                }
                is_digit = true;
            } else {
                if is_digit && i > start {
                    lists[cur].push(parse_item(true, &v[start..i]));
                    start = i;
                    lists.push(Vec::new());
                }
                is_digit = false;
            }
        }
        if v.len() > start {
            let cur = lists.len() - 1;
            lists[cur].push(parse_item(is_digit, &v[start..]));
        }
        let mut inner = lists.pop()?;
        normalize(&mut inner);
        while let Some(mut parent) = lists.pop() {
            parent.push(Item::List(inner));
            normalize(&mut parent);
            inner = parent;
        }
        Some(Item::List(inner))
    }

    pub(super) fn compare(a: &str, b: &str) -> Option<Ordering> {
        Some(parse(a)?.compare(Some(&parse(b)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        Scheme::Generic.compare(a, b).unwrap()
    }

    #[test]
    fn generic_order_of_product_versions() {
        assert_eq!(cmp("1.10.1", "1.9.12"), Ordering::Greater);
        assert_eq!(cmp("3.6.7", "3.6.7"), Ordering::Equal);
        assert_eq!(cmp("3.6.7rc1", "3.6.7"), Ordering::Less);
        assert_eq!(cmp("1.0", "1.0.0"), Ordering::Equal);
        assert_eq!(cmp("1.0", "1.0.1"), Ordering::Less);
        assert_eq!(cmp("v2.1", "2.01"), Ordering::Equal);
        assert_eq!(cmp("5.2.1-beta", "5.2.1-alpha"), Ordering::Greater);
        assert_eq!(cmp("4.1.0", "4.1.0.2"), Ordering::Less);
        assert_eq!(Scheme::Generic.compare("latest", "1.0"), None);
        assert_eq!(Scheme::Generic.compare("1.0/2", "1.0"), None);
    }

    /// Asserts that `list` is strictly ascending in `scheme`, pair by pair (every pair, so an
    /// intransitive comparator fails too).
    fn assert_ascending(scheme: Scheme, list: &[&str]) {
        for (i, a) in list.iter().enumerate() {
            for b in &list[i + 1..] {
                assert_eq!(
                    scheme.compare(a, b),
                    Some(Ordering::Less),
                    "{scheme:?}: {a} < {b}"
                );
                assert_eq!(
                    scheme.compare(b, a),
                    Some(Ordering::Greater),
                    "{scheme:?}: {b} > {a}"
                );
            }
            assert_eq!(
                scheme.compare(a, a),
                Some(Ordering::Equal),
                "{scheme:?}: {a} == {a}"
            );
        }
    }

    fn assert_equal(scheme: Scheme, list: &[&str]) {
        for a in list {
            for b in list {
                assert_eq!(
                    scheme.compare(a, b),
                    Some(Ordering::Equal),
                    "{scheme:?}: {a} == {b}"
                );
            }
        }
    }

    #[test]
    fn semver_precedence_of_semver_org() {
        // semver.org 2.0.0, §11: "Example: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta <
        // 1.0.0-beta < 1.0.0-beta.2 < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0", and §11.2's
        // 1.0.0 < 2.0.0 < 2.1.0 < 2.1.1.
        assert_ascending(
            Scheme::Semver,
            &[
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "2.0.0",
                "2.1.0",
                "2.1.1",
                "2.10.0",
            ],
        );
        // §10: build metadata is ignored; Go's leading v; a short version is padded.
        assert_equal(
            Scheme::Semver,
            &[
                "1.0.0+20130313144700",
                "1.0.0+exp.sha.5114f85",
                "v1.0.0",
                "1.0",
                "1",
            ],
        );
        // Go pseudo-versions are pre-releases of the next patch.
        assert_ascending(
            Scheme::Semver,
            &[
                "v0.0.0-20191109021931-daa7c04131f5",
                "v0.0.1",
                "v1.4.0",
                "v1.4.2",
            ],
        );
        assert_eq!(Scheme::Semver.compare("1.0.0-", "1.0.0"), None);
        assert_eq!(Scheme::Semver.compare("1.0.0-a..b", "1.0.0"), None);
        assert_eq!(Scheme::Semver.compare("1.2.3.4", "1.0.0"), None);
        assert_eq!(Scheme::Semver.compare("latest", "1.0.0"), None);
    }

    #[test]
    fn pep440_summary_ordering() {
        // PEP 440, "Summary of permitted suffixes and relative ordering": the example list,
        // ascending.
        assert_ascending(
            Scheme::Pep440,
            &[
                "1.dev0",
                "1.0.dev456",
                "1.0a1",
                "1.0a2.dev456",
                "1.0a12.dev456",
                "1.0a12",
                "1.0b1.dev456",
                "1.0b2",
                "1.0b2.post345.dev456",
                "1.0b2.post345",
                "1.0rc1.dev456",
                "1.0rc1",
                "1.0",
                "1.0+abc.5",
                "1.0+abc.7",
                "1.0+5",
                "1.0.post456.dev34",
                "1.0.post456",
                "1.0.15",
                "1.1.dev1",
            ],
        );
        // packaging's tests/test_version.py VERSIONS list (alternate spellings and local
        // versions), and epochs above everything without one.
        assert_ascending(
            Scheme::Pep440,
            &[
                "1.0b2.post345",
                "1.0b2-346",
                "1.0c1.dev456",
                "1.0c1",
                "1.0rc2",
                "1.0c3",
                "1.0",
                "1.2+123abc",
                "1.2+123abc456",
                "1.2+abc",
                "1.2+abc123",
                "1.2+abc123def",
                "1.2+1234.abc",
                "1.2+123456",
                "1.2.r32+123456",
                "1.2.rev33+123456",
                "1!1.0.dev456",
                "1!1.0a1",
                "1!1.0",
            ],
        );
        // Normalisation (PEP 440 "Normalization"): case, spellings, separators, implicit
        // numbers, trailing zeros.
        assert_equal(
            Scheme::Pep440,
            &[
                "1.1RC1",
                "1.1rc1",
                "1.1c1",
                "1.1-rc-1",
                "1.1_preview1",
                "1.1.pre.1",
            ],
        );
        assert_equal(Scheme::Pep440, &["1.0a", "1.0a0", "1.0.alpha.0"]);
        assert_equal(
            Scheme::Pep440,
            &["1.0-1", "1.0.post1", "1.0-r1", "1.0rev1", "v1.0.post1"],
        );
        assert_equal(Scheme::Pep440, &["2.10", "2.10.0", "0!2.10.0.0"]);
        assert_eq!(
            Scheme::Pep440.compare("2.19.0", "2.20.0"),
            Some(Ordering::Less)
        );
        assert_eq!(Scheme::Pep440.compare("1.0+", "1.0"), None);
        assert_eq!(Scheme::Pep440.compare("1.0.x", "1.0"), None);
        assert_eq!(Scheme::Pep440.compare("french toast", "1.0"), None);
    }

    #[test]
    fn debian_order_of_policy_and_dpkg() {
        // Debian policy §5.6.12: "~~, ~~a, ~, the empty part, a" (here after a common prefix).
        assert_ascending(Scheme::Debian, &["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a"]);
        // deb-version(7) and the policy's uses of the tilde: pre-releases before the release,
        // backports below the version they backport.
        assert_ascending(
            Scheme::Debian,
            &[
                "1.0~beta1~svn1245",
                "1.0~beta1",
                "1.0~rc1",
                "1.0",
                "1.0-1",
                "1.0-1+b1",
                "1.0-2",
                "1.0.1",
            ],
        );
        assert_ascending(
            Scheme::Debian,
            &["2.30-1~bpo12+1", "2.30-1", "2.30-1+deb13u1"],
        );
        // Epochs outrank everything; letters sort before non-letters; numbers numerically.
        assert_ascending(
            Scheme::Debian,
            &[
                "1.1.1n-0+deb11u3",
                "1.1.1n-0+deb11u10",
                "3.0.11-1~deb12u2",
                "1:0.9",
            ],
        );
        assert_ascending(Scheme::Debian, &["1.0a", "1.0+"]);
        assert_equal(Scheme::Debian, &["1.0", "0:1.0", "1.0-", "1.00"]);
        assert_eq!(Scheme::Debian.compare("a:1.0", "1.0"), None);
        assert_eq!(Scheme::Debian.compare("1.0 beta", "1.0"), None);
    }

    #[test]
    fn maven_order_of_comparable_version_test() {
        // maven-artifact ComparableVersionTest (3.x, the algorithm ported here): VERSIONS_QUALIFIER
        // and VERSIONS_NUMBER, each strictly ascending.
        assert_ascending(
            Scheme::Maven,
            &[
                "1-alpha2snapshot",
                "1-alpha2",
                "1-alpha-123",
                "1-beta-2",
                "1-beta123",
                "1-m2",
                "1-m11",
                "1-rc",
                "1-cr2",
                "1-rc123",
                "1-SNAPSHOT",
                "1",
                "1-sp",
                "1-sp2",
                "1-sp123",
                "1-abc",
                "1-def",
                "1-pom-1",
                "1-1-snapshot",
                "1-1",
                "1-2",
                "1-123",
            ],
        );
        assert_ascending(
            Scheme::Maven,
            &[
                "2.0", "2-1", "2.0.a", "2.0.0.a", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b",
                "2.1-c", "2.1-1", "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11",
                "11.m2", "11.m11", "11", "11.a", "11b", "11c", "11m",
            ],
        );
        // ComparableVersionTest.testVersionsEqual (a selection).
        assert_equal(
            Scheme::Maven,
            &[
                "1", "1.0", "1.0.0", "1-0", "1.0-0", "1ga", "1-ga", "1.0.ga", "1-final", "1.0final",
            ],
        );
        assert_equal(
            Scheme::Maven,
            &["1a1", "1-a1", "1.0-a1", "1alpha1", "1-alpha-1", "1.0ALPHA1"],
        );
        assert_equal(Scheme::Maven, &["1cr", "1rc", "1-rc", "1.0-CR"]);
        assert_ascending(
            Scheme::Maven,
            &["2.14.1", "2.15.0", "2.16.0", "2.17.0", "2.17.1"],
        );
        assert_eq!(Scheme::Maven.compare("", "1"), None);
    }

    #[test]
    fn schemes_for_osv_ecosystems_and_purl_types() {
        for (name, scheme) in [
            ("npm", Some(Scheme::Semver)),
            ("crates.io", Some(Scheme::Semver)),
            ("cargo", Some(Scheme::Semver)),
            ("Go", Some(Scheme::Semver)),
            ("golang", Some(Scheme::Semver)),
            ("PyPI", Some(Scheme::Pep440)),
            ("pypi", Some(Scheme::Pep440)),
            ("Maven", Some(Scheme::Maven)),
            ("Debian:12", Some(Scheme::Debian)),
            ("Ubuntu:22.04:LTS", Some(Scheme::Debian)),
            ("deb", Some(Scheme::Debian)),
            ("RubyGems", Some(Scheme::Generic)),
            ("Alpine:v3.19", Some(Scheme::Generic)),
            ("GIT", None),
            ("OSS-Fuzz", None),
            ("no-such-ecosystem", None),
        ] {
            assert_eq!(Scheme::for_ecosystem(name), scheme, "{name}");
        }
    }

    #[test]
    fn ranges_in_ecosystem_schemes() {
        // requests < 2.20.0 (CVE-2018-18074) in PEP 440: a post-release of the fix is fixed, a
        // pre-release of it is not.
        let r = Range {
            introduced: Some("0".into()),
            fixed: Some("2.20.0".into()),
            last_affected: None,
        };
        assert_eq!(r.contains(Scheme::Pep440, "2.19.0"), Some(true));
        assert_eq!(r.contains(Scheme::Pep440, "2.20.0rc1"), Some(true));
        assert_eq!(r.contains(Scheme::Pep440, "2.20.0.post1"), Some(false));
        assert_eq!(r.contains(Scheme::Pep440, "2.20"), Some(false));
        // A Debian fix in a revision: 1.1.1n-0+deb11u3 is not yet fixed by 1.1.1n-0+deb11u4.
        let r = Range {
            introduced: Some("0".into()),
            fixed: Some("1.1.1n-0+deb11u4".into()),
            last_affected: None,
        };
        assert_eq!(r.contains(Scheme::Debian, "1.1.1n-0+deb11u3"), Some(true));
        assert_eq!(r.contains(Scheme::Debian, "1.1.1n-0+deb11u10"), Some(false));
        // Semver pre-release of the introduced version is outside.
        let r = Range {
            introduced: Some("2.0.0".into()),
            fixed: Some("2.3.1".into()),
            last_affected: None,
        };
        assert_eq!(r.contains(Scheme::Semver, "2.0.0-rc.1"), Some(false));
        assert_eq!(r.contains(Scheme::Semver, "2.3.1-beta"), Some(true));
        // Maven: log4j-core 2.0-beta9 up to 2.15.0.
        let r = Range {
            introduced: Some("2.0-beta9".into()),
            fixed: Some("2.15.0".into()),
            last_affected: None,
        };
        assert_eq!(r.contains(Scheme::Maven, "2.14.1"), Some(true));
        assert_eq!(r.contains(Scheme::Maven, "2.0-beta8"), Some(false));
        assert_eq!(r.contains(Scheme::Maven, "2.15.0"), Some(false));
    }

    #[test]
    fn osv_ranges() {
        let r = Range {
            introduced: Some("1.0".into()),
            fixed: Some("1.12.5".into()),
            last_affected: None,
        };
        assert_eq!(r.contains(Scheme::Generic, "1.10.1"), Some(true));
        assert_eq!(r.contains(Scheme::Generic, "1.12.5"), Some(false));
        assert_eq!(r.contains(Scheme::Generic, "0.9"), Some(false));
        assert_eq!(r.contains(Scheme::Generic, "unknown"), None);
        let r = Range {
            introduced: Some("0".into()),
            fixed: None,
            last_affected: Some("3.6.7".into()),
        };
        assert_eq!(r.contains(Scheme::Generic, "3.6.7"), Some(true));
        assert_eq!(r.contains(Scheme::Generic, "3.6.8"), Some(false));
        assert_eq!(r.contains(Scheme::Generic, "0.1"), Some(true));
    }
}
