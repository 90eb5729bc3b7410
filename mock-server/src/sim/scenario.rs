//! Scripted commands: what `python train.py` or `node server.js` prints, how
//! long it takes and how it exits.
//!
//! # File format
//!
//! A scenario file is YAML with one key, `scenarios`, a list tried in order
//! (files in the order given; the first match wins):
//!
//! ```yaml
//! scenarios:
//!   - name: python-extract            # optional, for logs and errors
//!     match:
//!       command: python               # required; glob (`*`, `?`, `[..]`); a pattern
//!                                     # without `/` also matches the basename,
//!                                     # so `python` matches `/usr/bin/python`
//!       args: ["extract.py", "*"]     # optional: exactly these args, each a glob;
//!                                     # `**` matches any number of args
//!       # args_prefix: ["-m", "http.server"]  # optional instead of `args`:
//!                                     # the first args match, the rest is free
//!     steps:                          # optional, run in order
//!       - print: "extracting..."      # a line (a newline is added)
//!       - write: "no newline"         # raw text
//!       - sleep: 0.5                  # seconds, or a string: "250ms", "2s", "1m", "1h"
//!       - bytes: 1048576              # exactly that many bytes: lines of 'x',
//!                                     # the last one newline-terminated
//!       - lines: { count: 3, text: "epoch {n}/3", interval: 0.1 }
//!                                     # numbered lines ({n} from 1), optional pause
//!       - cat: data/in.txt            # an uploaded file (relative to the work dir)
//!       - repeat: { times: 2, steps: [ { print: "tick" }, { sleep: 1 } ] }
//!     exit: 0                         # exit code (default 0)
//! ```
//!
//! Unknown keys are errors naming the key and the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;

use super::glob::Pattern;
use super::io::{Broken, Io, XLINES};

/// The deepest `repeat` nesting accepted.
const MAX_REPEAT_DEPTH: usize = 8;

/// How a scenario recognises its command.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// Glob for the command (also tried against its basename when it has no `/`).
    pub command: String,
    /// Globs for all the args (`**` matches any number of args).
    #[serde(default)]
    pub args: Option<Vec<String>>,
    /// Globs for the first args.
    #[serde(default)]
    pub args_prefix: Option<Vec<String>>,
}

/// `lines:` step.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinesStep {
    /// How many lines.
    pub count: u64,
    /// The line; `{n}` is replaced by its number (from 1).
    #[serde(default = "default_line_text")]
    pub text: String,
    /// Pause after each line.
    #[serde(default)]
    pub interval: Option<Seconds>,
}

fn default_line_text() -> String {
    "line {n}".to_owned()
}

/// `repeat:` step.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatStep {
    /// How many times.
    pub times: u64,
    /// What to repeat.
    pub steps: Vec<Step>,
}

/// One thing a scenario does (in YAML a map with exactly one key).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "StepRepr")]
pub enum Step {
    /// Prints a line.
    Print(String),
    /// Prints text as is.
    Write(String),
    /// Pauses.
    Sleep(Seconds),
    /// Prints that many bytes of filler lines.
    Bytes(u64),
    /// Prints numbered lines.
    Lines(LinesStep),
    /// Prints an uploaded file.
    Cat(String),
    /// Repeats steps.
    Repeat(RepeatStep),
}

/// The YAML form of a step: one of these keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepRepr {
    print: Option<String>,
    write: Option<String>,
    sleep: Option<Seconds>,
    bytes: Option<u64>,
    lines: Option<LinesStep>,
    cat: Option<String>,
    repeat: Option<RepeatStep>,
}

impl TryFrom<StepRepr> for Step {
    type Error = String;

    fn try_from(r: StepRepr) -> Result<Self, String> {
        let mut steps = Vec::new();
        steps.extend(r.print.map(Step::Print));
        steps.extend(r.write.map(Step::Write));
        steps.extend(r.sleep.map(Step::Sleep));
        steps.extend(r.bytes.map(Step::Bytes));
        steps.extend(r.lines.map(Step::Lines));
        steps.extend(r.cat.map(Step::Cat));
        steps.extend(r.repeat.map(Step::Repeat));
        if steps.len() != 1 {
            return Err(format!(
                "a step has exactly one of `print`, `write`, `sleep`, `bytes`, `lines`, `cat`, `repeat` (found {})",
                steps.len()
            ));
        }
        steps.pop().ok_or_else(|| "empty step".to_owned())
    }
}

