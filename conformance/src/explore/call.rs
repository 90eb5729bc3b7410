//! The calls an explored sequence makes, resolved to concrete requests, and
//! the answers they get, reduced to what the model judges. Both print as
//! readable text (`StopJob{uuid: 3f2a…}`, `FAILED_PRECONDITION "job is not
//! running"`).

use std::fmt;

use tonic::Code;

/// What a job's command does, as far as the model predicts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    /// An empty command (refused: JOB-RUN-2).
    Empty,
    /// `echo TEXT`: completes at once with output `TEXT\n`.
    Echo(String),
    /// `false`: fails at once with exit code 1, no output.
    False,
    /// `sleep` for this many milliseconds, then completes with no output.
    Sleep(u32),
    /// `cat in.txt` of an uploaded file with this content: completes at once
    /// with the content as output.
    Cat(String),
    /// `sh -c SCRIPT`, a script that writes no output of its own (it
    /// redirects to files) and runs this many milliseconds, then completes.
    Shell(String, u32),
}

impl Cmd {
    /// The command and arguments sent.
    pub fn command_args(&self) -> (String, Vec<String>) {
        match self {
            Cmd::Empty => (String::new(), vec![]),
            Cmd::Echo(t) => ("echo".into(), vec![t.clone()]),
            Cmd::False => ("false".into(), vec![]),
            Cmd::Sleep(ms) => ("sleep".into(), vec![format!("{}", *ms as f64 / 1000.0)]),
            Cmd::Cat(_) => ("cat".into(), vec!["in.txt".into()]),
            Cmd::Shell(script, _) => ("sh".into(), vec!["-c".into(), script.clone()]),
        }
    }

    /// How long it runs, in milliseconds.
    pub fn duration_ms(&self) -> f64 {
        match self {
            Cmd::Sleep(ms) | Cmd::Shell(_, ms) => *ms as f64,
            _ => 0.0,
        }
    }

    /// Its whole output.
    pub fn output(&self) -> Vec<u8> {
        match self {
            Cmd::Echo(t) => format!("{t}\n").into_bytes(),
            Cmd::Cat(c) => c.clone().into_bytes(),
            _ => Vec::new(),
        }
    }

    /// The status and exit code it ends with on its own.
    pub fn natural_end(&self) -> (&'static str, i32) {
        match self {
            Cmd::False => ("FAILED", 1),
            _ => ("COMPLETED", 0),
        }
    }
}

/// When a job is scheduled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sched {
    /// No schedule: runs now.
    None,
    /// A time in the past: runs now.
    Past,
    /// A time this many milliseconds after the request.
    Future(f64),
    /// A text that is no time at all (INVALID_ARGUMENT).
    Bad,
}

/// A RunJob request, with what the model needs to know of it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReq {
    /// What the command does.
    pub cmd: Cmd,
    /// The schedule's kind.
    pub sched: Sched,
    /// The schedule text sent.
    pub schedule: String,
    /// maxCpu, maxMemory, maxIobps.
    pub limits: (i32, i32, i32),
    /// cpuCores.
    pub cpu_cores: String,
    /// network ("" for the default).
    pub network: String,
    /// volumes.
    pub volumes: Vec<String>,
    /// runtime ("" for none).
    pub runtime: String,
    /// environment.
    pub env: Vec<(String, String)>,
    /// secret_environment.
    pub secret: Vec<(String, String)>,
    /// uploads: path and content.
    pub uploads: Vec<(String, String)>,
    /// gpu_count.
    pub gpu_count: i32,
    /// timeout (v2 only: JOB-TIMEOUT-1; "" for none).
    pub timeout: String,
}

/// Which job an ID names, as the explorer meant it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobId {
    /// The text sent.
    pub id: String,
    /// The model's job it designates (index in creation order), if any.
    pub job: Option<usize>,
    /// A prefix shared by at least two of the run's jobs.
    pub ambiguous: bool,
}

