//! Target specifications: what the user asked to scan, parsed once into ranges of addresses.
//!
//! A target is an address, a CIDR block, a range `a-b` (or `192.0.2.1-20` for the last IPv4
//! octet), a host name, or `@file` with one such target per line. Everything becomes inclusive
//! ranges of addresses written as integers, one list per family, sorted and merged, plus prefix
//! sums so that the `i`-th address is found by binary search. That shape is the point of the
//! module: memory grows with the number of *ranges*, never with the number of addresses, so a
//! `/8` or an IPv6 `/32` costs a few bytes, and the probe space can be permuted lazily.
//!
//! Each argument (and each line of an `@file`) is also kept as a [`Spec`] with its original
//! text and where it came from, because the exclusion stage must refuse or trim *that* target
//! by name, and every error names the argument or the file and line. Host names are resolved
//! exactly once, here; every address they resolve to is kept, and the name is remembered for
//! those addresses so results can carry it.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use medsurface_model::text::printable;

/// Longest line accepted in an `@file`; longer lines are an error, not an allocation.
const MAX_LINE: usize = 4096;

/// Address family. IPv4 and IPv6 are never mixed in one range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// The address of this family whose integer value is `value`.
    pub(crate) fn ip(self, value: u128) -> IpAddr {
        match self {
            Family::V4 => IpAddr::V4(Ipv4Addr::from(value as u32)),
            Family::V6 => IpAddr::V6(Ipv6Addr::from(value)),
        }
    }

    pub(crate) fn bits(self) -> u32 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    pub(crate) fn of(ip: IpAddr) -> (Family, u128) {
        match ip {
            IpAddr::V4(v4) => (Family::V4, u32::from(v4) as u128),
            IpAddr::V6(v6) => (Family::V6, u128::from(v6)),
        }
    }
}

/// An inclusive range of addresses of one family, as integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Span {
    pub family: Family,
    pub first: u128,
    pub last: u128,
}

impl Span {
    pub fn single(ip: IpAddr) -> Span {
        let (family, value) = Family::of(ip);
        Span {
            family,
            first: value,
            last: value,
        }
    }

    /// The block `ip/prefix` (host bits of `ip` ignored). `prefix` must be within the family.
    pub fn block(ip: IpAddr, prefix: u8) -> Span {
        let (family, value) = Family::of(ip);
        let host_bits = family.bits() - u32::from(prefix);
        let host_mask = if host_bits == 0 {
            0
        } else {
            u128::MAX >> (128 - host_bits)
        };
        Span {
            family,
            first: value & !host_mask,
            last: value | host_mask,
        }
    }

    /// Number of addresses, saturating at `u128::MAX` for the whole IPv6 space.
    pub fn count(&self) -> u128 {
        (self.last - self.first).saturating_add(1)
    }

    pub fn overlap(&self, other: &Span) -> Option<Span> {
        if self.family != other.family {
            return None;
        }
        let first = self.first.max(other.first);
        let last = self.last.min(other.last);
        (first <= last).then_some(Span {
            family: self.family,
            first,
            last,
        })
    }

    pub fn contains(&self, family: Family, value: u128) -> bool {
        self.family == family && self.first <= value && value <= self.last
    }
}

/// Sorts spans and merges overlapping or adjacent ones of the same family.
pub(crate) fn merge_spans(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_unstable();
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(prev)
                if prev.family == span.family && span.first <= prev.last.saturating_add(1) =>
            {
                prev.last = prev.last.max(span.last);
            }
            _ => merged.push(span),
        }
    }
    merged
}

/// `spans` minus `holes`; `holes` must be merged (sorted, disjoint). The result is sorted.
pub(crate) fn subtract_spans(spans: &[Span], holes: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    for span in spans {
        let mut rest = Some(*span);
        // First hole that could touch this span: holes are sorted and disjoint, so by `last`.
        let from = holes.partition_point(|h| (h.family, h.last) < (span.family, span.first));
        for hole in &holes[from..] {
            let Some(cur) = rest else { break };
            if hole.family != cur.family || hole.first > cur.last {
                break;
            }
            if hole.first > cur.first {
                out.push(Span {
                    last: hole.first - 1,
                    ..cur
                });
            }
            rest = (hole.last < cur.last).then(|| Span {
                first: hole.last + 1,
                ..cur
            });
        }
        out.extend(rest);
    }
    out
}

