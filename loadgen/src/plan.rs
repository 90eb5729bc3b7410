//! The load plan. Every scenario and every flag set becomes one [`Plan`]:
//! weighted [`Action`]s, the job they submit, and [`Stage`]s of load (a
//! target rate, open model, or a fixed concurrency, closed model) with linear
//! ramps between them. The worker loop only ever reads a plan, so `submit
//! --rate 100`, `logs --concurrency 4` and a YAML mix plan run through the
//! same code.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use joblet_testkit::pb;
use serde::Deserialize;

use crate::stats::Op;
use crate::transport::Rpc;
use crate::units;

/// How much load a stage applies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// Open model: requests start at this rate (per second) whatever the
    /// latency; each has an intended start time.
    Rate(f64),
    /// Closed model: this many requests in flight, each started when the
    /// previous one of its worker ends.
    Concurrency(u32),
}

impl Load {
    fn same_kind(&self, other: &Load) -> bool {
        matches!(
            (self, other),
            (Load::Rate(_), Load::Rate(_)) | (Load::Concurrency(_), Load::Concurrency(_))
        )
    }

    /// The level as a number (requests/s or requests in flight).
    pub fn level(&self) -> f64 {
        match self {
            Load::Rate(r) => *r,
            Load::Concurrency(c) => f64::from(*c),
        }
    }
}

impl fmt::Display for Load {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Load::Rate(r) => write!(f, "rate {}/s", units::trim_float(*r, 3)),
            Load::Concurrency(c) => write!(f, "concurrency {c}"),
        }
    }
}

/// One stage of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// Name shown in reports (`stage-1` unless the plan names it).
    pub name: String,
    /// Load at the end of the ramp.
    pub load: Load,
    /// Length of the stage; `None` only for the last stage of a run bounded
    /// by a request count.
    pub duration: Option<Duration>,
    /// The first `ramp` of the stage moves linearly from the previous stage's
    /// level (zero for the first stage) to `load`.
    pub ramp: Duration,
}

/// How `lifecycle` follows a job to its final state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// Read its log stream to the end, then ask its status once.
    Logs,
    /// Ask its status at this interval.
    Poll(Duration),
}

/// What one unit of load does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// One RPC. RunJob submits the plan's job; the others act on a job this
    /// run created in the state they need (StopJob a running one, DeleteJob
    /// a finished one); with none, the draw is skipped (counted, not sent).
    Call(Rpc),
    /// RunJob, then follow the job to its final state.
    Lifecycle(Follow),
    /// RunJob of `head -c BYTES /dev/zero`, then read its whole log stream.
    LogStream {
        /// Bytes the job writes.
        bytes: u64,
    },
    /// RunJob, then `followers` readers of its StreamJobMetrics (and as many
    /// of its StreamJobTelematics with `telematics`), each until the stream
    /// ends or the load does (v2 only).
    Telemetry {
        /// Readers of each stream of each job.
        followers: u32,
        /// Follow StreamJobTelematics too.
        telematics: bool,
    },
}

impl Action {
    /// The report operations this action produces.
    pub fn ops(&self) -> Vec<Op> {
        match self {
            Action::Call(rpc) => vec![Op::of(*rpc)],
            Action::Lifecycle(Follow::Logs) => {
                vec![Op::Submit, Op::Logs, Op::Status, Op::Running, Op::Final]
            }
            Action::Lifecycle(Follow::Poll(_)) => {
                vec![Op::Submit, Op::Status, Op::Running, Op::Final]
            }
            Action::LogStream { .. } => vec![Op::Submit, Op::Logs],
            Action::Telemetry { telematics, .. } => {
                let mut ops = vec![Op::Submit, Op::Metrics];
                if *telematics {
                    ops.push(Op::Telematics);
                }
                ops
            }
        }
    }

    /// Whether the action calls a method only contract v2.5.9 has.
    pub fn needs_v2(&self) -> bool {
        matches!(
            self,
            Action::Telemetry { .. }
                | Action::Call(Rpc::StreamJobMetrics | Rpc::StreamJobTelematics)
        )
    }
}

