//! One signature file: its raw TOML shape, and its compilation into a [`Signature`].
//!
//! Every check that can be made without other files happens here, with the line of the
//! offending table or key: unknown keys (serde `deny_unknown_fields`, with toml's spans), fields
//! that no probe fills, operators that do not fit a field's type, invalid regexes, an unknown
//! category or confidence, missing references, matchers or examples. Checks that need the whole
//! set (duplicate ids, examples classified by every signature) live in the classifier.

use std::net::{IpAddr, Ipv4Addr};

use medsurface_model::classify::{Category, Confidence};
use medsurface_model::fields::{self, FieldType};
use medsurface_model::{Details, Observation, Source, Timestamp, Transport};
use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use crate::error::{line_of, ErrorKind, SignatureError};
use crate::matcher::{Cond, Got, Literal, Matcher, Scratch, Subject, Test, Want};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignature {
    name: String,
    vendor: String,
    product: String,
    category: Spanned<String>,
    references: Spanned<Vec<String>>,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    confidence: Option<Spanned<String>>,
    #[serde(default)]
    priority: i32,
    #[serde(rename = "match", default)]
    matchers: Vec<Spanned<RawMatcher>>,
    #[serde(default)]
    version: Vec<Spanned<RawVersion>>,
    #[serde(default)]
    example: Vec<Spanned<toml::Table>>,
    #[serde(default)]
    counterexample: Vec<Spanned<toml::Table>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Bool(bool),
    Int(i64),
    Str(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatcher {
    field: Option<String>,
    key: Option<String>,
    equals: Option<Scalar>,
    contains: Option<String>,
    prefix: Option<String>,
    regex: Option<String>,
    #[serde(rename = "in")]
    in_list: Option<Vec<Scalar>>,
    exists: Option<bool>,
    case_sensitive: Option<bool>,
    any: Option<Vec<Spanned<RawMatcher>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVersion {
    field: String,
    key: Option<String>,
    regex: Option<String>,
}

/// How a version is read: a field copied as is, or the `version` group (else the first group)
/// of a regex over it.
#[derive(Debug, Clone)]
pub(crate) struct VersionRule {
    pub(crate) subject: Subject,
    pub(crate) regex: Option<Regex>,
}

/// An example (or counterexample) observation, with where it is written.
#[derive(Debug, Clone)]
pub struct Example {
    pub line: usize,
    pub observation: Observation,
    /// The version the signature must extract from it, when stated (`expect_version`).
    pub expect_version: Option<String>,
}

/// A loaded, validated, compiled signature.
#[derive(Debug, Clone)]
pub struct Signature {
    pub id: String,
    pub name: String,
    pub vendor: String,
    pub product: String,
    pub category: Category,
    pub references: Vec<String>,
    pub notes: Option<String>,
    pub confidence: Confidence,
    pub priority: i32,
    /// The file it came from, as named in errors.
    pub file: String,
    pub examples: Vec<Example>,
    pub counterexamples: Vec<Example>,
    /// Sum of the matchers' weights: among matching signatures of equal priority, the highest
    /// wins.
    pub specificity: u32,
    pub(crate) matchers: Vec<Matcher>,
    pub(crate) versions: Vec<VersionRule>,
    /// Bits of [`fields::FIELDS`] of which the observation must hold at least one for this
    /// signature to match (0: no such condition). Checked before any matcher runs.
    pub(crate) gate: FieldMask,
}

/// A set of [`fields::FIELDS`] indexes.
pub(crate) type FieldMask = u128;

/// The bit of a field; `None` when the vocabulary outgrows the mask (gating is then skipped).
pub(crate) fn field_bit(name: &str) -> Option<FieldMask> {
    let i = fields::FIELDS.binary_search_by(|f| f.name.cmp(name)).ok()?;
    u32::try_from(i).ok().and_then(|i| 1u128.checked_shl(i))
}

/// The fields an observation holds, as a mask.
pub(crate) fn present(obs: &Observation) -> FieldMask {
    obs.details
        .keys()
        .filter_map(|k| field_bit(k))
        .fold(0, |mask, bit| mask | bit)
}

/// A matcher that can only hold when one of its fields is present gives the signature's gate.
fn gate_of(matchers: &[Matcher]) -> FieldMask {
    let conds_gate = |conds: &[&Cond]| -> Option<FieldMask> {
        let mut mask = 0;
        for c in conds {
            match (&c.subject, &c.test) {
                (_, Test::Exists(false)) => return None,
                (Subject::Detail { name, .. }, _) => mask |= field_bit(name)?,
                _ => return None,
            }
        }
        Some(mask)
    };
    matchers
        .iter()
        .find_map(|m| match m {
            Matcher::One(c) => conds_gate(&[c]),
            Matcher::Any(cs) => conds_gate(&cs.iter().collect::<Vec<_>>()),
        })
        .unwrap_or(0)
}

/// The error builder for one file.
struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, offset: usize, kind: ErrorKind) -> SignatureError {
        SignatureError {
            file: self.file.to_string(),
            line: line_of(self.text, offset),
            kind,
        }
    }
}

/// Whether `id` is a valid signature id (lower-case ASCII letters, digits, '-').
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Signature {
    /// Parses and compiles one file. `file` names it in errors; `id` is its stem.
    pub(crate) fn parse(id: &str, file: &str, text: &str) -> Result<Signature, SignatureError> {
        let cx = Ctx { file, text };
        if !valid_id(id) {
            return Err(at_file(cx.err(0, ErrorKind::BadId(id.to_string()))));
        }
        let raw: RawSignature = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let message = e.message().trim().to_string();
            cx.err(offset, ErrorKind::Syntax(message))
        })?;

        let category = Category::parse(raw.category.get_ref()).ok_or_else(|| {
            cx.err(
                raw.category.span().start,
                ErrorKind::BadCategory(raw.category.get_ref().clone()),
            )
        })?;
        let confidence = match &raw.confidence {
            None => Confidence::default(),
            Some(c) => Confidence::parse(c.get_ref()).ok_or_else(|| {
                cx.err(
                    c.span().start,
                    ErrorKind::BadConfidence(c.get_ref().clone()),
                )
            })?,
        };
        let refs_at = raw.references.span().start;
        let references = raw.references.into_inner();
        if references.is_empty() {
            return Err(cx.err(
                refs_at,
                ErrorKind::Missing("references: at least one public source".into()),
            ));
        }
        if let Some(bad) = references
            .iter()
            .find(|r| !(r.starts_with("https://") || r.starts_with("http://")))
        {
            return Err(cx.err(
                refs_at,
                ErrorKind::Missing(format!("reference `{bad}` is not an http(s) URL")),
            ));
        }
        for (what, value) in [
            ("name", &raw.name),
            ("vendor", &raw.vendor),
            ("product", &raw.product),
        ] {
            if value.trim().is_empty() {
                return Err(cx.err(0, ErrorKind::Missing(format!("{what} is empty"))));
            }
        }

        if raw.matchers.is_empty() {
            return Err(cx.err(
                0,
                ErrorKind::Missing("no [[match]]: a signature needs at least one matcher".into()),
            ));
        }
        let mut matchers = Vec::with_capacity(raw.matchers.len());
        for m in &raw.matchers {
            matchers.push(compile_matcher(&cx, m)?);
        }
        // Cheap tests first: most signatures fail on a port or an exact value before any regex.
        matchers.sort_by_key(Matcher::cost);
        let specificity = matchers.iter().map(Matcher::weight).sum();

        let mut versions = Vec::with_capacity(raw.version.len());
        for v in &raw.version {
            versions.push(compile_version(&cx, v)?);
        }

        if raw.example.is_empty() {
            return Err(cx.err(
                0,
                ErrorKind::Missing(
                    "no [[example]]: a signature needs at least one example observation".into(),
                ),
            ));
        }
        let examples = raw
            .example
            .iter()
            .map(|e| compile_example(&cx, e))
            .collect::<Result<Vec<_>, _>>()?;
        let counterexamples = raw
            .counterexample
            .iter()
            .map(|e| compile_example(&cx, e))
            .collect::<Result<Vec<_>, _>>()?;

        Ok(Signature {
            id: id.to_string(),
            name: raw.name,
            vendor: raw.vendor,
            product: raw.product,
            category,
            references,
            notes: raw.notes,
            confidence,
            priority: raw.priority,
            file: file.to_string(),
            examples,
            counterexamples,
            specificity,
            gate: gate_of(&matchers),
            matchers,
            versions,
        })
    }

    /// Whether every matcher holds for `obs`.
    pub fn matches(&self, obs: &Observation) -> bool {
        self.matches_given(obs, present(obs))
    }

    /// [`Signature::matches`] with the observation's field mask computed once by the caller.
    pub(crate) fn matches_given(&self, obs: &Observation, present: FieldMask) -> bool {
        (self.gate == 0 || self.gate & present != 0)
            && self.matchers.iter().all(|m| m.holding(obs).is_some())
    }

    /// [`Signature::matches`] with the fields read, the field mask and the literal tests
    /// answered through the caller's per-observation `scratch`.
    pub(crate) fn matches_in<'o>(
        &self,
        obs: &'o Observation,
        scratch: &mut Scratch<'_, 'o>,
    ) -> bool {
        (self.gate == 0 || self.gate & scratch.present != 0)
            && self.matchers.iter().all(|m| m.holds_in(obs, scratch))
    }

    /// The version this signature reads from `obs` (the first rule that yields one), bounded and
    /// made printable: it is peer text.
    pub fn extract_version(&self, obs: &Observation) -> Option<String> {
        self.versions.iter().find_map(|rule| {
            let got = crate::matcher::read(&rule.subject, obs)?;
            let owned;
            let text: &str = match got {
                Got::Str(s) => s,
                Got::Int(i) => {
                    owned = i.to_string();
                    &owned
                }
                Got::Json(_) => return None,
            };
            let found = match &rule.regex {
                None => text,
                Some(re) => {
                    let caps = re.captures(text)?;
                    caps.name("version")
                        .or_else(|| caps.get(1))
                        .or_else(|| caps.get(0))?
                        .as_str()
                }
            };
            let found = found.trim();
            (!found.is_empty()).then(|| {
                // Version names such as ORTHANC_1_12_3 write the dots as underscores; a version
                // of digits and underscores only is written the usual way (1.12.3).
                let dotted = found.contains('_')
                    && found.bytes().all(|b| b.is_ascii_digit() || b == b'_')
                    && !found.starts_with('_')
                    && !found.ends_with('_');
                let found = if dotted {
                    found.replace('_', ".")
                } else {
                    found.to_owned()
                };
                medsurface_model::text::printable(found.as_bytes(), 64)
            })
        })
    }
}

