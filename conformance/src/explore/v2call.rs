//! The v2-only calls an explored sequence makes (job metrics and
//! telematics, ValidateRuntimeYAML, BuildRuntime, RunJob and ListRuntimes
//! with the v2 messages) and their answers, reduced to what
//! [`super::v2model`] judges; both print as readable text.

use std::fmt;

use tonic::Code;

/// A runtime YAML the explorer writes, field by field, so that the model
/// knows which rules of RT-YAML-2 it breaks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RtYaml {
    /// `schema_version` (None: left out).
    pub schema: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `version`.
    pub version: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `base.language`.
    pub language: Option<String>,
    /// `base.version`.
    pub base_version: Option<String>,
    /// `pip`.
    pub pip: Vec<String>,
    /// `platforms`.
    pub platforms: Vec<String>,
    /// `hooks.timeout` (with a pre-install hook).
    pub hooks_timeout: Option<String>,
    /// `requirements.gpu`.
    pub gpu: bool,
    /// Not YAML at all (an unclosed flow sequence).
    pub garbage: bool,
    /// No text at all (`yaml_content` "").
    pub empty: bool,
}

impl RtYaml {
    /// The text sent.
    pub fn text(&self) -> String {
        if self.empty {
            return String::new();
        }
        if self.garbage {
            return "name: [unclosed\n  version: 1.0.0\n".to_owned();
        }
        let mut out = String::new();
        let mut line = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                out.push_str(&format!("{k}: \"{v}\"\n"));
            }
        };
        line("schema_version", &self.schema);
        line("name", &self.name);
        line("version", &self.version);
        line("description", &self.description);
        if self.language.is_some() || self.base_version.is_some() {
            out.push_str("base:\n");
            for (k, v) in [
                ("language", &self.language),
                ("version", &self.base_version),
            ] {
                if let Some(v) = v {
                    out.push_str(&format!("  {k}: \"{v}\"\n"));
                }
            }
        }
        let list = |out: &mut String, k: &str, items: &[String]| {
            if !items.is_empty() {
                out.push_str(&format!("{k}:\n"));
                for i in items {
                    out.push_str(&format!("  - \"{i}\"\n"));
                }
            }
        };
        list(&mut out, "pip", &self.pip);
        list(&mut out, "platforms", &self.platforms);
        if let Some(t) = &self.hooks_timeout {
            out.push_str(&format!(
                "hooks:\n  timeout: \"{t}\"\n  pre_install: \"echo pre\"\n"
            ));
        }
        if self.gpu {
            out.push_str("requirements:\n  gpu: true\n");
        }
        out
    }
}

/// The file the explorer's scripts write.
pub const OUT_FILE: &str = "cf-out.txt";

/// Which job an ID names, as the explorer meant it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The text sent.
    pub id: String,
    /// The model's job it designates (index in creation order), if any.
    pub job: Option<usize>,
    /// A prefix shared by at least two of the run's jobs.
    pub ambiguous: bool,
}

/// A v2-only call, resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum V2Call {
    /// StreamJobMetrics, read for a moment.
    StreamMetrics(Target),
    /// GetJobMetrics.
    GetMetrics(Target, Range),
    /// StreamJobTelematics, read for a moment.
    StreamTelem(Target, Vec<String>),
    /// GetJobTelematics.
    GetTelem(Target, Vec<String>, Range),
    /// ValidateRuntimeYAML.
    Validate(RtYaml),
    /// BuildRuntime.
    Build {
        /// The YAML.
        yaml: RtYaml,
        /// dry_run.
        dry_run: bool,
        /// verbose.
        verbose: bool,
    },
    /// ListRuntimes with the v2 message.
    ListRuntimes,
}

/// The range and limit of a Get call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Range {
    /// start_time (Unix ns, 0: open).
    pub start: i64,
    /// end_time (Unix ns, 0: open).
    pub end: i64,
    /// limit (0: all).
    pub limit: i32,
}

impl V2Call {
    /// The RPC's name.
    pub fn rpc(&self) -> &'static str {
        match self {
            V2Call::StreamMetrics(_) => "StreamJobMetrics",
            V2Call::GetMetrics(..) => "GetJobMetrics",
            V2Call::StreamTelem(..) => "StreamJobTelematics",
            V2Call::GetTelem(..) => "GetJobTelematics",
            V2Call::Validate(_) => "ValidateRuntimeYAML",
            V2Call::Build { .. } => "BuildRuntime",
            V2Call::ListRuntimes => "ListRuntimes",
        }
    }

    /// The job it names, if any.
    pub fn job(&self) -> Option<&Target> {
        match self {
            V2Call::StreamMetrics(id)
            | V2Call::GetMetrics(id, _)
            | V2Call::StreamTelem(id, _)
            | V2Call::GetTelem(id, ..) => Some(id),
            _ => None,
        }
    }
}