/// The messages a run sends: those of contract v1.0.6 or of v2.5.9. The
/// method paths the generator calls are the same in both; RunJobRequest
/// differs (v1 has `name`, v2 has `timeout` and no `name`), and the
/// requests that carry only a job's `uuid` (field 1) are the same bytes in
/// both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wire {
    /// joblet v1.0.6 messages.
    V1,
    /// joblet v2.5.9 messages.
    V2,
}

impl Wire {
    /// `v1` or `v2`.
    pub fn name(self) -> &'static str {
        match self {
            Wire::V1 => "v1",
            Wire::V2 => "v2",
        }
    }
}

/// An action with its share of the load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weighted {
    /// The action.
    pub action: Action,
    /// Its weight (relative to the others').
    pub weight: f64,
}

/// The job the plan submits.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Job name (`--job-name`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Command (default `true`).
    #[serde(default = "default_command")]
    pub command: String,
    /// Arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// CPU limit in percent (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_cpu: i32,
    /// CPU cores (`0-3`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cpu_cores: String,
    /// Memory limit in MB (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_memory: i32,
    /// I/O limit in bytes per second (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_iobps: i32,
    /// Runtime (`python-3.11`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub runtime: String,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// Longest run time, as a Go duration (`30s`, `1m30s`): RunJob's
    /// `timeout` (`--job-timeout`; contract v2 only, empty: none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub timeout: String,
}

fn is_zero(v: &i32) -> bool {
    *v == 0
}

fn default_command() -> String {
    "true".into()
}

impl JobSpec {
    /// The job `true` with no arguments.
    pub fn true_job() -> Self {
        Self {
            command: default_command(),
            ..Default::default()
        }
    }

    /// The job of the `metrics` scenario: a shell loop that runs for about
    /// `length`, starting a short process (`/bin/true`) every 100 ms, so
    /// that it has metrics samples and telematics `exec` events to stream.
    pub fn telemetry(length: Duration) -> Self {
        let rounds = (length.as_millis() / 100).max(1);
        Self {
            command: "bash".into(),
            args: vec![
                "-c".into(),
                format!("for i in $(seq 1 {rounds}); do sleep 0.1; /bin/true; done"),
            ],
            ..Default::default()
        }
    }

    /// The job of the `logs` scenario: `head -c BYTES /dev/zero`.
    pub fn zeros(bytes: u64) -> Self {
        Self {
            command: "head".into(),
            args: vec!["-c".into(), bytes.to_string(), "/dev/zero".into()],
            ..Default::default()
        }
    }

    /// The RunJob request of this job in the messages of `wire`, as a gRPC
    /// frame: v1 has no `timeout`, v2 no `name` (the checks before a run
    /// refuse a job that sets what its contract lacks: [`JobSpec::check`]).
    pub fn frame(&self, wire: Wire) -> bytes::Bytes {
        match wire {
            Wire::V1 => crate::transport::grpc::frame(&self.request()),
            Wire::V2 => crate::transport::grpc::frame(&self.request_v2()),
        }
    }

    /// Why this job cannot be sent in the messages of `wire`, if it cannot.
    pub fn check(&self, wire: Wire) -> Result<(), String> {
        match wire {
            Wire::V1 if !self.timeout.is_empty() => Err(format!(
                "--job-timeout {:?}: RunJob has no timeout in contract v1.0.6 (the target speaks v1; a timeout needs a v2.5.9 node)",
                self.timeout
            )),
            Wire::V2 if !self.name.is_empty() => Err(format!(
                "--job-name {:?}: RunJob has no name in contract v2.5.9 (the target speaks v2); drop --job-name",
                self.name
            )),
            _ => Ok(()),
        }
    }

    /// The v2.5.9 RunJob request of this job.
    pub fn request_v2(&self) -> pb::v2::RunJobRequest {
        pb::v2::RunJobRequest {
            command: self.command.clone(),
            args: self.args.clone(),
            max_cpu: self.max_cpu,
            cpu_cores: self.cpu_cores.clone(),
            max_memory: self.max_memory,
            max_io_bps: self.max_iobps,
            runtime: self.runtime.clone(),
            environment: self.environment.clone().into_iter().collect(),
            timeout: self.timeout.clone(),
            ..Default::default()
        }
    }