/// A duration in seconds: a number, or a string with a unit (`ms`, `s`, `m`, `h`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seconds(pub f64);

impl Seconds {
    /// As a duration (`None` when not finite or negative).
    pub fn duration(self) -> Option<Duration> {
        Duration::try_from_secs_f64(self.0).ok()
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Seconds;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a duration: seconds as a number, or a string like \"250ms\", \"2s\", \"1m\"",
                )
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Seconds, E> {
                check_secs(v).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Seconds, E> {
                check_secs(v as f64).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Seconds, E> {
                check_secs(v as f64).map_err(E::custom)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Seconds, E> {
                parse_duration_text(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

fn check_secs(v: f64) -> Result<Seconds, String> {
    if (0.0..1e9).contains(&v) {
        Ok(Seconds(v))
    } else {
        Err(format!(
            "invalid duration {v}: must be between 0 and 1e9 seconds"
        ))
    }
}

/// Parses `"250ms"`, `"2s"`, `"1.5m"`, `"1h"` or a bare number of seconds.
pub(super) fn parse_duration_text(s: &str) -> Result<Seconds, String> {
    let t = s.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num.trim().parse().map_err(|_| {
        format!("invalid duration {s:?}: expected e.g. 0.5, \"250ms\", \"2s\", \"1m\"")
    })?;
    check_secs(v * mult)
}

/// One scripted command (from `fixtures/scenarios/*.yaml`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A name for logs and errors.
    #[serde(default)]
    pub name: String,
    /// Which commands this scenario plays.
    #[serde(rename = "match")]
    pub matcher: Match,
    /// What it does.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Its exit code.
    #[serde(default)]
    pub exit: i32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    scenarios: Vec<Scenario>,
}

/// Scenario files that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("cannot read scenario file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid scenario YAML (syntax, unknown key, wrong type).
    #[error("invalid scenario file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the location.
        message: String,
    },
    /// A scenario parses but cannot be used.
    #[error("invalid scenario file {path}: scenario {scenario}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Name or index of the scenario.
        scenario: String,
        /// What is wrong.
        message: String,
    },
}

/// Parses the scenarios of one file's text.
pub fn parse_scenarios(text: &str, path: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    let file: ScenarioFile = serde_norway::from_str(text).map_err(|e| ScenarioError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    for (i, s) in file.scenarios.iter().enumerate() {
        let label = if s.name.is_empty() {
            format!("#{}", i + 1)
        } else {
            format!("{:?}", s.name)
        };
        let invalid = |message: &str| ScenarioError::Invalid {
            path: path.to_owned(),
            scenario: label.clone(),
            message: message.to_owned(),
        };
        if s.matcher.command.is_empty() {
            return Err(invalid("match.command is empty"));
        }
        if s.matcher.args.is_some() && s.matcher.args_prefix.is_some() {
            return Err(invalid("match.args and match.args_prefix are exclusive"));
        }
        if steps_depth(&s.steps) > MAX_REPEAT_DEPTH {
            return Err(invalid("repeat is nested too deeply"));
        }
    }
    Ok(file.scenarios)
}

fn steps_depth(steps: &[Step]) -> usize {
    steps
        .iter()
        .map(|s| match s {
            Step::Repeat(r) => 1 + steps_depth(&r.steps),
            _ => 0,
        })
        .max()
        .unwrap_or(0)
}

/// Loads every scenario in `paths` (files, in order).
pub fn load_scenarios(paths: &[PathBuf]) -> Result<Vec<Scenario>, ScenarioError> {
    let mut all = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.clone(),
            source,
        })?;
        all.extend(parse_scenarios(&text, path)?);
    }
    Ok(all)
}

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