fn show_job(f: &mut fmt::Formatter<'_>, id: &Target) -> fmt::Result {
    write!(f, "job_uuid: {:?}", id.id)?;
    Ok(())
}

fn show_tail(f: &mut fmt::Formatter<'_>, id: &Target) -> fmt::Result {
    match (id.job, id.ambiguous) {
        (_, true) => write!(f, " (a prefix of several jobs)"),
        (Some(j), false) => write!(f, " (job #{j})"),
        (None, false) if id.id.is_empty() => Ok(()),
        (None, false) => write!(f, " (no such job)"),
    }
}

fn show_range(f: &mut fmt::Formatter<'_>, r: &Range) -> fmt::Result {
    if r.start != 0 {
        write!(f, ", start_time: {}", r.start)?;
    }
    if r.end != 0 {
        write!(f, ", end_time: {}", r.end)?;
    }
    if r.limit != 0 {
        write!(f, ", limit: {}", r.limit)?;
    }
    Ok(())
}

impl fmt::Display for V2Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            V2Call::StreamMetrics(id) => {
                write!(f, "StreamJobMetrics{{")?;
                show_job(f, id)?;
                write!(f, "}}")?;
                show_tail(f, id)
            }
            V2Call::GetMetrics(id, r) => {
                write!(f, "GetJobMetrics{{")?;
                show_job(f, id)?;
                show_range(f, r)?;
                write!(f, "}}")?;
                show_tail(f, id)
            }
            V2Call::StreamTelem(id, types) => {
                write!(f, "StreamJobTelematics{{")?;
                show_job(f, id)?;
                write!(f, ", types: {types:?}}}")?;
                show_tail(f, id)
            }
            V2Call::GetTelem(id, types, r) => {
                write!(f, "GetJobTelematics{{")?;
                show_job(f, id)?;
                write!(f, ", types: {types:?}")?;
                show_range(f, r)?;
                write!(f, "}}")?;
                show_tail(f, id)
            }
            V2Call::Validate(y) => write!(f, "ValidateRuntimeYAML{{yaml_content: {:?}}}", y.text()),
            V2Call::Build {
                yaml,
                dry_run,
                verbose,
            } => {
                write!(f, "BuildRuntime{{yaml_content: {:?}", yaml.text())?;
                if *dry_run {
                    write!(f, ", dry_run: true")?;
                }
                if *verbose {
                    write!(f, ", verbose: true")?;
                }
                write!(f, "}}")
            }
            V2Call::ListRuntimes => write!(f, "ListRuntimes{{}} (v2 message)"),
        }
    }
}

/// How a stream ended within the explorer's bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// With OK.
    Ok,
    /// With an error status.
    Error(Code, String),
    /// Still open when the explorer stopped reading (nothing more within the
    /// wait for one message, or enough read).
    Open,
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            End::Ok => write!(f, "OK"),
            End::Error(c, m) => write!(f, "{} {m:?}", joblet_testkit::code_name(*c)),
            End::Open => write!(f, "still open"),
        }
    }
}

/// A metrics sample (JobMetricsEvent).
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::derive_partial_eq_without_eq)]
pub struct Sample {
    /// timestamp (Unix ns).
    pub ts: i64,
    /// job_uuid.
    pub uuid: String,
    /// cpu_percent.
    pub cpu: f64,
    /// gpu_percent.
    pub gpu: f64,
    /// memory_bytes.
    pub memory: i64,
    /// memory_limit.
    pub memory_limit: i64,
    /// disk_read_bytes, disk_write_bytes, net_recv_bytes, net_sent_bytes.
    pub counters: [i64; 4],
    /// gpu_memory_bytes.
    pub gpu_memory: i64,
}

// Answers compare as wholes (a sample's percentages are never NaN: the
// model refuses them before they are compared).
impl Eq for Sample {}

/// A telematics event, reduced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// timestamp (Unix ns).
    pub ts: i64,
    /// job_uuid.
    pub uuid: String,
    /// type.
    pub kind: String,
    /// The `data` member set (None: none).
    pub data: Option<&'static str>,
    /// Its pid.
    pub pid: u32,
    /// exec: ppid.
    pub ppid: u32,
    /// exec: binary; file: path.
    pub what: String,
    /// exec: args.
    pub args: Vec<String>,
    /// exec: exit_code.
    pub exit_code: i32,
    /// file: operation.
    pub operation: String,
}