    /// The v1.0.6 RunJob request of this job.
    pub fn request(&self) -> pb::RunJobRequest {
        pb::RunJobRequest {
            name: self.name.clone(),
            command: self.command.clone(),
            args: self.args.clone(),
            max_cpu: self.max_cpu,
            cpu_cores: self.cpu_cores.clone(),
            max_memory: self.max_memory,
            max_iobps: self.max_iobps,
            runtime: self.runtime.clone(),
            environment: self.environment.clone().into_iter().collect(),
            ..Default::default()
        }
    }

    /// `command arg arg`, for reports.
    pub fn command_line(&self) -> String {
        std::iter::once(self.command.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The whole load of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Scenario name (`submit`, `lifecycle`, `logs`, `mix`).
    pub scenario: String,
    /// What each unit of load does, weighted.
    pub actions: Vec<Weighted>,
    /// The job RunJob submits (the `logs` action uses its own).
    pub job: JobSpec,
    /// Stages, run one after another.
    pub stages: Vec<Stage>,
    /// Stop after this many actions in all (across workers and threads).
    pub requests: Option<u64>,
}

/// The default length of a run with neither `--duration` nor `--requests`.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// Open, closed or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// Every stage is a rate.
    Open,
    /// Every stage is a concurrency.
    Closed,
    /// Some of each.
    Mixed,
}

impl Model {
    /// `open`, `closed`, `mixed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Model::Open => "open",
            Model::Closed => "closed",
            Model::Mixed => "mixed",
        }
    }
}

/// A plan that cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The YAML does not parse.
    #[error("plan {file}: {reason}")]
    Yaml {
        /// Where the plan came from.
        file: String,
        /// The parser's message.
        reason: String,
    },
    /// A field is invalid.
    #[error("{0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> PlanError {
    PlanError::Invalid(msg.into())
}

impl Plan {
    /// A plan with one stage of `load` for `duration` (or until `requests`
    /// actions; with neither, [`DEFAULT_DURATION`]).
    pub fn single(
        scenario: &str,
        action: Action,
        job: JobSpec,
        load: Load,
        duration: Option<Duration>,
        requests: Option<u64>,
    ) -> Result<Self, PlanError> {
        let duration = match (duration, requests) {
            (None, None) => Some(DEFAULT_DURATION),
            (d, _) => d,
        };
        let plan = Plan {
            scenario: scenario.into(),
            actions: vec![Weighted {
                action,
                weight: 1.0,
            }],
            job,
            stages: vec![Stage {
                name: "main".into(),
                load,
                duration,
                ramp: Duration::ZERO,
            }],
            requests,
        };
        plan.validate()?;
        Ok(plan)
    }