/// Errors about the file as a whole carry no line.
fn at_file(mut e: SignatureError) -> SignatureError {
    e.line = 0;
    e
}

/// The subject a field name denotes, checked against the vocabulary.
fn subject(
    cx: &Ctx,
    at: usize,
    field: &str,
    key: Option<&String>,
) -> Result<Subject, SignatureError> {
    let s = match field {
        "port" => Subject::Port,
        "protocol" => Subject::Protocol,
        "transport" => Subject::Transport,
        name => {
            let index = fields::FIELDS
                .binary_search_by(|f| f.name.cmp(name))
                .map_err(|_| cx.err(at, ErrorKind::UnknownField(name.to_string())))?;
            let f = &fields::FIELDS[index];
            Subject::Detail {
                name: f.name,
                index,
                ty: f.ty,
                key: None,
            }
        }
    };
    match (s, key) {
        (s, None) => Ok(s),
        (
            Subject::Detail {
                name,
                index,
                ty: FieldType::Json,
                ..
            },
            Some(k),
        ) => Ok(Subject::Detail {
            name,
            index,
            // A member of an object (a header value) is a string.
            ty: FieldType::Str,
            key: Some(k.clone()),
        }),
        (_, Some(_)) => Err(cx.err(
            at,
            ErrorKind::OperatorMismatch(format!(
                "`key` applies only to JSON object fields such as http.headers, not to `{field}`"
            )),
        )),
    }
}