/// A BuildRuntime message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildMsg {
    /// phase: number, total, name.
    Phase(i32, i32, String),
    /// log: level, message, timestamp.
    Log(String, String, i64),
    /// result.
    Result(BuildResult),
    /// A message with no member set.
    Empty,
}

/// A build's result.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildResult {
    /// success.
    pub success: bool,
    /// message.
    pub message: String,
    /// runtime_name.
    pub name: String,
    /// runtime_version.
    pub version: String,
    /// install_path.
    pub path: String,
    /// size_bytes.
    pub size: i64,
}

/// ValidateRuntimeYAML's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Validated {
    /// valid.
    pub valid: bool,
    /// message.
    pub message: String,
    /// errors.
    pub errors: Vec<String>,
    /// warnings.
    pub warnings: Vec<String>,
    /// spec_info: name, version, language, language_version, description,
    /// pip_packages, has_hooks, requires_gpu (None: not set).
    pub info: Option<YamlInfo>,
}

/// RuntimeYAMLInfo, reduced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct YamlInfo {
    /// name.
    pub name: String,
    /// version.
    pub version: String,
    /// language.
    pub language: String,
    /// language_version.
    pub language_version: String,
    /// description.
    pub description: String,
    /// pip_packages.
    pub pip: Vec<String>,
    /// has_hooks.
    pub hooks: bool,
    /// requires_gpu.
    pub gpu: bool,
}

/// A runtime as the v2 ListRuntimes shows it, reduced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RtView {
    /// name.
    pub name: String,
    /// language.
    pub language: String,
    /// version.
    pub version: String,
    /// language_version.
    pub language_version: String,
    /// description.
    pub description: String,
    /// original_yaml.
    pub yaml: String,
}

/// A v2-only call's answer (an error status is `Answer::Error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V2Answer {
    /// RunJob: job_uuid, status.
    Run(String, String),
    /// The samples read, and how the stream ended.
    Samples(Vec<Sample>, End),
    /// The events read, and how the stream ended.
    Events(Vec<Event>, End),
    /// ValidateRuntimeYAML.
    Validated(Validated),
    /// The build's messages, and how the stream ended.
    Build(Vec<BuildMsg>, End),
    /// ListRuntimes: the run's own runtimes.
    Runtimes(Vec<RtView>),
}

impl fmt::Display for V2Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            V2Answer::Run(u, s) => write!(f, "OK {{job_uuid {u}, status {s}}}"),
            V2Answer::Samples(s, end) => {
                let stamps: Vec<i64> = s.iter().map(|s| s.ts).collect();
                write!(f, "{} sample(s) at {stamps:?}", s.len())?;
                if let Some(x) = s.first() {
                    write!(
                        f,
                        " (first: job_uuid {}, cpu {}, memory {}/{}, counters {:?}, gpu {} {})",
                        x.uuid, x.cpu, x.memory, x.memory_limit, x.counters, x.gpu, x.gpu_memory
                    )?;
                }
                write!(f, ", then {end}")
            }
            V2Answer::Events(e, end) => {
                write!(f, "{} event(s): [", e.len())?;
                for (i, e) in e.iter().enumerate().take(12) {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(
                        f,
                        "{} {} pid {} {:?} {:?}",
                        e.ts, e.kind, e.pid, e.what, e.operation
                    )?;
                }
                if e.len() > 12 {
                    write!(f, ", …")?;
                }
                write!(f, "], then {end}")
            }
            V2Answer::Validated(v) => write!(
                f,
                "OK {{valid {}, message {:?}, errors {:?}, warnings {:?}, spec_info {:?}}}",
                v.valid, v.message, v.errors, v.warnings, v.info
            ),
            V2Answer::Build(msgs, end) => {
                write!(f, "[")?;
                for (i, m) in msgs.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    match m {
                        BuildMsg::Phase(n, t, name) => write!(f, "phase {n}/{t} {name:?}")?,
                        BuildMsg::Log(l, m, _) => write!(f, "{l} {m:?}")?,
                        BuildMsg::Result(r) => write!(f, "result {r:?}")?,
                        BuildMsg::Empty => write!(f, "(empty)")?,
                    }
                }
                write!(f, "], then {end}")
            }
            V2Answer::Runtimes(r) => write!(f, "OK, the run's: {r:?}"),
        }
    }
}