/// Where a target was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// On the command line.
    Argument,
    /// In an `@file`, at this 1-based line.
    Line { file: PathBuf, line: usize },
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Argument => f.write_str("command-line argument"),
            Place::Line { file, line } => write!(f, "{}:{line}", file.display()),
        }
    }
}

/// One target as the user wrote it, and the addresses it stands for.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub text: String,
    pub place: Place,
    pub spans: Vec<Span>,
}

impl Spec {
    /// How messages name this target: its text, plus file:line when it came from a file.
    pub fn describe(&self) -> String {
        match &self.place {
            Place::Argument => self.text.clone(),
            place => format!("{} ({place})", self.text),
        }
    }
}

/// Why one target could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetProblem {
    #[error("empty target")]
    Empty,
    #[error("not a valid IPv4 or IPv6 address")]
    BadAddress,
    #[error("the prefix length must be a number from 0 to {max}")]
    BadPrefix { max: u8 },
    #[error(
        "the end of a range must be an address of the same family as its start, \
         or a last IPv4 octet (0-255)"
    )]
    BadRangeEnd,
    #[error("the range ends before it starts")]
    Reversed,
    #[error("one target per argument or line (found whitespace inside)")]
    Whitespace,
    #[error("an @file inside a target file is not allowed")]
    NestedFile,
    #[error("@ must be followed by a file name")]
    NoFileName,
    #[error("the line is not valid UTF-8")]
    NotUtf8,
    #[error("the line is longer than {max} bytes")]
    LineTooLong { max: usize },
    #[error("not an address, CIDR block, range, host name or @file")]
    NotATarget,
}

/// Why the target list as a whole could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("no targets given")]
    NoTargets,
    #[error("target {arg:?}: {reason}")]
    BadTarget { arg: String, reason: TargetProblem },
    #[error("{}:{line}: target {text:?}: {reason}", file.display())]
    BadLine {
        file: PathBuf,
        line: usize,
        text: String,
        reason: TargetProblem,
    },
    #[error("cannot read target file {}", file.display())]
    ReadFile {
        file: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("target file {} lists no targets", file.display())]
    EmptyFile { file: PathBuf },
    #[error("cannot resolve host name {name:?} ({place})")]
    Resolve {
        name: String,
        place: Place,
        #[source]
        source: io::Error,
    },
    #[error("host name {name:?} ({place}) resolved to no address")]
    NoAddress { name: String, place: Place },
    #[error("the targets add up to more than 2^128 - 1 addresses")]
    TooLarge,
}

fn bad(text: &str, place: &Place, reason: TargetProblem) -> TargetError {
    match place {
        Place::Argument => TargetError::BadTarget {
            arg: text.to_string(),
            reason,
        },
        Place::Line { file, line } => TargetError::BadLine {
            file: file.clone(),
            line: *line,
            text: text.to_string(),
            reason,
        },
    }
}

/// One contiguous run of target addresses, for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrRange {
    first: IpAddr,
    last: IpAddr,
    len: u128,
}

impl AddrRange {
    pub fn first(&self) -> IpAddr {
        self.first
    }

    pub fn last(&self) -> IpAddr {
        self.last
    }

    /// Number of addresses in the range.
    pub fn len(&self) -> u128 {
        self.len
    }

    /// Never true: a range holds at least one address.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Display for AddrRange {
    /// `a` for one address, `a/p` when the range is exactly a CIDR block, else `a-b`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (family, first) = Family::of(self.first);
        if self.len == 1 {
            return write!(f, "{}", self.first);
        }
        if self.len.is_power_of_two() && first & (self.len - 1) == 0 {
            let prefix = family.bits() - self.len.trailing_zeros();
            return write!(f, "{}/{prefix}", self.first);
        }
        write!(f, "{}-{}", self.first, self.last)
    }
}

/// The parsed targets: merged address ranges (IPv4 first, then IPv6), host names, and the
/// specifications they came from.
#[derive(Debug, Clone)]
pub struct Targets {
    args: Vec<String>,
    specs: Vec<Spec>,
    spans: Vec<Span>,
    /// `starts[k]` is the index of the first address of `spans[k]`.
    starts: Vec<u128>,
    len: u128,
    names: BTreeMap<IpAddr, String>,
}