/// The type of value a subject holds.
fn subject_type(s: &Subject) -> FieldType {
    match s {
        Subject::Port => FieldType::Int,
        Subject::Protocol | Subject::Transport => FieldType::Str,
        Subject::Detail { ty, .. } => *ty,
    }
}

fn want(
    cx: &Ctx,
    at: usize,
    s: &Subject,
    v: &Scalar,
    case_sensitive: bool,
) -> Result<Want, SignatureError> {
    let ty = subject_type(s);
    let mismatch = |what: &str| {
        cx.err(
            at,
            ErrorKind::OperatorMismatch(format!("{what} value for `{}` of type {ty:?}", s.name())),
        )
    };
    match (v, ty) {
        (Scalar::Int(i), FieldType::Int) => Ok(Want::Int(*i)),
        (Scalar::Bool(b), FieldType::Bool) => Ok(Want::Bool(*b)),
        (Scalar::Str(t), FieldType::Str | FieldType::StrList) => Ok(Want::Str(if case_sensitive {
            t.clone()
        } else {
            t.to_ascii_lowercase()
        })),
        (Scalar::Int(_), _) => Err(mismatch("an integer")),
        (Scalar::Bool(_), _) => Err(mismatch("a boolean")),
        (Scalar::Str(_), _) => Err(mismatch("a string")),
    }
}