/// One call of a sequence, resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// RunJob.
    RunJob(Box<RunReq>),
    /// GetJobStatus.
    GetJobStatus(JobId),
    /// StopJob.
    StopJob(JobId),
    /// CancelJob.
    CancelJob(JobId),
    /// DeleteJob.
    DeleteJob(JobId),
    /// GetJobLogs, read by this many concurrent readers for at most this
    /// many milliseconds.
    GetJobLogs(JobId, u8, u64),
    /// ListJobs.
    ListJobs,
    /// CreateNetwork.
    CreateNetwork {
        /// name
        name: String,
        /// cidr
        cidr: String,
    },
    /// ListNetworks.
    ListNetworks,
    /// RemoveNetwork.
    RemoveNetwork(String),
    /// CreateVolume.
    CreateVolume {
        /// name
        name: String,
        /// size
        size: String,
        /// type
        kind: String,
    },
    /// ListVolumes.
    ListVolumes,
    /// RemoveVolume.
    RemoveVolume(String),
    /// ListRuntimes.
    ListRuntimes,
    /// GetRuntimeInfo.
    GetRuntimeInfo(String),
    /// TestRuntime.
    TestRuntime(String),
    /// GetSystemStatus.
    GetSystemStatus,
    /// ValidateRuntimeSpec: the spec, and whether the explorer made it valid.
    ValidateRuntimeSpec(String, bool),
    /// StreamSystemMetrics with these metric types: its first sample.
    StreamSystemMetrics(Vec<String>),
    /// No call: the explorer waits this many milliseconds.
    Wait(u64),
    /// A workflow call (WF-*).
    Wf(Box<super::wfcall::WfCall>),
    /// A call made by another identity than the admin.
    As(super::identity::Who, Box<Call>),
    /// A v2-only call (metrics, telematics, runtime YAML and builds).
    V2(Box<super::v2call::V2Call>),
    /// RunJob with the v2 message (answered by `job_uuid` and `status`).
    RunJobV2(Box<RunReq>),
    /// InstallRuntimeFromLocal or its streaming form.
    Install(super::identity::Install),
    /// RemoveRuntime.
    RemoveRuntime(String),
    /// A call made with the v2.5.9 messages (RunJob, GetJobStatus,
    /// ListJobs, GetJobLogs: [`super::contract`]).
    ViaV2(Box<Call>),
}

impl Call {
    /// The RPC's name (`Wait` for a pause).
    pub fn rpc(&self) -> &'static str {
        match self {
            Call::RunJob(_) => "RunJob",
            Call::GetJobStatus(_) => "GetJobStatus",
            Call::StopJob(_) => "StopJob",
            Call::CancelJob(_) => "CancelJob",
            Call::DeleteJob(_) => "DeleteJob",
            Call::GetJobLogs(..) => "GetJobLogs",
            Call::ListJobs => "ListJobs",
            Call::CreateNetwork { .. } => "CreateNetwork",
            Call::ListNetworks => "ListNetworks",
            Call::RemoveNetwork(_) => "RemoveNetwork",
            Call::CreateVolume { .. } => "CreateVolume",
            Call::ListVolumes => "ListVolumes",
            Call::RemoveVolume(_) => "RemoveVolume",
            Call::ListRuntimes => "ListRuntimes",
            Call::GetRuntimeInfo(_) => "GetRuntimeInfo",
            Call::TestRuntime(_) => "TestRuntime",
            Call::GetSystemStatus => "GetSystemStatus",
            Call::ValidateRuntimeSpec(..) => "ValidateRuntimeSpec",
            Call::StreamSystemMetrics(_) => "StreamSystemMetrics",
            Call::Wait(_) => "Wait",
            Call::Wf(c) => c.rpc(),
            Call::As(_, inner) => inner.rpc(),
            Call::V2(c) => c.rpc(),
            Call::RunJobV2(_) => "RunJob",
            Call::Install(i) if i.stream => "StreamingInstallRuntimeFromLocal",
            Call::Install(_) => "InstallRuntimeFromLocal",
            Call::RemoveRuntime(_) => "RemoveRuntime",
            Call::ViaV2(inner) => inner.rpc(),
        }
    }
}