impl Targets {
    /// Builds the merged view. Fails only when the total does not fit in a `u128`.
    pub(crate) fn assemble(
        args: Vec<String>,
        specs: Vec<Spec>,
        names: BTreeMap<IpAddr, String>,
    ) -> Result<Targets, TargetError> {
        let targets = Targets::assemble_subset(args, specs, names);
        let fits = targets
            .spans
            .iter()
            .try_fold(0u128, |sum, s| {
                (s.last - s.first)
                    .checked_add(1)
                    .and_then(|count| sum.checked_add(count))
            })
            .is_some();
        if fits {
            Ok(targets)
        } else {
            Err(TargetError::TooLarge)
        }
    }

    /// Builds the merged view of specs that are a subset of an assembled [`Targets`] (what the
    /// exclusion stage leaves), whose total is therefore known to fit. Saturates, never fails.
    pub(crate) fn assemble_subset(
        args: Vec<String>,
        specs: Vec<Spec>,
        names: BTreeMap<IpAddr, String>,
    ) -> Targets {
        let spans = merge_spans(specs.iter().flat_map(|s| s.spans.iter().copied()).collect());
        let mut starts = Vec::with_capacity(spans.len());
        let mut len: u128 = 0;
        for span in &spans {
            starts.push(len);
            len = len.saturating_add(span.count());
        }
        Targets {
            args,
            specs,
            spans,
            starts,
            len,
            names,
        }
    }

    /// Number of distinct addresses.
    pub fn len(&self) -> u128 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `i`-th address in (family, address) order, with the host name it was given as.
    pub fn get(&self, i: u128) -> Option<(IpAddr, Option<&str>)> {
        if i >= self.len {
            return None;
        }
        let k = self.starts.partition_point(|&s| s <= i).checked_sub(1)?;
        let span = self.spans.get(k)?;
        let ip = span.family.ip(span.first + (i - self.starts[k]));
        let name = if self.names.is_empty() {
            None
        } else {
            self.names.get(&ip).map(String::as_str)
        };
        Some((ip, name))
    }

    /// The merged ranges, IPv4 first, each in address order.
    pub fn ranges(&self) -> impl Iterator<Item = AddrRange> + '_ {
        self.spans.iter().map(|s| AddrRange {
            first: s.family.ip(s.first),
            last: s.family.ip(s.last),
            len: s.count(),
        })
    }

    /// The arguments exactly as given (including `@file` arguments), for messages.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Addresses that were given by host name, with that name.
    pub fn host_names(&self) -> impl Iterator<Item = (IpAddr, &str)> + '_ {
        self.names.iter().map(|(ip, name)| (*ip, name.as_str()))
    }

    #[cfg(test)]
    pub(crate) fn specs(&self) -> &[Spec] {
        &self.specs
    }

    pub(crate) fn into_parts(self) -> (Vec<String>, Vec<Spec>, BTreeMap<IpAddr, String>) {
        (self.args, self.specs, self.names)
    }
}

/// Parses command-line targets: addresses, CIDR blocks, ranges, host names and `@file`s.
pub fn parse_targets(args: &[String]) -> Result<Targets, TargetError> {
    let mut specs = Vec::new();
    let mut names = BTreeMap::new();
    for arg in args {
        let text = arg.trim();
        if let Some(path) = text.strip_prefix('@') {
            if path.is_empty() {
                return Err(bad(arg, &Place::Argument, TargetProblem::NoFileName));
            }
            read_target_file(Path::new(path), &mut specs, &mut names)?;
        } else {
            specs.push(parse_spec(text, Place::Argument, &mut names)?);
        }
    }
    if specs.is_empty() {
        return Err(TargetError::NoTargets);
    }
    Targets::assemble(args.to_vec(), specs, names)
}

