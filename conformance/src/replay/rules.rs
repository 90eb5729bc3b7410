//! Comparison rules: how a replayed answer is compared with the recorded one,
//! per field.
//!
//! A field is named by a path: the method, then the proto3 JSON names of the
//! fields down to it, list positions left out (`GetJobStatus.status`,
//! `ListJobs.jobs.uuid`, `GetSystemStatus.cpu.usagePercent`). Pseudo-fields
//! name the rest of an answer: `@code` and `@message` (the gRPC status),
//! `@log` (a log stream's bytes) and `@count` (how many messages a stream
//! sent). Paths are globs: `*` within a segment, `**` any number of segments
//! (`*.**.*Percent`).
//!
//! Rules ([`Rule`]): `auto` (the default: IDs by mapping, times by shape,
//! everything else exactly), `exact`, `shape`, `type`, `range LO..HI`,
//! `length`, `ignore`, and for lists `ordered` (the default), `unordered` and
//! `subset`. The built-in rules ([`DEFAULTS`]) relax the monitoring figures;
//! a rule file (YAML) is applied after them, and the last rule that matches a
//! path wins:
//!
//! ```yaml
//! rules:
//!   - path: "GetSystemStatus.cpu.usagePercent"
//!     rule: range 0..100
//!   - path: "ListJobs.jobs"
//!     rule: subset          # a shared node has other clients' jobs too
//!   - path: "*.@message"
//!     rule: ignore
//! ```

use std::fmt;
use std::path::Path;

use crate::glob::glob_match;

/// The built-in rules (`conformance/rules/defaults.yaml`).
pub const DEFAULTS: &str = include_str!("../../rules/defaults.yaml");

/// How one field is compared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// IDs (UUIDs) through the ID map, RFC 3339 times by shape, anything else
    /// exactly (names created by the transcript through their replay names).
    Auto,
    /// Equal (IDs and names still through the map).
    Exact,
    /// The same kind of value: a UUID, an RFC 3339 time, empty, a number of
    /// the same sign and integer-ness, other text.
    Shape,
    /// The same JSON type, non-empty when the recorded one was; lists may
    /// differ in length.
    Type,
    /// A number within `LO..=HI`.
    Range(f64, f64),
    /// Text, lists and logs of the same length.
    Length,
    /// Not compared.
    Ignore,
    /// A list: the same length, element by element (the default).
    Ordered,
    /// A list: the same elements in any order.
    Unordered,
    /// A list: every recorded element appears, in order; others are ignored
    /// (a shared node lists other clients' resources too).
    Subset,
}

impl Rule {
    /// Whether this rule is about lists.
    pub fn is_list_rule(self) -> bool {
        matches!(self, Rule::Ordered | Rule::Unordered | Rule::Subset)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Auto => f.write_str("auto"),
            Rule::Exact => f.write_str("exact"),
            Rule::Shape => f.write_str("shape"),
            Rule::Type => f.write_str("type"),
            Rule::Range(lo, hi) => write!(f, "range {lo}..{hi}"),
            Rule::Length => f.write_str("length"),
            Rule::Ignore => f.write_str("ignore"),
            Rule::Ordered => f.write_str("ordered"),
            Rule::Unordered => f.write_str("unordered"),
            Rule::Subset => f.write_str("subset"),
        }
    }
}

/// The rule names [`Rule::parse`] accepts, for error messages.
pub const RULE_NAMES: &str =
    "auto, exact, shape, type, range LO..HI, length, ignore, ordered, unordered, subset";

impl std::str::FromStr for Rule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Rule::parse(s)
    }
}