impl Scenario {
    /// Whether this scenario plays `command args…`.
    pub fn matches(&self, command: &str, args: &[String]) -> bool {
        let m = &self.matcher;
        let cp = Pattern::new(&m.command);
        let cmd_ok =
            cp.matches(command) || (!m.command.contains('/') && cp.matches(basename(command)));
        if !cmd_ok {
            return false;
        }
        if let Some(pats) = &m.args {
            return args_match(pats, args);
        }
        if let Some(prefix) = &m.args_prefix {
            return prefix.len() <= args.len()
                && prefix
                    .iter()
                    .zip(args)
                    .all(|(p, a)| Pattern::new(p).matches(a));
        }
        true
    }

    /// A label for logs.
    pub fn label(&self) -> &str {
        if self.name.is_empty() {
            &self.matcher.command
        } else {
            &self.name
        }
    }
}

/// Matches args against patterns where `**` stands for any number of args.
fn args_match(pats: &[String], args: &[String]) -> bool {
    match pats.split_first() {
        None => args.is_empty(),
        Some((p, rest)) if p == "**" => (0..=args.len()).any(|k| args_match(rest, &args[k..])),
        Some((p, rest)) => match args.split_first() {
            Some((a, arest)) => Pattern::new(p).matches(a) && args_match(rest, arest),
            None => false,
        },
    }
}

/// Reads uploaded files for `cat:` steps.
pub(super) trait FileSource {
    /// The file's content, or the error message (`cat: X: No such file or directory`).
    fn read(&self, path: &str) -> Result<Bytes, String>;
}

/// Plays `steps`. Stops early when the output is gone.
pub(super) async fn play(
    steps: &[Step],
    io: &mut Io<'_>,
    files: &(dyn FileSource + Sync),
) -> Result<(), Broken> {
    // An explicit stack instead of recursion: (steps, next index, repeats left).
    let mut stack: Vec<(&[Step], usize, u64)> = vec![(steps, 0, 1)];
    while let Some(top) = stack.last_mut() {
        let (list, idx, left) = (top.0, top.1, top.2);
        if idx >= list.len() {
            if left > 1 {
                top.1 = 0;
                top.2 -= 1;
            } else {
                stack.pop();
            }
            continue;
        }
        top.1 += 1;
        match &list[idx] {
            Step::Print(text) => {
                let mut s = String::with_capacity(text.len() + 1);
                s.push_str(text);
                s.push('\n');
                io.out_slice(s.as_bytes()).await?;
            }
            Step::Write(text) => io.out_slice(text.as_bytes()).await?,
            Step::Sleep(s) => io.sleep(s.duration()).await,
            Step::Bytes(n) => filler(io, *n).await?,
            Step::Lines(l) => {
                for n in 1..=l.count {
                    let mut line = l.text.replace("{n}", &n.to_string());
                    line.push('\n');
                    io.out_slice(line.as_bytes()).await?;
                    if let Some(iv) = l.interval {
                        io.sleep(iv.duration()).await;
                    }
                }
            }
            Step::Cat(path) => match files.read(path) {
                Ok(data) => io.out(data).await?,
                Err(msg) => io.err_line(&msg).await,
            },
            Step::Repeat(r) => {
                if r.times > 0 && !r.steps.is_empty() {
                    stack.push((&r.steps, 0, r.times));
                }
            }
        }
    }
    Ok(())
}