fn regex(cx: &Ctx, at: usize, pattern: &str) -> Result<Regex, SignatureError> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| cx.err(at, ErrorKind::BadRegex(format!("`{pattern}`: {e}"))))
}

fn compile_cond(cx: &Ctx, m: &Spanned<RawMatcher>) -> Result<Cond, SignatureError> {
    let at = m.span().start;
    let raw = m.get_ref();
    let field = raw.field.as_deref().ok_or_else(|| {
        cx.err(
            at,
            ErrorKind::Operator("a matcher needs `field` (or is an `any` group)".into()),
        )
    })?;
    let subject = subject(cx, at, field, raw.key.as_ref())?;
    let ty = subject_type(&subject);
    let case_sensitive = raw.case_sensitive.unwrap_or(false);
    let ops = [
        raw.equals.is_some(),
        raw.contains.is_some(),
        raw.prefix.is_some(),
        raw.regex.is_some(),
        raw.in_list.is_some(),
        raw.exists.is_some(),
    ];
    if ops.iter().filter(|&&o| o).count() != 1 {
        return Err(cx.err(
            at,
            ErrorKind::Operator(format!(
                "`{field}`: exactly one of equals, contains, prefix, regex, in, exists"
            )),
        ));
    }
    if raw.case_sensitive.is_some() && (raw.regex.is_some() || raw.exists.is_some()) {
        return Err(cx.err(at, ErrorKind::Operator("`case_sensitive` applies to equals, in, contains and prefix (a regex says (?i) itself)".into())));
    }
    let stringy = matches!(ty, FieldType::Str | FieldType::StrList);
    let need_string = |op: &str| -> Result<(), SignatureError> {
        if stringy {
            Ok(())
        } else {
            Err(cx.err(
                at,
                ErrorKind::OperatorMismatch(format!(
                    "`{op}` needs a string field; `{}` is {ty:?}",
                    subject.name()
                )),
            ))
        }
    };
    let case_tag = if case_sensitive { "" } else { " (any case)" };
    let (test, rule, weight) = if let Some(v) = &raw.equals {
        let w = want(cx, at, &subject, v, case_sensitive)?;
        let rule = format!("equals {}{case_tag}", show(v));
        (
            Test::Equals {
                want: w,
                case_sensitive,
            },
            rule,
            3,
        )
    } else if let Some(list) = &raw.in_list {
        if list.is_empty() {
            return Err(cx.err(
                at,
                ErrorKind::Operator("`in` needs at least one value".into()),
            ));
        }
        let want = list
            .iter()
            .map(|v| want(cx, at, &subject, v, case_sensitive))
            .collect::<Result<Vec<_>, _>>()?;
        let shown: Vec<String> = list.iter().map(show).collect();
        (
            Test::In {
                want,
                case_sensitive,
            },
            format!("in [{}]{case_tag}", shown.join(", ")),
            3,
        )
    } else if let Some(t) = &raw.contains {
        need_string("contains")?;
        (
            literal(cx, at, t, case_sensitive, false)?,
            format!("contains {t:?}{case_tag}"),
            2,
        )
    } else if let Some(t) = &raw.prefix {
        need_string("prefix")?;
        (
            literal(cx, at, t, case_sensitive, true)?,
            format!("starts with {t:?}{case_tag}"),
            2,
        )
    } else if let Some(p) = &raw.regex {
        need_string("regex")?;
        (Test::Regex(regex(cx, at, p)?), format!("matches /{p}/"), 2)
    } else if let Some(e) = raw.exists {
        if matches!(subject, Subject::Port | Subject::Transport) {
            return Err(cx.err(at, ErrorKind::Operator(format!("`{field}` always exists"))));
        }
        (
            Test::Exists(e),
            if e {
                "exists".into()
            } else {
                "is absent".into()
            },
            u32::from(e),
        )
    } else {
        unreachable!("exactly one operator was checked above")
    };
    let weight = match subject {
        // A port or protocol narrows little on its own.
        Subject::Port | Subject::Protocol | Subject::Transport => 1,
        _ => weight,
    };
    Ok(Cond {
        subject,
        test,
        rule,
        weight,
    })
}