impl Rule {
    /// Parses `exact`, `range 0..100`, ... (see [`RULE_NAMES`]).
    pub fn parse(text: &str) -> Result<Rule, String> {
        let t = text.trim();
        let (word, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
        let rest = rest.trim();
        let rule = match word.to_ascii_lowercase().as_str() {
            "auto" | "default" => Rule::Auto,
            "exact" => Rule::Exact,
            "shape" => Rule::Shape,
            "type" => Rule::Type,
            "length" => Rule::Length,
            "ignore" => Rule::Ignore,
            "ordered" => Rule::Ordered,
            "unordered" => Rule::Unordered,
            "subset" => Rule::Subset,
            "range" => {
                let (lo, hi) = rest.split_once("..").ok_or_else(|| {
                    format!("{text:?}: a range is `range LO..HI`, e.g. `range 0..100`")
                })?;
                let num = |s: &str| {
                    s.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|n| n.is_finite())
                        .ok_or_else(|| format!("{text:?}: {:?} is not a number", s.trim()))
                };
                let (lo, hi) = (num(lo)?, num(hi)?);
                if lo > hi {
                    return Err(format!("{text:?}: the range is empty ({lo} > {hi})"));
                }
                return Ok(Rule::Range(lo, hi));
            }
            "" => return Err(format!("empty rule: expected one of {RULE_NAMES}")),
            other => {
                return Err(format!(
                    "unknown rule {other:?}: expected one of {RULE_NAMES}"
                ));
            }
        };
        if !rest.is_empty() {
            return Err(format!("{text:?}: `{word}` takes no argument"));
        }
        Ok(rule)
    }
}

/// A path glob and its rule.
#[derive(Debug, Clone, PartialEq)]
pub struct PathRule {
    /// The glob (`GetSystemStatus.**`).
    pub path: String,
    segments: Vec<String>,
    /// The rule.
    pub rule: Rule,
    /// Where it came from (`rules.yaml #3`, `built-in #1`).
    pub origin: String,
}

impl PathRule {
    /// A rule for `path`; errors on an empty glob or segment.
    pub fn new(path: &str, rule: Rule, origin: impl Into<String>) -> Result<Self, String> {
        let path = path.trim();
        if path.is_empty() {
            return Err("empty path: expected e.g. GetSystemStatus.cpu.usagePercent".into());
        }
        let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return Err(format!(
                "path {path:?} has an empty segment (`..` or a dot at an end)"
            ));
        }
        Ok(Self {
            path: path.to_owned(),
            segments,
            rule,
            origin: origin.into(),
        })
    }

    /// Whether the glob matches `path` (segments of a field path).
    pub fn matches(&self, path: &[&str]) -> bool {
        segments_match(&self.segments, path)
    }
}

fn segments_match(glob: &[String], path: &[&str]) -> bool {
    match glob.split_first() {
        None => path.is_empty(),
        Some((g, rest)) if g == "**" => {
            (0..=path.len()).any(|skip| segments_match(rest, &path[skip..]))
        }
        Some((g, rest)) => match path.split_first() {
            Some((p, prest)) => glob_match(g, p) && segments_match(rest, prest),
            None => false,
        },
    }
}

/// Rules in force, in order: the last one that matches wins.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleSet {
    rules: Vec<PathRule>,
}

/// A rule file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// The file could not be read.
    #[error("cannot read the rule file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It is not a rule file.
    #[error("rule file {origin}: {reason}")]
    Invalid {
        /// The file.
        origin: String,
        /// What is wrong (with the line, or the rule's number and path).
        reason: String,
    },
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    path: String,
    rule: String,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    rules: Vec<Entry>,
}

impl RuleSet {
    /// The built-in rules.
    pub fn defaults() -> Self {
        Self::parse(DEFAULTS, "built-in").expect("the built-in rules parse")
    }