fn show_id(f: &mut fmt::Formatter<'_>, rpc: &str, id: &JobId) -> fmt::Result {
    write!(f, "{rpc}{{uuid: {:?}}}", id.id)?;
    match (id.job, id.ambiguous) {
        (_, true) => write!(f, " (a prefix of several jobs)"),
        (Some(j), false) => write!(f, " (job #{j})"),
        (None, false) => write!(f, " (no such job)"),
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::RunJob(r) => {
                let (command, args) = r.cmd.command_args();
                write!(f, "RunJob{{command: {command:?}, args: {args:?}")?;
                if !r.schedule.is_empty() {
                    write!(f, ", schedule: {:?}", r.schedule)?;
                }
                if r.limits != (0, 0, 0) {
                    let (c, m, i) = r.limits;
                    write!(f, ", maxCpu: {c}, maxMemory: {m}, maxIobps: {i}")?;
                }
                for (name, value) in [
                    ("cpuCores", &r.cpu_cores),
                    ("network", &r.network),
                    ("runtime", &r.runtime),
                ] {
                    if !value.is_empty() {
                        write!(f, ", {name}: {value:?}")?;
                    }
                }
                if !r.volumes.is_empty() {
                    write!(f, ", volumes: {:?}", r.volumes)?;
                }
                if !r.env.is_empty() {
                    write!(f, ", environment: {:?}", r.env)?;
                }
                if !r.secret.is_empty() {
                    write!(f, ", secret_environment: {:?}", r.secret)?;
                }
                if !r.uploads.is_empty() {
                    write!(f, ", uploads: {:?}", r.uploads)?;
                }
                if r.gpu_count != 0 {
                    write!(f, ", gpu_count: {}", r.gpu_count)?;
                }
                if !r.timeout.is_empty() {
                    write!(f, ", timeout: {:?}", r.timeout)?;
                }
                write!(f, "}}")
            }
            Call::GetJobStatus(id) => show_id(f, "GetJobStatus", id),
            Call::StopJob(id) => show_id(f, "StopJob", id),
            Call::CancelJob(id) => show_id(f, "CancelJob", id),
            Call::DeleteJob(id) => show_id(f, "DeleteJob", id),
            Call::GetJobLogs(id, readers, _) => {
                show_id(f, "GetJobLogs", id)?;
                if *readers > 1 {
                    write!(f, " by {readers} readers at once")?;
                }
                Ok(())
            }
            Call::CreateNetwork { name, cidr } => {
                write!(f, "CreateNetwork{{name: {name:?}, cidr: {cidr:?}}}")
            }
            Call::RemoveNetwork(n) => write!(f, "RemoveNetwork{{name: {n:?}}}"),
            Call::CreateVolume { name, size, kind } => {
                write!(
                    f,
                    "CreateVolume{{name: {name:?}, size: {size:?}, type: {kind:?}}}"
                )
            }
            Call::RemoveVolume(n) => write!(f, "RemoveVolume{{name: {n:?}}}"),
            Call::GetRuntimeInfo(n) => write!(f, "GetRuntimeInfo{{runtime: {n:?}}}"),
            Call::TestRuntime(n) => write!(f, "TestRuntime{{runtime: {n:?}}}"),
            Call::Wait(ms) => write!(f, "(wait {ms} ms)"),
            Call::ValidateRuntimeSpec(spec, _) => {
                write!(f, "ValidateRuntimeSpec{{runtimeSpec: {spec:?}}}")
            }
            Call::StreamSystemMetrics(types) => {
                write!(
                    f,
                    "StreamSystemMetrics{{metricTypes: {types:?}}}, first sample"
                )
            }
            Call::Wf(c) => write!(f, "{c}"),
            Call::As(who, inner) => write!(f, "{inner} as {}", who.name()),
            Call::V2(c) => write!(f, "{c}"),
            Call::RunJobV2(r) => write!(f, "{} (v2 message)", Call::RunJob(r.clone())),
            Call::Install(i) => write!(f, "{i}"),
            Call::RemoveRuntime(n) => write!(f, "RemoveRuntime{{runtime: {n:?}}}"),
            Call::ViaV2(inner) => write!(f, "{inner} (v2 message)"),
            other => write!(f, "{}{{}}", other.rpc()),
        }
    }
}

/// A job as a list or status answer shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobView {
    /// uuid
    pub uuid: String,
    /// status
    pub status: String,
    /// exitCode
    pub exit_code: i32,
    /// command
    pub command: String,
    /// args
    pub args: Vec<String>,
    /// startTime
    pub start_time: String,
    /// endTime
    pub end_time: String,
    /// secret_environment values
    pub secret_values: Vec<String>,
    /// workDir (GetJobStatus only)
    pub work_dir: String,
    /// network (GetJobStatus only)
    pub network: String,
    /// runtime
    pub runtime: String,
    /// gpu_count
    pub gpu_count: i32,
    /// gpu_indices
    pub gpu_indices: Vec<i32>,
    /// timeout, as the v2 messages show it (`None`: read through v1's,
    /// which have no such field).
    pub timeout: Option<String>,
}

/// A network or volume as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// name
    pub name: String,
    /// cidr (networks) or size (volumes)
    pub detail: String,
    /// bridge (networks) or type (volumes)
    pub kind: String,
    /// jobCount
    pub job_count: i32,
}

/// How a log stream ended within the explorer's deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEnd {
    /// With OK.
    Ok,
    /// With an error status.
    Error(Code, String),
    /// Still open at the deadline.
    Open,
}