/// `contains` / `prefix`: a byte search for ASCII text, an escaped regex otherwise.
fn literal(
    cx: &Ctx,
    at: usize,
    text: &str,
    case_sensitive: bool,
    anchored: bool,
) -> Result<Test, SignatureError> {
    if text.is_empty() {
        return Err(cx.err(
            at,
            ErrorKind::Operator("an empty string matches everything".into()),
        ));
    }
    if let Some(lit) = Literal::new(text, case_sensitive, anchored) {
        return Ok(Test::Literal(lit));
    }
    let mut p = String::new();
    if !case_sensitive {
        p.push_str("(?i)");
    }
    if anchored {
        p.push('^');
    }
    p.push_str(&regex::escape(text));
    Ok(Test::Pattern(regex(cx, at, &p)?))
}

fn show(v: &Scalar) -> String {
    match v {
        Scalar::Bool(b) => b.to_string(),
        Scalar::Int(i) => i.to_string(),
        Scalar::Str(s) => format!("{s:?}"),
    }
}

fn compile_matcher(cx: &Ctx, m: &Spanned<RawMatcher>) -> Result<Matcher, SignatureError> {
    let raw = m.get_ref();
    match &raw.any {
        None => Ok(Matcher::One(compile_cond(cx, m)?)),
        Some(group) => {
            let alone = raw.field.is_none()
                && raw.key.is_none()
                && raw.equals.is_none()
                && raw.contains.is_none()
                && raw.prefix.is_none()
                && raw.regex.is_none()
                && raw.in_list.is_none()
                && raw.exists.is_none()
                && raw.case_sensitive.is_none();
            if !alone || group.is_empty() {
                return Err(cx.err(
                    m.span().start,
                    ErrorKind::Operator(
                        "an `any` group holds only `any = [ {...}, ... ]`, non-empty".into(),
                    ),
                ));
            }
            let mut conds = Vec::with_capacity(group.len());
            for c in group {
                if c.get_ref().any.is_some() {
                    return Err(cx.err(
                        c.span().start,
                        ErrorKind::Operator("`any` groups do not nest".into()),
                    ));
                }
                conds.push(compile_cond(cx, c)?);
            }
            conds.sort_by_key(|c| c.test.cost());
            Ok(Matcher::Any(conds))
        }
    }
}

fn compile_version(cx: &Ctx, v: &Spanned<RawVersion>) -> Result<VersionRule, SignatureError> {
    let at = v.span().start;
    let raw = v.get_ref();
    let subject = subject(cx, at, &raw.field, raw.key.as_ref())?;
    if matches!(subject_type(&subject), FieldType::Bool | FieldType::Json) {
        return Err(cx.err(
            at,
            ErrorKind::OperatorMismatch(format!(
                "a version cannot be read from `{}`",
                subject.name()
            )),
        ));
    }
    let regex = match &raw.regex {
        None => None,
        Some(p) => Some(regex(cx, at, p)?),
    };
    Ok(VersionRule { subject, regex })
}