    /// Checks the plan: weights, stages, ramps, bounds.
    pub fn validate(&self) -> Result<(), PlanError> {
        if self.actions.is_empty() {
            return Err(invalid("the plan has no operations"));
        }
        for w in &self.actions {
            if !(w.weight.is_finite() && w.weight >= 0.0) {
                return Err(invalid(format!("weight {} is not a number >= 0", w.weight)));
            }
        }
        if self.actions.iter().all(|w| w.weight == 0.0) {
            return Err(invalid("every operation has weight 0"));
        }
        let needs_job = self.actions.iter().any(|w| {
            w.weight > 0.0
                && matches!(
                    w.action,
                    Action::Call(
                        Rpc::GetJobStatus | Rpc::GetJobLogs | Rpc::StopJob | Rpc::DeleteJob
                    )
                )
        });
        let submits = self
            .actions
            .iter()
            .any(|w| w.weight > 0.0 && matches!(w.action, Action::Call(Rpc::RunJob)));
        if needs_job && !submits {
            return Err(invalid(
                "GetJobStatus, GetJobLogs, StopJob and DeleteJob act on jobs this run created: give RunJob a weight > 0",
            ));
        }
        if self.job.command.trim().is_empty() {
            return Err(invalid("the job's command is empty"));
        }
        if !self.job.timeout.is_empty() {
            units::go_duration(&self.job.timeout)
                .map_err(|e| invalid(format!("the job's timeout (--job-timeout): {e}")))?;
        }
        for w in &self.actions {
            if let Action::Telemetry { followers: 0, .. } = w.action {
                return Err(invalid("--followers must be at least 1"));
            }
        }
        if self.stages.is_empty() {
            return Err(invalid("the plan has no stages"));
        }
        if self.requests == Some(0) {
            return Err(invalid("--requests must be at least 1"));
        }
        if self.stages.iter().all(|s| s.load.level() == 0.0) {
            return Err(invalid(
                "every stage has rate 0 or concurrency 0: the run would send nothing",
            ));
        }
        let last = self.stages.len() - 1;
        let mut previous: Option<&Stage> = None;
        for (i, s) in self.stages.iter().enumerate() {
            let name = format!("stage {} ({})", i + 1, s.name);
            match s.load {
                Load::Rate(r) if !(r.is_finite() && r >= 0.0) => {
                    return Err(invalid(format!("{name}: rate {r} is not a number >= 0")));
                }
                Load::Rate(r) if r > 10_000_000.0 => {
                    return Err(invalid(format!("{name}: rate {r}/s is above 10M/s")));
                }
                Load::Concurrency(c) if c > 1_000_000 => {
                    return Err(invalid(format!("{name}: concurrency {c} is above 1M")));
                }
                _ => {}
            }
            match s.duration {
                None if i != last || self.requests.is_none() => {
                    return Err(invalid(format!(
                        "{name}: a duration is needed (only the last stage of a run bounded by --requests may go without)"
                    )));
                }
                Some(d) if d.is_zero() => {
                    return Err(invalid(format!("{name}: the duration must be above 0")));
                }
                Some(d) if s.ramp > d => {
                    return Err(invalid(format!(
                        "{name}: the ramp ({}) is longer than the stage ({})",
                        units::format_duration(s.ramp),
                        units::format_duration(d)
                    )));
                }
                _ => {}
            }
            if !s.ramp.is_zero()
                && let Some(p) = previous
                && !p.load.same_kind(&s.load)
            {
                return Err(invalid(format!(
                    "{name}: cannot ramp from {} to {}: a ramp joins two rates or two concurrencies",
                    p.load, s.load
                )));
            }
            previous = Some(s);
        }
        Ok(())
    }

    /// Open, closed or mixed.
    pub fn model(&self) -> Model {
        let open = self
            .stages
            .iter()
            .filter(|s| matches!(s.load, Load::Rate(_)))
            .count();
        match open {
            0 => Model::Closed,
            n if n == self.stages.len() => Model::Open,
            _ => Model::Mixed,
        }
    }