    /// Parses rule YAML: a list of `{path, rule}`, or `rules:` holding one.
    pub fn parse(text: &str, origin: &str) -> Result<Self, RulesError> {
        let invalid = |reason: String| RulesError::Invalid {
            origin: origin.to_owned(),
            reason,
        };
        let value: serde_norway::Value =
            serde_norway::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let entries: Vec<Entry> = match value {
            serde_norway::Value::Null => Vec::new(),
            serde_norway::Value::Sequence(_) => {
                serde_norway::from_str(text).map_err(|e| invalid(e.to_string()))?
            }
            serde_norway::Value::Mapping(_) => {
                serde_norway::from_str::<Doc>(text)
                    .map_err(|e| invalid(e.to_string()))?
                    .rules
            }
            _ => {
                return Err(invalid(
                    "expected a list of rules (`- path: ...` and `rule: ...`), or `rules:` holding one"
                        .into(),
                ));
            }
        };
        let mut rules = Vec::with_capacity(entries.len());
        for (i, e) in entries.into_iter().enumerate() {
            let at = format!("rule #{} (path {:?})", i + 1, e.path);
            let rule = Rule::parse(&e.rule).map_err(|r| invalid(format!("{at}: {r}")))?;
            rules.push(
                PathRule::new(&e.path, rule, format!("{origin} #{}", i + 1))
                    .map_err(|r| invalid(format!("{at}: {r}")))?,
            );
        }
        Ok(Self { rules })
    }

    /// Reads a rule file.
    pub fn load(path: &Path) -> Result<Self, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// These rules, then `later`'s (which win).
    pub fn then(mut self, later: RuleSet) -> Self {
        self.rules.extend(later.rules);
        self
    }

    /// The rule for `path` (segments), [`Rule::Auto`] when none matches.
    pub fn rule_for(&self, path: &[&str]) -> Rule {
        self.rules
            .iter()
            .rev()
            .find(|r| r.matches(path))
            .map_or(Rule::Auto, |r| r.rule)
    }