/// An example table: `port`, `protocol`, `transport`, `expect_version`, and observation fields.
/// Dotted keys may be written bare (`http.title = "…"` makes nested tables in TOML); they are
/// flattened back into field names, stopping at a JSON field so that `http.headers` can be an
/// inline table.
fn compile_example(cx: &Ctx, t: &Spanned<toml::Table>) -> Result<Example, SignatureError> {
    let at = t.span().start;
    let mut obs = Observation {
        ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        port: 0,
        transport: Transport::Tcp,
        hostname: None,
        protocol: None,
        probe: "example".into(),
        source: Source::Scan,
        seen_at: Timestamp::UNIX_EPOCH,
        details: Details::new(),
    };
    let mut expect_version = None;
    let mut have_port = false;
    for (k, v) in t.get_ref() {
        match k.as_str() {
            "port" => {
                let p = v
                    .as_integer()
                    .and_then(|i| u16::try_from(i).ok())
                    .ok_or_else(|| {
                        cx.err(
                            at,
                            ErrorKind::Syntax("example `port` must be an integer 0-65535".into()),
                        )
                    })?;
                obs.port = p;
                have_port = true;
            }
            "protocol" => {
                obs.protocol = Some(
                    v.as_str()
                        .ok_or_else(|| {
                            cx.err(
                                at,
                                ErrorKind::Syntax("example `protocol` must be a string".into()),
                            )
                        })?
                        .to_string(),
                );
            }
            "transport" => {
                obs.transport = match v.as_str() {
                    Some("tcp") => Transport::Tcp,
                    Some("udp") => Transport::Udp,
                    _ => {
                        return Err(cx.err(
                            at,
                            ErrorKind::Syntax(
                                "example `transport` must be \"tcp\" or \"udp\"".into(),
                            ),
                        ))
                    }
                };
            }
            "expect_version" => {
                expect_version = Some(
                    v.as_str()
                        .ok_or_else(|| {
                            cx.err(
                                at,
                                ErrorKind::Syntax("`expect_version` must be a string".into()),
                            )
                        })?
                        .to_string(),
                );
            }
            _ => flatten(cx, at, k, v, &mut obs.details)?,
        }
    }
    if !have_port {
        return Err(cx.err(at, ErrorKind::Missing("an example needs `port`".into())));
    }
    Ok(Example {
        line: line_of(cx.text, at),
        observation: obs,
        expect_version,
    })
}

fn flatten(
    cx: &Ctx,
    at: usize,
    name: &str,
    v: &toml::Value,
    out: &mut Details,
) -> Result<(), SignatureError> {
    if let Some(f) = fields::field(name) {
        let json = to_json(v);
        let fits = match f.ty {
            FieldType::Str => json.is_string(),
            FieldType::Int => json.is_i64(),
            FieldType::Bool => json.is_boolean(),
            FieldType::StrList => json
                .as_array()
                .is_some_and(|a| a.iter().all(|x| x.is_string())),
            FieldType::Json => true,
        };
        if !fits {
            return Err(cx.err(
                at,
                ErrorKind::OperatorMismatch(format!(
                    "example value of `{name}` is not of type {:?}",
                    f.ty
                )),
            ));
        }
        out.insert(name.to_string(), json);
        return Ok(());
    }
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                flatten(cx, at, &format!("{name}.{k}"), v, out)?;
            }
            Ok(())
        }
        _ => Err(cx.err(at, ErrorKind::UnknownField(name.to_string()))),
    }
}

fn to_json(v: &toml::Value) -> serde_json::Value {
    match v {
        toml::Value::String(s) => s.clone().into(),
        toml::Value::Integer(i) => (*i).into(),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        toml::Value::Boolean(b) => (*b).into(),
        toml::Value::Datetime(d) => d.to_string().into(),
        toml::Value::Array(a) => a.iter().map(to_json).collect(),
        toml::Value::Table(t) => t
            .iter()
            .map(|(k, v)| (k.clone(), to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gate is only a shortcut: whenever every matcher holds, the gate lets it through.
    #[test]
    fn the_field_gate_never_hides_a_match() {
        let c = crate::Classifier::builtin().expect("builtin signatures");
        let observations: Vec<&Observation> = c
            .signatures()
            .iter()
            .flat_map(|s| s.examples.iter().chain(&s.counterexamples))
            .map(|e| &e.observation)
            .collect();
        let mut gated = 0;
        for s in c.signatures() {
            gated += usize::from(s.gate != 0);
            for obs in &observations {
                let naive = s.matchers.iter().all(|m| m.holding(obs).is_some());
                assert_eq!(naive, s.matches(obs), "{} on {obs:?}", s.id);
            }
        }
        assert!(
            gated * 10 >= c.signatures().len() * 9,
            "only {gated} signatures gated"
        );
    }

    #[test]
    fn field_bits_are_distinct_and_cover_the_vocabulary() {
        assert!(fields::FIELDS.len() <= 128, "FieldMask must grow");
        let mut all = 0u128;
        for f in fields::FIELDS {
            let bit = field_bit(f.name).expect("bit");
            assert_eq!(all & bit, 0, "{}", f.name);
            all |= bit;
        }
        assert_eq!(field_bit("http.titel"), None);
    }
}