/// Exactly `n` bytes of lines of 'x' (64-byte lines; the last one is shorter
/// and still ends with a newline).
pub(super) async fn filler(io: &mut Io<'_>, n: u64) -> Result<(), Broken> {
    let full = n - n % 64;
    let mut left = full;
    while left > 0 {
        let take = left.min(XLINES.len() as u64) as usize;
        io.out(Bytes::from_static(&XLINES[..take])).await?;
        left -= take as u64;
    }
    let rest = (n % 64) as usize;
    if rest > 0 {
        let mut tail = vec![b'x'; rest];
        tail[rest - 1] = b'\n';
        io.out_slice(&tail).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parse_and_match() {
        let yaml = r#"
scenarios:
  - name: extract
    match: { command: python, args: ["extract.py"] }
    steps:
      - print: "extracting..."
      - sleep: 0.5
      - sleep: "250ms"
      - bytes: 100
      - lines: { count: 2, text: "row {n}" }
      - repeat: { times: 2, steps: [ { print: tick } ] }
    exit: 3
  - match: { command: "python*", args: ["**", "--fast"] }
  - match: { command: node, args_prefix: ["server.js"] }
"#;
        let s = parse_scenarios(yaml, Path::new("x.yaml")).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].exit, 3);
        assert_eq!(s[0].steps[1], Step::Sleep(Seconds(0.5)));
        assert_eq!(s[0].steps[2], Step::Sleep(Seconds(0.25)));
        assert!(s[0].matches("python", &args(&["extract.py"])));
        assert!(s[0].matches("/usr/bin/python", &args(&["extract.py"])));
        assert!(!s[0].matches("python", &args(&["extract.py", "x"])));
        assert!(!s[0].matches("python3", &args(&["extract.py"])));
        assert!(s[1].matches("python3", &args(&["a", "b", "--fast"])));
        assert!(s[1].matches("python3", &args(&["--fast"])));
        assert!(!s[1].matches("python3", &args(&["--fast", "x"])));
        assert!(s[2].matches("node", &args(&["server.js", "--port", "80"])));
        assert!(!s[2].matches("node", &args(&[])));
        assert_eq!(s[2].label(), "node");
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        let yaml = "scenarios:\n  - match: { command: x }\n    stepz: []\n";
        let e = parse_scenarios(yaml, Path::new("dir/bad.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("dir/bad.yaml"), "{e}");
        assert!(e.contains("stepz"), "{e}");
        let yaml = "scenarios:\n  - match: { command: x, argz: [] }\n";
        let e = parse_scenarios(yaml, Path::new("b.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("argz"), "{e}");
        let yaml = "scenarios:\n  - match: { command: x }\n    steps: [ { prnt: hi } ]\n";
        let e = parse_scenarios(yaml, Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("prnt"), "{e}");
        let yaml = "scenario: []\n";
        let e = parse_scenarios(yaml, Path::new("d.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("scenario"), "{e}");
    }

    #[test]
    fn invalid_values() {
        let bad = [
            "scenarios:\n  - match: { command: '' }\n",
            "scenarios:\n  - match: { command: x, args: [], args_prefix: [] }\n",
            "scenarios:\n  - match: { command: x }\n    steps: [ { sleep: -1 } ]\n",
            "scenarios:\n  - match: { command: x }\n    steps: [ { sleep: soon } ]\n",
            "scenarios:\n  - match: { command: x }\n    exit: many\n",
            "scenarios: [ {",
            "scenarios:\n  - match: { command: x }\n    steps: [ { print: a, sleep: 1 } ]\n",
            "scenarios:\n  - match: { command: x }\n    steps: [ {} ]\n",
        ];
        for y in bad {
            assert!(parse_scenarios(y, Path::new("e.yaml")).is_err(), "{y}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_text("2s"), Ok(Seconds(2.0)));
        assert_eq!(parse_duration_text("1m"), Ok(Seconds(60.0)));
        assert_eq!(parse_duration_text("1.5h"), Ok(Seconds(5400.0)));
        assert_eq!(parse_duration_text("3"), Ok(Seconds(3.0)));
        assert!(parse_duration_text("nan").is_err());
        assert!(parse_duration_text("").is_err());
    }

    #[test]
    fn example_file_loads() {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios/examples.yaml");
        let s = load_scenarios(&[path]).unwrap();
        assert!(
            s.iter()
                .any(|s| s.matches("python", &args(&["extract.py"])))
        );
        assert!(s.iter().any(|s| s.matches("python", &args(&["train.py"]))));
        assert!(s.iter().any(|s| s.matches("node", &args(&["server.js"]))));
        let missing = load_scenarios(&[PathBuf::from("/nonexistent/x.yaml")]).unwrap_err();
        assert!(matches!(missing, ScenarioError::Read { .. }));
    }

    proptest! {
        #[test]
        fn duration_parser_never_panics(s in ".{0,16}") {
            let _ = parse_duration_text(&s);
        }

        #[test]
        fn yaml_never_panics(s in ".{0,80}") {
            let _ = parse_scenarios(&s, Path::new("p.yaml"));
        }
    }
}