    /// The sum of the stages' durations; `None` when the last is open-ended.
    pub fn total_duration(&self) -> Option<Duration> {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// The report operations the plan produces.
    pub fn operations(&self) -> BTreeSet<Op> {
        self.actions
            .iter()
            .filter(|w| w.weight > 0.0)
            .flat_map(|w| w.action.ops())
            .collect()
    }

    /// Largest concurrency of any stage (0 for an open plan).
    pub fn max_concurrency(&self) -> u32 {
        self.stages
            .iter()
            .filter_map(|s| match s.load {
                Load::Concurrency(c) => Some(c),
                Load::Rate(_) => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// Parses a `mix` plan (YAML; see `fixtures/load/`).
    pub fn from_yaml(text: &str, file: &str, requests: Option<u64>) -> Result<Self, PlanError> {
        let raw: RawPlan = serde_norway::from_str(text).map_err(|e| PlanError::Yaml {
            file: file.into(),
            reason: e.to_string(),
        })?;
        let mut actions = Vec::new();
        for (name, weight) in &raw.operations {
            let rpc = rpc_named(name).ok_or_else(|| {
                invalid(format!(
                    "plan {file}: unknown operation {name:?} (RunJob, GetJobStatus, ListJobs, GetJobLogs, StopJob, DeleteJob)"
                ))
            })?;
            actions.push(Weighted {
                action: Action::Call(rpc),
                weight: *weight,
            });
        }
        let mut stages = Vec::new();
        for (i, s) in raw.stages.iter().enumerate() {
            let name = s.name.clone().unwrap_or_else(|| format!("stage-{}", i + 1));
            let at = |what: &str| format!("plan {file}: stage {} ({name}): {what}", i + 1);
            let load = match (s.rate, s.concurrency) {
                (Some(r), None) => Load::Rate(r),
                (None, Some(c)) => Load::Concurrency(c),
                (Some(_), Some(_)) => {
                    return Err(invalid(at("give rate or concurrency, not both")));
                }
                (None, None) => return Err(invalid(at("give rate (requests/s) or concurrency"))),
            };
            let duration = s
                .duration
                .as_deref()
                .map(units::parse_duration)
                .transpose()
                .map_err(|e| invalid(at(&e.to_string())))?;
            let ramp = s
                .ramp
                .as_deref()
                .map(units::parse_duration)
                .transpose()
                .map_err(|e| invalid(at(&e.to_string())))?
                .unwrap_or_default();
            stages.push(Stage {
                name,
                load,
                duration,
                ramp,
            });
        }
        let plan = Plan {
            scenario: "mix".into(),
            actions,
            job: raw.job.unwrap_or_else(JobSpec::true_job),
            stages,
            requests,
        };
        plan.validate().map_err(|e| match e {
            PlanError::Invalid(m) if !m.starts_with("plan ") => {
                invalid(format!("plan {file}: {m}"))
            }
            other => other,
        })?;
        Ok(plan)
    }
}

/// The RPC a plan names (`RunJob` or `joblet.JobService/RunJob`).
pub(crate) fn rpc_named(name: &str) -> Option<Rpc> {
    let short = name.trim().rsplit('/').next().unwrap_or("");
    Rpc::ALL
        .into_iter()
        .find(|r| r.path().rsplit('/').next() == Some(short))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    #[serde(default)]
    job: Option<JobSpec>,
    operations: BTreeMap<String, f64>,
    stages: Vec<RawStage>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    rate: Option<f64>,
    #[serde(default)]
    concurrency: Option<u32>,
    #[serde(default)]
    duration: Option<String>,
    #[serde(default)]
    ramp: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use prost::Message;

    #[test]
    fn each_contract_gets_its_own_run_job_and_the_id_requests_are_shared_contract_1() {
        let job = JobSpec {
            name: "n".into(),
            command: "sleep".into(),
            args: vec!["1".into()],
            max_iobps: 7,
            timeout: "30s".into(),
            ..Default::default()
        };
        let v1 = pb::RunJobRequest::decode(&job.frame(Wire::V1)[5..]).unwrap();
        assert_eq!((v1.name.as_str(), v1.max_iobps), ("n", 7));
        let v2 = pb::v2::RunJobRequest::decode(&job.frame(Wire::V2)[5..]).unwrap();
        assert_eq!((v2.timeout.as_str(), v2.max_io_bps), ("30s", 7));
        assert_eq!(v2.command, "sleep");
        // What one contract lacks is refused, naming the flag.
        assert!(job.check(Wire::V1).unwrap_err().contains("--job-timeout"));
        assert!(job.check(Wire::V2).unwrap_err().contains("--job-name"));
        let plain = JobSpec::true_job();
        assert!(plain.check(Wire::V1).is_ok() && plain.check(Wire::V2).is_ok());
        // The requests that carry only a job's ID are the same bytes in both.
        let id = "3f1c".to_owned();
        assert_eq!(
            pb::GetJobStatusReq { uuid: id.clone() }.encode_to_vec(),
            pb::v2::GetJobStatusRequest { uuid: id.clone() }.encode_to_vec()
        );
        assert_eq!(
            pb::StopJobReq { uuid: id.clone() }.encode_to_vec(),
            pb::v2::StopJobRequest { uuid: id.clone() }.encode_to_vec()
        );
        assert_eq!(
            pb::DeleteJobReq { uuid: id.clone() }.encode_to_vec(),
            pb::v2::DeleteJobRequest { uuid: id.clone() }.encode_to_vec()
        );
        assert_eq!(
            pb::GetJobLogsReq { uuid: id.clone() }.encode_to_vec(),
            pb::v2::GetJobLogsRequest { uuid: id }.encode_to_vec()
        );
    }

    #[test]
    fn a_bad_job_timeout_or_no_follower_is_refused() {
        let mut job = JobSpec::true_job();
        job.timeout = "10".into();
        let e = Plan::single(
            "submit",
            Action::Call(Rpc::RunJob),
            job,
            Load::Concurrency(1),
            None,
            Some(1),
        )
        .unwrap_err();
        assert!(e.to_string().contains("--job-timeout"), "{e}");
        let e = Plan::single(
            "metrics",
            Action::Telemetry {
                followers: 0,
                telematics: false,
            },
            JobSpec::telemetry(Duration::from_secs(1)),
            Load::Concurrency(1),
            None,
            Some(1),
        )
        .unwrap_err();
        assert!(e.to_string().contains("--followers"), "{e}");
        let ops = Action::Telemetry {
            followers: 2,
            telematics: true,
        }
        .ops();
        assert_eq!(ops, vec![Op::Submit, Op::Metrics, Op::Telematics]);
        assert!(Action::Call(Rpc::StreamJobMetrics).needs_v2());
        assert!(!Action::Call(Rpc::GetJobLogs).needs_v2());
    }

    const PLAN: &str = r#"
job: { command: sleep, args: ["1"] }
operations:
  RunJob: 60
  GetJobStatus: 30
  ListJobs: 5
  GetJobLogs: 5
stages:
  - { name: warm, rate: 50, duration: 10s }
  - { rate: 200, duration: 30s, ramp: 10s }
  - { concurrency: 16, duration: 1m }
"#;

    #[test]
    fn a_yaml_plan_parses_into_stages_and_weights() {
        let p = Plan::from_yaml(PLAN, "t.yaml", None).unwrap();
        assert_eq!(p.scenario, "mix");
        assert_eq!(p.job.command_line(), "sleep 1");
        assert_eq!(p.actions.len(), 4);
        assert_eq!(p.stages[0].name, "warm");
        assert_eq!(p.stages[1].name, "stage-2");
        assert_eq!(p.stages[1].ramp, Duration::from_secs(10));
        assert_eq!(p.stages[2].load, Load::Concurrency(16));
        assert_eq!(p.model(), Model::Mixed);
        assert_eq!(p.total_duration(), Some(Duration::from_secs(100)));
        let ops: Vec<_> = p.operations().into_iter().map(Op::name).collect();
        assert_eq!(ops, ["submit", "status", "list", "logs"]);
    }

    #[test]
    fn bad_plans_name_the_problem() {
        let cases = [
            (
                "operations: {Nope: 1}\nstages: [{rate: 1, duration: 1s}]",
                "unknown operation \"Nope\"",
            ),
            (
                "operations: {RunJob: 1}\nstages: [{duration: 1s}]",
                "give rate",
            ),
            (
                "operations: {RunJob: 1}\nstages: [{rate: 1, concurrency: 2, duration: 1s}]",
                "not both",
            ),
            (
                "operations: {RunJob: 1}\nstages: [{rate: 1}]",
                "a duration is needed",
            ),
            (
                "operations: {RunJob: 1}\nstages: [{rate: 1, duration: 1s, ramp: 2s}]",
                "longer than the stage",
            ),
            (
                "operations: {RunJob: 1}\nstages: [{rate: 1, duration: 1s}, {concurrency: 2, duration: 2s, ramp: 1s}]",
                "cannot ramp",
            ),
            (
                "operations: {GetJobStatus: 1}\nstages: [{rate: 1, duration: 1s}]",
                "give RunJob a weight",
            ),
            (
                "operations: {RunJob: -1}\nstages: [{rate: 1, duration: 1s}]",
                "not a number >= 0",
            ),
            (
                "operations: {RunJob: 1}\nstages: [{rate: 1, duration: 1s, extra: 1}]",
                "unknown field",
            ),
            ("operations: {RunJob: 1}\nstages: []", "no stages"),
            (
                "operations: {RunJob: 1}\nstages: [{rate: 1, duration: 1 fortnight}]",
                "duration",
            ),
        ];
        for (yaml, want) in cases {
            let err = Plan::from_yaml(yaml, "t.yaml", None)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{yaml}\n=> {err}\n(wanted {want:?})");
            assert!(err.contains("t.yaml"), "{err}");
        }
    }

    #[test]
    fn requests_allow_an_open_ended_last_stage() {
        let yaml = "operations: {RunJob: 1}\nstages: [{concurrency: 2}]";
        assert!(Plan::from_yaml(yaml, "t", None).is_err());
        let p = Plan::from_yaml(yaml, "t", Some(10)).unwrap();
        assert_eq!(p.total_duration(), None);
    }

    #[test]
    fn a_plan_that_sends_nothing_is_refused() {
        let yaml = "operations: {RunJob: 1}\nstages: [{rate: 0, duration: 5s}, {concurrency: 0, duration: 5s}]";
        let err = Plan::from_yaml(yaml, "t", None).unwrap_err().to_string();
        assert!(err.contains("would send nothing"), "{err}");
        // A pause between two loaded stages is fine.
        let yaml = "operations: {RunJob: 1}\nstages: [{rate: 10, duration: 1s}, {rate: 0, duration: 1s}, {rate: 10, duration: 1s}]";
        assert!(Plan::from_yaml(yaml, "t", None).is_ok());
        for load in [Load::Rate(0.0), Load::Concurrency(0)] {
            let single = Plan::single(
                "submit",
                Action::Call(Rpc::RunJob),
                JobSpec::true_job(),
                load,
                None,
                Some(5),
            );
            assert!(single.is_err(), "{load}");
        }
    }

    #[test]
    fn single_stage_plans_default_to_ten_seconds() {
        let p = Plan::single(
            "submit",
            Action::Call(Rpc::RunJob),
            JobSpec::true_job(),
            Load::Concurrency(4),
            None,
            None,
        )
        .unwrap();
        assert_eq!(p.total_duration(), Some(DEFAULT_DURATION));
        let p = Plan::single(
            "submit",
            Action::Call(Rpc::RunJob),
            JobSpec::true_job(),
            Load::Rate(5.0),
            None,
            Some(3),
        )
        .unwrap();
        assert_eq!((p.total_duration(), p.model()), (None, Model::Open));
    }

    #[test]
    fn the_job_becomes_a_run_job_request() {
        let r = JobSpec::zeros(1 << 20).request();
        assert_eq!(r.command, "head");
        assert_eq!(r.args, ["-c", "1048576", "/dev/zero"]);
        assert_eq!(rpc_named("joblet.JobService/StopJob"), Some(Rpc::StopJob));
    }

    proptest! {
        #[test]
        fn the_plan_parser_never_panics(text in "\\PC{0,200}") {
            let _ = Plan::from_yaml(&text, "fuzz", None);
        }

        #[test]
        fn generated_stage_lists_parse(
            stages in proptest::collection::vec((0u32..3, 1u32..1000, 1u64..100, 0u64..100), 1..6)
        ) {
            let mut yaml = String::from("operations: {RunJob: 1, ListJobs: 2}\nstages:\n");
            for (kind, level, dur, ramp) in &stages {
                let ramp = ramp % (dur + 1);
                let load = if *kind == 0 { format!("concurrency: {level}") } else { format!("rate: {level}") };
                yaml.push_str(&format!("  - {{ {load}, duration: {dur}s, ramp: {ramp}s }}\n"));
            }
            match Plan::from_yaml(&yaml, "gen", None) {
                Ok(p) => {
                    prop_assert_eq!(p.stages.len(), stages.len());
                    let total: u64 = stages.iter().map(|s| s.2).sum();
                    prop_assert_eq!(p.total_duration(), Some(Duration::from_secs(total)));
                }
                // Only a ramp between a rate and a concurrency is refused.
                Err(e) => prop_assert!(e.to_string().contains("cannot ramp"), "{}", e),
            }
        }
    }
}