    /// How many rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn rules_parse() {
        assert_eq!(Rule::parse("exact"), Ok(Rule::Exact));
        assert_eq!(Rule::parse(" Ignore "), Ok(Rule::Ignore));
        assert_eq!(Rule::parse("range 0..100"), Ok(Rule::Range(0.0, 100.0)));
        assert_eq!(Rule::parse("range -1.5 .. 2"), Ok(Rule::Range(-1.5, 2.0)));
        assert!(Rule::parse("range 5..1").unwrap_err().contains("empty"));
        assert!(Rule::parse("range 0-100").unwrap_err().contains("LO..HI"));
        assert!(
            Rule::parse("range a..1")
                .unwrap_err()
                .contains("not a number")
        );
        assert!(
            Rule::parse("rnage 0..1")
                .unwrap_err()
                .contains("unknown rule")
        );
        assert!(
            Rule::parse("exact please")
                .unwrap_err()
                .contains("takes no argument")
        );
        assert!(Rule::parse("").unwrap_err().contains("empty rule"));
    }

    #[test]
    fn globs_match_paths() {
        let r = |p: &str| PathRule::new(p, Rule::Ignore, "t").unwrap();
        let path = ["GetSystemStatus", "cpu", "usagePercent"];
        assert!(r("GetSystemStatus.cpu.usagePercent").matches(&path));
        assert!(r("GetSystemStatus.**").matches(&path));
        assert!(r("*.**.*Percent").matches(&path));
        assert!(r("**").matches(&path));
        assert!(r("GetSystemStatus.**.usagePercent").matches(&path));
        assert!(!r("GetSystemStatus.cpu").matches(&path));
        assert!(!r("ListJobs.**").matches(&path));
        assert!(r("*.@code").matches(&["StopJob", "@code"]));
        assert!(PathRule::new("a..b", Rule::Ignore, "t").is_err());
        assert!(PathRule::new(" ", Rule::Ignore, "t").is_err());
    }

    #[test]
    fn files_parse_and_the_last_rule_wins() {
        let text = "\
rules:
  - path: \"GetSystemStatus.**\"
    rule: type
  - path: GetSystemStatus.cpu.usagePercent
    rule: range 0..100
";
        let set = RuleSet::parse(text, "r.yaml").unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(
            set.rule_for(&["GetSystemStatus", "cpu", "usagePercent"]),
            Rule::Range(0.0, 100.0)
        );
        assert_eq!(
            set.rule_for(&["GetSystemStatus", "cpu", "cores"]),
            Rule::Type
        );
        assert_eq!(set.rule_for(&["ListJobs", "jobs"]), Rule::Auto);
        // A bare list works too, and a later set wins.
        let later =
            RuleSet::parse("- {path: \"GetSystemStatus.**\", rule: ignore}\n", "l").unwrap();
        let both = set.then(later);
        assert_eq!(
            both.rule_for(&["GetSystemStatus", "cpu", "usagePercent"]),
            Rule::Ignore
        );
        assert!(RuleSet::parse("", "e").unwrap().is_empty());
    }

    #[test]
    fn bad_files_name_the_problem() {
        let err = RuleSet::parse("- path: a.b\n  rule: rnage 1..2\n", "r.yaml").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "rule file r.yaml: rule #1 (path \"a.b\"): unknown rule \"rnage\": expected one of {RULE_NAMES}"
            )
        );
        let err = RuleSet::parse("- path: a\n  rule: exact\n  extra: 1\n", "r.yaml").unwrap_err();
        assert!(err.to_string().contains("unknown field `extra`"), "{err}");
        let err = RuleSet::parse("rules:\n  - path: a\n    rul: exact\n", "r.yaml").unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
        let err = RuleSet::parse("42", "r.yaml").unwrap_err();
        assert!(
            err.to_string().contains("expected a list of rules"),
            "{err}"
        );
        let err = RuleSet::parse("- path: \"a..b\"\n  rule: exact\n", "r.yaml").unwrap_err();
        assert!(err.to_string().contains("empty segment"), "{err}");
    }

    #[test]
    fn the_defaults_parse() {
        let d = RuleSet::defaults();
        assert!(!d.is_empty());
        assert_eq!(
            d.rule_for(&["GetSystemStatus", "host", "hostname"]),
            Rule::Type
        );
        assert_eq!(d.rule_for(&["GetSystemStatus", "available"]), Rule::Exact);
        assert_eq!(
            d.rule_for(&["StreamSystemMetrics", "memory", "usagePercent"]),
            Rule::Range(0.0, 100.0)
        );
        assert_eq!(d.rule_for(&["GetJobStatus", "status"]), Rule::Auto);
    }

    proptest! {
        #[test]
        fn the_rule_parser_never_panics(s in "\\PC{0,30}") {
            let _ = Rule::parse(&s);
        }

        #[test]
        fn rules_round_trip(lo in -1e6f64..1e6, span in 0f64..1e6, pick in 0usize..10) {
            let rule = match pick {
                0 => Rule::Auto, 1 => Rule::Exact, 2 => Rule::Shape, 3 => Rule::Type,
                4 => Rule::Length, 5 => Rule::Ignore, 6 => Rule::Ordered,
                7 => Rule::Unordered, 8 => Rule::Subset, _ => Rule::Range(lo, lo + span),
            };
            prop_assert_eq!(Rule::parse(&rule.to_string()), Ok(rule));
        }

        #[test]
        fn the_file_parser_never_panics(s in "\\PC{0,120}") {
            let _ = RuleSet::parse(&s, "p");
        }

        #[test]
        fn a_path_matches_itself(segs in proptest::collection::vec("[A-Za-z@]{1,8}", 1..5)) {
            let path = segs.join(".");
            let refs: Vec<&str> = segs.iter().map(String::as_str).collect();
            let r = PathRule::new(&path, Rule::Exact, "p").unwrap();
            prop_assert!(r.matches(&refs));
            let any = PathRule::new("**", Rule::Exact, "p").unwrap();
            prop_assert!(any.matches(&refs));
        }
    }
}