/// An answer, reduced to what the model judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An error status.
    Error(Code, String),
    /// RunJob's answer.
    Run(JobView, String),
    /// GetJobStatus's answer.
    Status(JobView),
    /// StopJob's answer: uuid, status, endTime, exitCode.
    Stop(String, String, String, i32),
    /// CancelJob's answer: uuid, status.
    Cancel(String, String),
    /// DeleteJob's answer: success.
    Delete(bool),
    /// The run's own jobs among ListJobs' answer, in the order listed.
    Jobs(Vec<JobView>),
    /// What each reader of GetJobLogs got.
    Logs(Vec<(Vec<u8>, LogEnd)>),
    /// CreateNetwork: name, cidr, bridge; CreateVolume: name, size, type, path.
    Created(Vec<String>),
    /// The first listed network (if any) and the run's own, in the order listed.
    Listing(Option<Listed>, Vec<Listed>),
    /// Remove answers: success, message.
    Removed(bool, String),
    /// ListRuntimes: each runtime's name and `available`.
    Runtimes(Vec<(String, bool)>),
    /// GetRuntimeInfo: found.
    Found(bool),
    /// TestRuntime: success, exitCode.
    Tested(bool, i32),
    /// GetSystemStatus: available.
    System(bool),
    /// ValidateRuntimeSpec: valid.
    Valid(bool),
    /// StreamSystemMetrics: the sections of its first sample (`host` and
    /// `timestamp` included when present).
    Sample(Vec<&'static str>),
    /// Nothing (a pause).
    Nothing,
    /// A workflow answer.
    Wf(super::wfcall::WfAnswer),
    /// An install's answer.
    Installed(super::identity::Installed),
    /// What only the v2 messages show of the node (CONTRACT-2,
    /// MON-STATUS-2, RT-LIST-2).
    Facts(super::facts::Facts),
    /// A v2-only call's answer.
    V2(super::v2call::V2Answer),
}

fn show_view(f: &mut fmt::Formatter<'_>, v: &JobView) -> fmt::Result {
    write!(f, "{} exitCode {}", v.status, v.exit_code)?;
    match &v.timeout {
        Some(t) => write!(f, " timeout {t:?}"),
        None => Ok(()),
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Error(code, message) => {
                write!(f, "{} {message:?}", joblet_testkit::code_name(*code))
            }
            Answer::Run(v, sched) => {
                write!(f, "OK {{uuid {}, status {}", v.uuid, v.status)?;
                if !sched.is_empty() {
                    write!(f, ", scheduledTime {sched}")?;
                }
                write!(f, "}}")
            }
            Answer::Status(v) => {
                write!(f, "OK {{")?;
                show_view(f, v)?;
                write!(
                    f,
                    ", startTime {:?}, endTime {:?}, workDir {:?}, network {:?}}}",
                    v.start_time, v.end_time, v.work_dir, v.network
                )
            }
            Answer::Stop(u, s, e, x) => {
                write!(
                    f,
                    "OK {{uuid {u}, status {s}, endTime {e:?}, exitCode {x}}}"
                )
            }
            Answer::Cancel(u, s) => write!(f, "OK {{uuid {u}, status {s}}}"),
            Answer::Delete(s) => write!(f, "OK {{success {s}}}"),
            Answer::Jobs(jobs) => {
                write!(f, "OK, the run's jobs: [")?;
                for (i, v) in jobs.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{} ", &v.uuid[..v.uuid.len().min(8)])?;
                    show_view(f, v)?;
                }
                write!(f, "]")
            }
            Answer::Logs(readers) => {
                for (i, (bytes, end)) in readers.iter().enumerate() {
                    if i > 0 {
                        write!(f, "; ")?;
                    }
                    write!(f, "{:?} then ", String::from_utf8_lossy(bytes))?;
                    match end {
                        LogEnd::Ok => write!(f, "OK")?,
                        LogEnd::Error(c, m) => {
                            write!(f, "{} {m:?}", joblet_testkit::code_name(*c))?
                        }
                        LogEnd::Open => write!(f, "still open")?,
                    }
                }
                Ok(())
            }
            Answer::Created(fields) => write!(f, "OK {fields:?}"),
            Answer::Listing(first, own) => {
                if let Some(l) = first {
                    write!(f, "OK, first {:?}; the run's: [", l.name)?;
                } else {
                    write!(f, "OK, empty; the run's: [")?;
                }
                for (i, l) in own.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(
                        f,
                        "{} {} {} jobCount {}",
                        l.name, l.detail, l.kind, l.job_count
                    )?;
                }
                write!(f, "]")
            }
            Answer::Removed(s, m) => write!(f, "OK {{success {s}, message {m:?}}}"),
            Answer::Runtimes(r) => write!(f, "OK {r:?}"),
            Answer::Found(b) => write!(f, "OK {{found {b}}}"),
            Answer::Tested(s, x) => write!(f, "OK {{success {s}, exitCode {x}}}"),
            Answer::System(a) => write!(f, "OK {{available {a}}}"),
            Answer::Valid(v) => write!(f, "OK {{valid {v}}}"),
            Answer::Sample(sections) => write!(f, "a sample with {sections:?}"),
            Answer::Nothing => write!(f, "-"),
            Answer::Wf(a) => write!(f, "{a}"),
            Answer::Installed(i) => write!(f, "{i}"),
            Answer::Facts(x) => write!(f, "{x}"),
            Answer::V2(a) => write!(f, "{a}"),
        }
    }
}