fn read_target_file(
    path: &Path,
    specs: &mut Vec<Spec>,
    names: &mut BTreeMap<IpAddr, String>,
) -> Result<(), TargetError> {
    let read_error = |source| TargetError::ReadFile {
        file: path.to_path_buf(),
        source,
    };
    let mut reader = BufReader::new(File::open(path).map_err(read_error)?);
    let before = specs.len();
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(read_error)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let place = Place::Line {
            file: path.to_path_buf(),
            line: line_no,
        };
        if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
            let text = printable(&buf, 64);
            return Err(bad(
                &text,
                &place,
                TargetProblem::LineTooLong { max: MAX_LINE },
            ));
        }
        let Ok(line) = std::str::from_utf8(&buf) else {
            return Err(bad(&printable(&buf, 200), &place, TargetProblem::NotUtf8));
        };
        let content = match line.find('#') {
            Some(hash) => &line[..hash],
            None => line,
        }
        .trim();
        if content.is_empty() {
            continue;
        }
        specs.push(parse_spec(content, place, names)?);
    }
    if specs.len() == before {
        return Err(TargetError::EmptyFile {
            file: path.to_path_buf(),
        });
    }
    Ok(())
}

/// What one target's text means, before any name is resolved.
enum Form<'a> {
    Span(Span),
    Host(&'a str),
}

fn parse_spec(
    text: &str,
    place: Place,
    names: &mut BTreeMap<IpAddr, String>,
) -> Result<Spec, TargetError> {
    match parse_form(text).map_err(|reason| bad(text, &place, reason))? {
        Form::Span(span) => Ok(Spec {
            text: text.to_string(),
            place,
            spans: vec![span],
        }),
        Form::Host(name) => {
            let addrs = match (name, 0u16).to_socket_addrs() {
                Ok(addrs) => addrs,
                Err(source) => {
                    return Err(TargetError::Resolve {
                        name: name.to_string(),
                        place,
                        source,
                    })
                }
            };
            let mut spans: Vec<Span> = addrs.map(|a| Span::single(a.ip())).collect();
            spans.sort_unstable();
            spans.dedup();
            if spans.is_empty() {
                return Err(TargetError::NoAddress {
                    name: name.to_string(),
                    place,
                });
            }
            for span in &spans {
                // The first name given for an address wins.
                names
                    .entry(span.family.ip(span.first))
                    .or_insert_with(|| name.to_string());
            }
            Ok(Spec {
                text: text.to_string(),
                place,
                spans,
            })
        }
    }
}

fn parse_form(text: &str) -> Result<Form<'_>, TargetProblem> {
    if text.is_empty() {
        return Err(TargetProblem::Empty);
    }
    if text.starts_with('@') {
        return Err(TargetProblem::NestedFile);
    }
    if text.chars().any(char::is_whitespace) {
        return Err(TargetProblem::Whitespace);
    }
    if let Some((addr, prefix)) = text.split_once('/') {
        let ip: IpAddr = addr.parse().map_err(|_| TargetProblem::BadAddress)?;
        let max = Family::of(ip).0.bits() as u8;
        let prefix = match prefix.parse::<u8>() {
            Ok(p) if p <= max && prefix.bytes().all(|b| b.is_ascii_digit()) => p,
            _ => return Err(TargetProblem::BadPrefix { max }),
        };
        return Ok(Form::Span(Span::block(ip, prefix)));
    }
    if let Some((start, end)) = text.split_once('-') {
        // IPv6 addresses contain no '-', so a range starts with a whole address; anything
        // else with a '-' may still be a host name (`pacs-01.example.org`).
        if let Ok(start) = start.parse::<IpAddr>() {
            return parse_range(start, end).map(Form::Span);
        }
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(Form::Span(Span::single(ip)));
    }
    let ip_like = text.contains(':') || text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if ip_like {
        return Err(TargetProblem::BadAddress);
    }
    if is_host_name(text) {
        return Ok(Form::Host(text));
    }
    Err(TargetProblem::NotATarget)
}

fn parse_range(start: IpAddr, end: &str) -> Result<Span, TargetProblem> {
    let first = Span::single(start);
    let last = if let Ok(end) = end.parse::<IpAddr>() {
        let last = Span::single(end);
        if last.family != first.family {
            return Err(TargetProblem::BadRangeEnd);
        }
        last.first
    } else {
        // Short form: the last IPv4 octet.
        match start {
            IpAddr::V4(v4) if !end.is_empty() && end.bytes().all(|b| b.is_ascii_digit()) => {
                let octet: u8 = end.parse().map_err(|_| TargetProblem::BadRangeEnd)?;
                let [a, b, c, _] = v4.octets();
                u32::from(Ipv4Addr::new(a, b, c, octet)) as u128
            }
            _ => return Err(TargetProblem::BadRangeEnd),
        }
    };
    if last < first.first {
        return Err(TargetProblem::Reversed);
    }
    Ok(Span { last, ..first })
}

/// RFC 1123 host name syntax (letters, digits, hyphens; underscores tolerated because
/// internal Windows names use them), optionally ending with a dot.
fn is_host_name(text: &str) -> bool {
    let name = text.strip_suffix('.').unwrap_or(text);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn parse(list: &[&str]) -> Result<Targets, TargetError> {
        parse_targets(&args(list))
    }

    fn ips(t: &Targets) -> Vec<String> {
        (0..t.len())
            .map(|i| t.get(i).map(|(ip, _)| ip.to_string()).unwrap_or_default())
            .collect()
    }

    fn problem(arg: &str) -> TargetProblem {
        match parse(&[arg]) {
            Err(TargetError::BadTarget { arg: a, reason }) => {
                assert_eq!(a, arg);
                reason
            }
            other => panic!("{arg}: expected BadTarget, got {other:?}"),
        }
    }

    /// A temporary file that removes itself; tests run in parallel, so names are unique.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(tag: &str, contents: &[u8]) -> TempFile {
            let path = std::env::temp_dir().join(format!(
                "medsurface-targets-{}-{tag}.txt",
                std::process::id()
            ));
            let mut f = File::create(&path).expect("create temp file");
            f.write_all(contents).expect("write temp file");
            TempFile(path)
        }

        fn arg(&self) -> String {
            format!("@{}", self.0.display())
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn single_addresses_of_both_families() {
        let t = parse(&["192.0.2.7", "2001:db8::1"]).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(ips(&t), ["192.0.2.7", "2001:db8::1"]);
        assert_eq!(t.get(2), None);
        assert_eq!(t.args(), ["192.0.2.7", "2001:db8::1"]);
    }

    #[test]
    fn cidr_blocks_normalise_host_bits() {
        let t = parse(&["192.0.2.77/30"]).unwrap();
        assert_eq!(
            ips(&t),
            ["192.0.2.76", "192.0.2.77", "192.0.2.78", "192.0.2.79"]
        );
        let t = parse(&["2001:db8::/126"]).unwrap();
        assert_eq!(
            ips(&t),
            ["2001:db8::", "2001:db8::1", "2001:db8::2", "2001:db8::3"]
        );
        assert_eq!(parse(&["10.0.0.1/32"]).unwrap().len(), 1);
        assert_eq!(parse(&["0.0.0.0/0"]).unwrap().len(), 1 << 32);
    }

    #[test]
    fn huge_blocks_cost_one_range() {
        let t = parse(&["10.0.0.0/8", "2001:db8::/32"]).unwrap();
        assert_eq!(t.len(), (1u128 << 24) + (1u128 << 96));
        assert_eq!(t.ranges().count(), 2);
        assert_eq!(t.spans.len(), 2);
        assert_eq!(
            t.get((1 << 24) - 1).map(|(ip, _)| ip.to_string()).unwrap(),
            "10.255.255.255"
        );
        assert_eq!(
            t.get(1 << 24).map(|(ip, _)| ip.to_string()).unwrap(),
            "2001:db8::"
        );
        assert_eq!(
            t.get(t.len() - 1).map(|(ip, _)| ip.to_string()).unwrap(),
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"
        );
        let shown: Vec<String> = t.ranges().map(|r| r.to_string()).collect();
        assert_eq!(shown, ["10.0.0.0/8", "2001:db8::/32"]);
    }

    #[test]
    fn the_whole_ipv6_space_is_too_large() {
        assert!(matches!(parse(&["::/0"]), Err(TargetError::TooLarge)));
        assert_eq!(parse(&["::/1"]).unwrap().len(), 1u128 << 127);
    }

    #[test]
    fn ranges_full_and_short() {
        let t = parse(&["192.0.2.1-20"]).unwrap();
        assert_eq!(t.len(), 20);
        assert_eq!(ips(&t)[19], "192.0.2.20");
        let t = parse(&["192.0.2.250-192.0.3.5"]).unwrap();
        assert_eq!(t.len(), 12);
        let t = parse(&["2001:db8::ff-2001:db8::1:0"]).unwrap();
        assert_eq!(t.len(), 0x1_0000 - 0xff + 1);
        assert_eq!(
            t.ranges().next().unwrap().to_string(),
            "2001:db8::ff-2001:db8::1:0"
        );
        assert_eq!(parse(&["192.0.2.5-5"]).unwrap().len(), 1);
    }

    #[test]
    fn overlapping_and_adjacent_targets_merge() {
        let t = parse(&[
            "192.0.2.0/25",
            "192.0.2.128/25",
            "192.0.2.10",
            "192.0.2.3-9",
        ])
        .unwrap();
        assert_eq!(t.len(), 256);
        let shown: Vec<String> = t.ranges().map(|r| r.to_string()).collect();
        assert_eq!(shown, ["192.0.2.0/24"]);
        // IPv4 stays distinct from IPv4-mapped IPv6.
        let t = parse(&["192.0.2.1", "::ffff:192.0.2.1"]).unwrap();
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert_eq!(problem("300.1.1.1"), TargetProblem::BadAddress);
        assert_eq!(problem("010.1.1.1"), TargetProblem::BadAddress);
        assert_eq!(problem("2001:db8::g"), TargetProblem::BadAddress);
        assert_eq!(problem("10.0.0.0/33"), TargetProblem::BadPrefix { max: 32 });
        assert_eq!(problem("10.0.0.0/+8"), TargetProblem::BadPrefix { max: 32 });
        assert_eq!(
            problem("2001:db8::/129"),
            TargetProblem::BadPrefix { max: 128 }
        );
        assert_eq!(problem("10.0.0.0/"), TargetProblem::BadPrefix { max: 32 });
        assert_eq!(problem("host/24"), TargetProblem::BadAddress);
        assert_eq!(problem("192.0.2.9-3"), TargetProblem::Reversed);
        assert_eq!(problem("192.0.2.9-192.0.2.1"), TargetProblem::Reversed);
        assert_eq!(problem("192.0.2.1-256"), TargetProblem::BadRangeEnd);
        assert_eq!(problem("192.0.2.1-::1"), TargetProblem::BadRangeEnd);
        assert_eq!(problem("2001:db8::1-20"), TargetProblem::BadRangeEnd);
        assert_eq!(problem("192.0.2.1-"), TargetProblem::BadRangeEnd);
        assert_eq!(problem("10.0.0.1 10.0.0.2"), TargetProblem::Whitespace);
        assert_eq!(problem("exa mple"), TargetProblem::Whitespace);
        assert_eq!(problem("-bad-.example"), TargetProblem::NotATarget);
        assert_eq!(problem("a..b"), TargetProblem::NotATarget);
        assert_eq!(problem("\u{1b}[2J"), TargetProblem::NotATarget);
        assert_eq!(problem(""), TargetProblem::Empty);
        assert_eq!(problem("@"), TargetProblem::NoFileName);
        assert!(matches!(parse(&[]), Err(TargetError::NoTargets)));
        let msg = parse(&["10.0.0.0/33"]).unwrap_err().to_string();
        assert!(
            msg.contains("10.0.0.0/33") && msg.contains("0 to 32"),
            "{msg}"
        );
    }

    #[test]
    fn localhost_resolves_to_loopback_and_keeps_its_name() {
        let t = parse(&["localhost", "127.0.0.2"]).unwrap();
        assert!(t.len() >= 2);
        let mut named = 0;
        for i in 0..t.len() {
            let (ip, name) = t.get(i).unwrap();
            assert!(ip.is_loopback(), "{ip}");
            if ip == IpAddr::from([127, 0, 0, 2]) {
                assert_eq!(name, None);
            } else {
                assert_eq!(name, Some("localhost"));
                named += 1;
            }
        }
        assert!(named >= 1);
        assert!(t.host_names().all(|(_, n)| n == "localhost"));
    }

    #[test]
    fn unresolvable_names_are_an_error_naming_them() {
        // `.invalid` is reserved never to resolve (RFC 2606).
        match parse(&["pacs.invalid"]) {
            Err(TargetError::Resolve { name, place, .. }) => {
                assert_eq!(name, "pacs.invalid");
                assert_eq!(place, Place::Argument);
            }
            Err(TargetError::NoAddress { name, .. }) => assert_eq!(name, "pacs.invalid"),
            other => panic!("expected a resolution error, got {other:?}"),
        }
    }

    #[test]
    fn files_hold_one_target_per_line_with_comments() {
        let f = TempFile::new(
            "good",
            b"# hospital ranges\n\n192.0.2.0/30   # imaging VLAN\r\n  2001:db8::5\n198.51.100.1-2\n",
        );
        let t = parse(&[&f.arg(), "203.0.113.9"]).unwrap();
        assert_eq!(t.len(), 4 + 1 + 2 + 1);
        assert_eq!(t.specs().len(), 4);
        assert_eq!(
            t.specs()[0].place,
            Place::Line {
                file: f.0.clone(),
                line: 3
            }
        );
        assert_eq!(t.specs()[0].text, "192.0.2.0/30");
        assert_eq!(t.args()[1], "203.0.113.9");
    }

    #[test]
    fn garbage_lines_name_the_file_and_line() {
        let f = TempFile::new("garbage", b"192.0.2.1\n# fine\n\n10.0.0.300\n");
        match parse(&[&f.arg()]) {
            Err(TargetError::BadLine {
                file,
                line,
                text,
                reason,
            }) => {
                assert_eq!((file, line, text.as_str()), (f.0.clone(), 4, "10.0.0.300"));
                assert_eq!(reason, TargetProblem::BadAddress);
            }
            other => panic!("expected BadLine, got {other:?}"),
        }
        let msg = parse(&[&f.arg()]).unwrap_err().to_string();
        assert!(msg.contains(&format!("{}:4", f.0.display())), "{msg}");
    }

    #[test]
    fn files_reject_nesting_binary_and_emptiness() {
        let nested = TempFile::new("nested", b"192.0.2.1\n@other.txt\n");
        assert!(matches!(
            parse(&[&nested.arg()]),
            Err(TargetError::BadLine {
                line: 2,
                reason: TargetProblem::NestedFile,
                ..
            })
        ));
        let binary = TempFile::new("binary", b"192.0.2.1\n\xff\xfe\x1b[2J\n");
        match parse(&[&binary.arg()]) {
            Err(TargetError::BadLine {
                line, text, reason, ..
            }) => {
                assert_eq!((line, reason), (2, TargetProblem::NotUtf8));
                assert!(!text.chars().any(char::is_control), "{text:?}");
            }
            other => panic!("expected BadLine, got {other:?}"),
        }
        let long = TempFile::new("long", &vec![b'a'; MAX_LINE * 3]);
        assert!(matches!(
            parse(&[&long.arg()]),
            Err(TargetError::BadLine {
                line: 1,
                reason: TargetProblem::LineTooLong { .. },
                ..
            })
        ));
        let empty = TempFile::new("empty", b"# nothing here\n\n");
        assert!(matches!(
            parse(&[&empty.arg()]),
            Err(TargetError::EmptyFile { .. })
        ));
        let missing = format!(
            "@{}",
            std::env::temp_dir()
                .join("medsurface-no-such-file")
                .display()
        );
        assert!(matches!(
            parse(&[&missing]),
            Err(TargetError::ReadFile { .. })
        ));
    }

    #[test]
    fn subtraction_cuts_holes() {
        let span = |a: u128, b: u128| Span {
            family: Family::V4,
            first: a,
            last: b,
        };
        let holes = merge_spans(vec![span(5, 6), span(9, 9), span(20, 30)]);
        assert_eq!(
            subtract_spans(&[span(0, 10), span(25, 40)], &holes),
            [span(0, 4), span(7, 8), span(10, 10), span(31, 40)]
        );
        assert!(subtract_spans(&[span(21, 29)], &holes).is_empty());
        let v6 = Span {
            family: Family::V6,
            ..span(5, 6)
        };
        assert_eq!(subtract_spans(&[v6], &holes), [v6]);
    }
}
