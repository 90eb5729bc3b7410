//! Behaviour switches over the one engine: profiles, quirks and mutants.
//!
//! The mock has one set of handlers. What differs between the `documented`
//! profile and the `server-v1` or `server-v2` profile is a set of [`Quirk`] switches that the
//! handlers consult (`shared.quirk(Quirk::CancelUnimplemented)`); a profile is
//! just the list of quirks it turns on ([`Profile::quirks`]). A [`Mutant`]
//! breaks exactly one documented behaviour, for proving that each conformance
//! case can fail; handlers consult it the same way (`shared.mutant(Mutant::…)`).

use std::fmt;

/// Which behaviour profile the mock follows (see `docs/behaviours.md`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Profile {
    /// The API as its documentation and the SDK describe it.
    #[default]
    Documented,
    /// The observable quirks of the deployed v1 server (QUIRK-1 to QUIRK-12).
    #[value(name = "server-v1")]
    #[serde(rename = "server-v1")]
    ServerV1,
    /// The observable quirks of a Joblet v5.6 node speaking v2 (QUIRK-1, 2,
    /// 8, 11 carried over, QUIRK-13 to QUIRK-22).
    #[value(name = "server-v2")]
    #[serde(rename = "server-v2")]
    ServerV2,
}

impl Profile {
    /// The quirks this profile turns on.
    pub fn quirks(self) -> Quirks {
        match self {
            Self::Documented => Quirks::NONE,
            Self::ServerV1 => Quirks::SERVER_V1,
            Self::ServerV2 => Quirks::SERVER_V2,
        }
    }

    /// The profile's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Documented => "documented",
            Self::ServerV1 => "server-v1",
            Self::ServerV2 => "server-v2",
        }
    }
}

macro_rules! quirks {
    ($( $(#[$doc:meta])* $variant:ident = $bit:expr, $id:literal; )*) => {
        /// One observable difference of the deployed server (`QUIRK-n`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Quirk { $( $(#[$doc])* $variant = $bit, )* }

        impl Quirk {
            /// Every quirk, in ID order.
            pub const LIST: &'static [Quirk] = &[$(Quirk::$variant),*];

            /// The behaviour ID (`QUIRK-4`).
            pub fn id(self) -> &'static str {
                match self { $(Quirk::$variant => $id,)* }
            }
        }
    };
}

quirks! {
    /// QUIRK-1: CancelJob answers UNIMPLEMENTED.
    CancelUnimplemented = 0, "QUIRK-1";
    /// QUIRK-2: stop/delete/run/workflow failures answer INTERNAL with the real prefixes.
    InternalErrors = 1, "QUIRK-2";
    /// QUIRK-3: RunJob answers only jobUuid and status.
    MinimalRunResponse = 2, "QUIRK-3";
    /// QUIRK-4: ListJobs shows secret values.
    UnmaskedListJobs = 3, "QUIRK-4";
    /// QUIRK-5: ID prefixes only for GetJobStatus, GetJobLogs, GetWorkflowStatus.
    LimitedPrefixes = 4, "QUIRK-5";
    /// QUIRK-6: invalid cpuCores and out-of-range values are dropped silently.
    LenientValues = 5, "QUIRK-6";
    /// QUIRK-7: unknown networks, volumes and runtimes fail the job, not the call.
    LateResourceChecks = 6, "QUIRK-7";
    /// QUIRK-8: duplicate names overwrite; no overlap or reserved-name checks;
    /// custom bridges ""; volume jobCount 0.
    LaxNetworksVolumes = 7, "QUIRK-8";
    /// QUIRK-9: the v1 workflow engine (5 s ticks, CANCELED workflows, "0" IDs, ...).
    WorkflowV1 = 8, "QUIRK-9";
    /// QUIRK-10: logs of a CANCELED job never end; StopJob answers only uuid.
    CanceledLogsHang = 9, "QUIRK-10";
    /// QUIRK-11: monitoring needs no role; unknown metricTypes are ignored.
    OpenMonitoring = 10, "QUIRK-11";
    /// QUIRK-12: RunJob ignores GPUs, name and workDir; schedules need an offset.
    IgnoredRunFields = 11, "QUIRK-12";
    /// QUIRK-13: RunJob checks only the syntax of `runtime`; an unknown one
    /// fails the job (FAILED, -1).
    RuntimeSyntaxOnly = 12, "QUIRK-13";
    /// QUIRK-14: RunJob ignores gpu_count, gpu_memory_mb and work_dir.
    IgnoredGpuWorkDir = 13, "QUIRK-14";
    /// QUIRK-15: StopJob answers only uuid.
    StopAnswersUuid = 14, "QUIRK-15";
    /// QUIRK-16: metrics and telematics streams never end for a CANCELED job.
    CanceledTelemetryHangs = 15, "QUIRK-16";
    /// QUIRK-17: GetJobLogs and the telemetry RPCs use an ID prefix as typed.
    PrefixAsTyped = 16, "QUIRK-17";
    /// QUIRK-18: history events leave fields unset.
    SparseHistory = 17, "QUIRK-18";
    /// QUIRK-19: GetJobTelematics applies `limit` per type.
    TelematicsLimitPerType = 18, "QUIRK-19";
    /// QUIRK-20: ValidateRuntimeYAML failures repeat the text behind `Phase <n> (<name>): `.
    YamlErrorTwice = 19, "QUIRK-20";
    /// QUIRK-21: ListRuntimes leaves packages and the v2 fields empty.
    SparseRuntimeList = 20, "QUIRK-21";
    /// QUIRK-22: only the OUs admin and viewer are roles (`reader` is unknown).
    NoReaderAlias = 21, "QUIRK-22";
}

impl fmt::Display for Quirk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl std::str::FromStr for Quirk {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quirk::LIST
            .iter()
            .copied()
            .find(|q| q.id().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown quirk {s:?}: expected QUIRK-1 .. QUIRK-22"))
    }
}

/// A set of quirks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quirks(u32);

impl Quirks {
    /// No quirk: the documented behaviour.
    pub const NONE: Quirks = Quirks(0);
    /// Every quirk of the deployed v1 server: QUIRK-1 to QUIRK-12.
    pub const SERVER_V1: Quirks = Quirks((1 << 12) - 1);
    /// The quirks of a v5.6 node speaking v2: QUIRK-1, 2, 8, 11 (carried
    /// over from server-v1) and QUIRK-13 to QUIRK-22.
    pub const SERVER_V2: Quirks = Quirks(
        (1 << Quirk::CancelUnimplemented as u32)
            | (1 << Quirk::InternalErrors as u32)
            | (1 << Quirk::LaxNetworksVolumes as u32)
            | (1 << Quirk::OpenMonitoring as u32)
            | (((1 << 22) - 1) & !((1 << 12) - 1)),
    );

    /// Whether `q` is on.
    pub fn has(self, q: Quirk) -> bool {
        self.0 & (1 << q as u32) != 0
    }

    /// This set with `q` on.
    pub fn with(self, q: Quirk) -> Self {
        Self(self.0 | (1 << q as u32))
    }

    /// The quirks that are on, in ID order.
    pub fn list(self) -> Vec<Quirk> {
        Quirk::LIST
            .iter()
            .copied()
            .filter(|q| self.has(*q))
            .collect()
    }
}

/// Which contracts a behaviour holds on: its tag in `docs/behaviours.md`
/// (`[v1]`, `[v2]`, `[v1,v2]`), which says which contract the node speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Contracts {
    /// Only on a node that speaks v1.
    V1,
    /// Only on a node that speaks v2.
    V2,
    /// On both.
    Both,
}

/// The behaviours tagged `[v1]`.
const V1_ONLY: [&str; 8] = [
    "AUTH-3",
    "AUTH-4",
    "JOB-RUN-1",
    "MON-STATUS-1",
    "RT-SPEC-1",
    "RT-INSTALL-1",
    "RT-INSTALL-2",
    "RT-INSTALL-3",
];

/// The behaviours tagged `[v2]` outside the v2-only families (CONTRACT,
/// JOB-TIMEOUT, JOB-METRICS, JOB-TELEM, RT-BUILD, RT-YAML).
const V2_ONLY: [&str; 7] = [
    "AUTH-6",
    "AUTH-7",
    "AUTH-8",
    "JOB-RUN-11",
    "JOB-LOGS-4",
    "MON-STATUS-2",
    "RT-LIST-2",
];

/// Families whose every behaviour is tagged `[v2]`.
const V2_FAMILIES: [&str; 6] = [
    "CONTRACT-",
    "JOB-TIMEOUT-",
    "JOB-METRICS-",
    "JOB-TELEM-",
    "RT-BUILD-",
    "RT-YAML-",
];

impl Contracts {
    /// The tag of behaviour `id` (`JOB-STOP-3`): the workflow family and
    /// [`V1_ONLY`] are v1, the v2 families and [`V2_ONLY`] v2, the rest both. QUIRKs are not behaviours of this kind.
    pub fn of(id: &str) -> Self {
        if id.starts_with("WF-") || V1_ONLY.contains(&id) {
            Self::V1
        } else if V2_ONLY.contains(&id) || V2_FAMILIES.iter().any(|f| id.starts_with(f)) {
            Self::V2
        } else {
            Self::Both
        }
    }

    /// Whether it holds on a node that speaks v1.
    pub fn v1(self) -> bool {
        self != Self::V2
    }

    /// Whether it holds on a node that speaks v2.
    pub fn v2(self) -> bool {
        self != Self::V1
    }

    /// The tag as the catalogue writes it: `v1`, `v2`, `v1,v2`.
    pub fn tag(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V2 => "v2",
            Self::Both => "v1,v2",
        }
    }
}

macro_rules! mutants {
    ($( $(#[$doc:meta])* $variant:ident, $name:literal, $id:literal, $what:literal; )*) => {
        /// A deliberate break of one documented behaviour (`--mutant NAME`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Mutant { $( $(#[$doc])* $variant, )* }

        impl Mutant {
            /// Every mutant, in the order `--list-mutants` prints them.
            pub const LIST: &'static [Mutant] = &[$(Mutant::$variant),*];

            /// The name given to `--mutant`.
            pub fn name(self) -> &'static str {
                match self { $(Mutant::$variant => $name,)* }
            }

            /// The behaviour ID it breaks.
            pub fn behaviour(self) -> &'static str {
                match self { $(Mutant::$variant => $id,)* }
            }

            /// What it does instead.
            pub fn description(self) -> &'static str {
                match self { $(Mutant::$variant => $what,)* }
            }

            /// The contracts its behaviour holds on (the behaviour's tag in
            /// `docs/behaviours.md`).
            pub fn contracts(self) -> Contracts {
                Contracts::of(self.behaviour())
            }
        }
    };
}

mutants! {
    /// ALL-1: GetJobStatus reports the status in lower case ("completed").
    LowercaseStatus, "lowercase-status", "ALL-1",
        "GetJobStatus reports the status in lower case (\"completed\")";
    /// ALL-2: A unique prefix of a job ID is not accepted: NOT_FOUND.
    PrefixLookupOff, "prefix-lookup-off", "ALL-2",
        "A unique prefix of a job ID is not accepted: NOT_FOUND";
    /// ALL-3: GetJobStatus startTime carries milliseconds ("...:05.000+02:00").
    TimeMillis, "time-millis", "ALL-3",
        "GetJobStatus startTime carries milliseconds (\"...:05.000+02:00\")";
    /// ALL-4: RunJob validation errors answer INTERNAL instead of INVALID_ARGUMENT.
    ValidationInternal, "validation-internal", "ALL-4",
        "RunJob validation errors answer INTERNAL instead of INVALID_ARGUMENT";
    /// ALL-5: ListJobs returns the newest job first.
    ListsReversed, "lists-reversed", "ALL-5",
        "ListJobs returns the newest job first";
    /// ALL-6: ListJobs returns secret environment values instead of "***".
    ListLeaksSecrets, "list-leaks-secrets", "ALL-6",
        "ListJobs returns secret environment values instead of \"***\"";
    /// ALL-7: Messages over 4 MiB are refused (RESOURCE_EXHAUSTED), not 128 MiB.
    SmallMessages, "small-messages", "ALL-7",
        "Messages over 4 MiB are refused (RESOURCE_EXHAUSTED), not 128 MiB";
    /// AUTH-1: Plaintext callers are viewers: RunJob answers PERMISSION_DENIED.
    PlaintextViewer, "plaintext-viewer", "AUTH-1",
        "Plaintext callers are viewers: RunJob answers PERMISSION_DENIED";
    /// AUTH-2: A TLS client without a certificate is accepted, as admin.
    TlsAnonymous, "tls-anonymous", "AUTH-2",
        "A TLS client without a certificate is accepted, as admin";
    /// AUTH-3: A certificate without an admin/viewer OU may call the viewer's operations.
    UnknownRoleReads, "unknown-role-reads", "AUTH-3",
        "A certificate without an admin/viewer OU may call the viewer's operations";
    /// AUTH-4: The viewer role may call RunJob.
    ViewerMayRun, "viewer-may-run", "AUTH-4",
        "The viewer role may call RunJob";
    /// AUTH-5: A viewer's invalid RunJob answers INVALID_ARGUMENT, not PERMISSION_DENIED.
    ValidateBeforeAuth, "validate-before-auth", "AUTH-5",
        "A viewer's invalid RunJob answers INVALID_ARGUMENT, not PERMISSION_DENIED";
    /// JOB-RUN-1: RunJob's response does not echo the args.
    RunNoEcho, "run-no-echo", "JOB-RUN-1",
        "RunJob's response does not echo the args";
    /// JOB-RUN-2: RunJob with an empty command is accepted.
    EmptyCommandOk, "empty-command-ok", "JOB-RUN-2",
        "RunJob with an empty command is accepted";
    /// JOB-RUN-3: Negative maxCpu, maxMemory and maxIobps are accepted.
    NegativeLimitsOk, "negative-limits-ok", "JOB-RUN-3",
        "Negative maxCpu, maxMemory and maxIobps are accepted";
    /// JOB-RUN-4: Any cpuCores text is accepted.
    CpuCoresUnchecked, "cpu-cores-unchecked", "JOB-RUN-4",
        "Any cpuCores text is accepted";
    /// JOB-RUN-5: A future schedule is ignored: the job runs at once (RUNNING).
    ScheduleIgnored, "schedule-ignored", "JOB-RUN-5",
        "A future schedule is ignored: the job runs at once (RUNNING)";
    /// JOB-RUN-6: RunJob accepts a network that does not exist.
    UnknownNetworkOk, "unknown-network-ok", "JOB-RUN-6",
        "RunJob accepts a network that does not exist";
    /// JOB-RUN-7: RunJob accepts a volume that does not exist.
    UnknownVolumeOk, "unknown-volume-ok", "JOB-RUN-7",
        "RunJob accepts a volume that does not exist";
    /// JOB-RUN-8: RunJob accepts a runtime that is not installed.
    UnknownRuntimeOk, "unknown-runtime-ok", "JOB-RUN-8",
        "RunJob accepts a runtime that is not installed";
    /// JOB-RUN-9: Uploaded files are not available to the job's command.
    UploadsLost, "uploads-lost", "JOB-RUN-9",
        "Uploaded files are not available to the job's command";
    /// JOB-RUN-10: The same key in environment and secret_environment is accepted.
    EnvDuplicateOk, "env-duplicate-ok", "JOB-RUN-10",
        "The same key in environment and secret_environment is accepted";
    /// JOB-GPU-1: GetJobStatus reports no gpu_indices.
    GpuIndicesHidden, "gpu-indices-hidden", "JOB-GPU-1",
        "GetJobStatus reports no gpu_indices";
    /// JOB-GPU-2: More GPUs than the node has: RESOURCE_EXHAUSTED instead of INVALID_ARGUMENT.
    GpuOverNodeExhausted, "gpu-over-node-exhausted", "JOB-GPU-2",
        "More GPUs than the node has: RESOURCE_EXHAUSTED instead of INVALID_ARGUMENT";
    /// JOB-LIFE-1: A job that exits non-zero ends COMPLETED.
    NonzeroCompletes, "nonzero-completes", "JOB-LIFE-1",
        "A job that exits non-zero ends COMPLETED";
    /// JOB-LIFE-2: A scheduled job stays SCHEDULED after its time.
    ScheduledNeverStarts, "scheduled-never-starts", "JOB-LIFE-2",
        "A scheduled job stays SCHEDULED after its time";
    /// JOB-STATUS-1: GetJobStatus reports an empty workDir.
    StatusNoWorkDir, "status-no-workdir", "JOB-STATUS-1",
        "GetJobStatus reports an empty workDir";
    /// JOB-STATUS-2: GetJobStatus of an unknown ID answers OK with an empty record.
    StatusUnknownOk, "status-unknown-ok", "JOB-STATUS-2",
        "GetJobStatus of an unknown ID answers OK with an empty record";
    /// JOB-STOP-1: A stopped job reports exit code 0 instead of -1.
    StopExitZero, "stop-exit-zero", "JOB-STOP-1",
        "A stopped job reports exit code 0 instead of -1";
    /// JOB-STOP-2: StopJob on a SCHEDULED job ends it STOPPED instead of CANCELED.
    StopScheduledStopped, "stop-scheduled-stopped", "JOB-STOP-2",
        "StopJob on a SCHEDULED job ends it STOPPED instead of CANCELED";
    /// JOB-STOP-3: StopJob on a finished job answers OK instead of FAILED_PRECONDITION.
    StopFinishedOk, "stop-finished-ok", "JOB-STOP-3",
        "StopJob on a finished job answers OK instead of FAILED_PRECONDITION";
    /// JOB-CANCEL-1: A canceled job is dropped from history (GetJobStatus NOT_FOUND).
    CancelForgets, "cancel-forgets", "JOB-CANCEL-1",
        "A canceled job is dropped from history (GetJobStatus NOT_FOUND)";
    /// JOB-CANCEL-2: CancelJob on a RUNNING job ends it CANCELED instead of FAILED_PRECONDITION.
    CancelRunningOk, "cancel-running-ok", "JOB-CANCEL-2",
        "CancelJob on a RUNNING job ends it CANCELED instead of FAILED_PRECONDITION";
    /// JOB-DEL-1: DeleteJob answers success but the job stays.
    DeleteNoop, "delete-noop", "JOB-DEL-1",
        "DeleteJob answers success but the job stays";
    /// JOB-DEL-2: DeleteJob on a RUNNING job deletes it instead of FAILED_PRECONDITION.
    DeleteRunningOk, "delete-running-ok", "JOB-DEL-2",
        "DeleteJob on a RUNNING job deletes it instead of FAILED_PRECONDITION";
    /// JOB-DELALL-1: DeleteAllJobs reports skipped_count 0.
    DeleteAllSkippedZero, "delete-all-skipped-zero", "JOB-DELALL-1",
        "DeleteAllJobs reports skipped_count 0";
    /// JOB-LOGS-1: GetJobLogs drops the last chunk of the log.
    LogsDropLastChunk, "logs-drop-last-chunk", "JOB-LOGS-1",
        "GetJobLogs drops the last chunk of the log";
    /// JOB-LOGS-2: A second concurrent GetJobLogs reader of a job is refused.
    LogsOneReader, "logs-one-reader", "JOB-LOGS-2",
        "A second concurrent GetJobLogs reader of a job is refused";
    /// JOB-LOGS-3: GetJobLogs of an unknown job answers an empty stream instead of NOT_FOUND.
    LogsUnknownEmpty, "logs-unknown-empty", "JOB-LOGS-3",
        "GetJobLogs of an unknown job answers an empty stream instead of NOT_FOUND";
    /// JOB-LIST-1: ListJobs leaves out finished jobs.
    ListDropsFinished, "list-drops-finished", "JOB-LIST-1",
        "ListJobs leaves out finished jobs";
    /// WF-YAML-1: the list form of `jobs` (with `name` and `depends_on`) is rejected.
    WfListFormRejected, "wf-list-form-rejected", "WF-YAML-1",
        "RunWorkflow rejects the list form of jobs (name + depends_on)";
    /// WF-RUN-1: RunWorkflow answers status "OK" instead of "STARTED".
    WfRunStatusOk, "wf-run-status-ok", "WF-RUN-1",
        "RunWorkflow answers status \"OK\" instead of \"STARTED\"";
    /// WF-RUN-2: an upload missing from workflowFiles is not rejected up front.
    WfMissingUploadAccepted, "wf-missing-upload-accepted", "WF-RUN-2",
        "RunWorkflow accepts a job whose upload is missing from workflowFiles";
    /// WF-EXEC-1: workflow jobs are hidden from ListJobs.
    WfJobsHiddenFromList, "wf-jobs-hidden-from-list", "WF-EXEC-1",
        "ListJobs leaves out the jobs started by workflows";
    /// WF-EXEC-2: dependents run although their requirement failed.
    WfNoCascade, "wf-no-cascade", "WF-EXEC-2",
        "a dependent runs once its requirement is final, whatever its status";
    /// WF-STATUS-1: a workflow with a failed job ends COMPLETED.
    WfFailedReportedCompleted, "wf-failed-reported-completed", "WF-STATUS-1",
        "a workflow whose jobs are all final reports COMPLETED even if one failed";
    /// WF-STATUS-2: completedJobs stays 0.
    WfCountersZero, "wf-counters-zero", "WF-STATUS-2",
        "GetWorkflowStatus reports completedJobs 0";
    /// WF-LIST-1: includeCompleted=false also returns finished workflows.
    WfListIncludesFinished, "wf-list-includes-finished", "WF-LIST-1",
        "ListWorkflows(includeCompleted=false) also returns COMPLETED and FAILED ones";
    /// WF-JOBS-1: GetWorkflowJobs reports the session's first workflow.
    WfJobsFirstWorkflow, "wf-jobs-first-workflow", "WF-JOBS-1",
        "GetWorkflowJobs reports the first workflow, whatever the requested one";
    /// NET-CREATE-1: CreateNetwork answers bridge `br-<name>` instead of `joblet-<name>`.
    NetworkBridgeBr, "network-bridge-br", "NET-CREATE-1",
        "CreateNetwork answers bridge \"br-<name>\" instead of \"joblet-<name>\"";
    /// NET-CREATE-2: CreateNetwork accepts the reserved name "host".
    ReservedNetworkOk, "reserved-network-ok", "NET-CREATE-2",
        "CreateNetwork accepts the reserved name \"host\"";
    /// NET-CREATE-3: CreateNetwork accepts a CIDR that overlaps an existing network.
    CidrOverlapOk, "cidr-overlap-ok", "NET-CREATE-3",
        "CreateNetwork accepts a CIDR that overlaps an existing network";
    /// NET-CREATE-4: CreateNetwork with an existing name replaces it instead of ALREADY_EXISTS.
    NetworkDuplicateOk, "network-duplicate-ok", "NET-CREATE-4",
        "CreateNetwork with an existing name replaces it instead of ALREADY_EXISTS";
    /// NET-LIST-1: ListNetworks reports jobCount 0 for every network.
    NetworkJobCountZero, "network-job-count-zero", "NET-LIST-1",
        "ListNetworks reports jobCount 0 for every network";
    /// NET-RM-1: RemoveNetwork removes a network that running jobs use.
    RemoveBusyNetwork, "remove-busy-network", "NET-RM-1",
        "RemoveNetwork removes a network that running jobs use";
    /// VOL-CREATE-1: CreateVolume without a type answers type "" instead of "filesystem".
    VolumeTypeNoDefault, "volume-type-no-default", "VOL-CREATE-1",
        "CreateVolume without a type answers type \"\" instead of \"filesystem\"";
    /// VOL-CREATE-2: CreateVolume accepts any size text.
    VolumeSizeUnchecked, "volume-size-unchecked", "VOL-CREATE-2",
        "CreateVolume accepts any size text";
    /// VOL-CREATE-3: CreateVolume with an existing name adds a second one instead of ALREADY_EXISTS.
    VolumeDuplicateOk, "volume-duplicate-ok", "VOL-CREATE-3",
        "CreateVolume with an existing name adds a second one instead of ALREADY_EXISTS";
    /// VOL-LIST-1: ListVolumes reports jobCount 0 for every volume.
    VolumeJobCountZero, "volume-job-count-zero", "VOL-LIST-1",
        "ListVolumes reports jobCount 0 for every volume";
    /// VOL-RM-1: RemoveVolume removes a volume that running jobs use.
    RemoveBusyVolume, "remove-busy-volume", "VOL-RM-1",
        "RemoveVolume removes a volume that running jobs use";
    /// MON-STATUS-1: GetSystemStatus answers available false.
    StatusUnavailable, "status-unavailable", "MON-STATUS-1",
        "GetSystemStatus answers available false";
    /// MON-STREAM-1: StreamSystemMetrics ignores intervalSeconds and sends every 100 ms.
    IntervalIgnored, "interval-ignored", "MON-STREAM-1",
        "StreamSystemMetrics ignores intervalSeconds and sends every 100 ms";
    /// MON-STREAM-2: StreamSystemMetrics sends every section whatever metricTypes asks for.
    FilterIgnored, "filter-ignored", "MON-STREAM-2",
        "StreamSystemMetrics sends every section whatever metricTypes asks for";
    /// RT-LIST-1: ListRuntimes reports every runtime with available false.
    RuntimesUnavailable, "runtimes-unavailable", "RT-LIST-1",
        "ListRuntimes reports every runtime with available false";
    /// RT-INFO-1: GetRuntimeInfo of an unknown runtime answers NOT_FOUND instead of found false.
    RuntimeInfoNotFound, "runtime-info-not-found", "RT-INFO-1",
        "GetRuntimeInfo of an unknown runtime answers NOT_FOUND instead of found false";
    /// RT-TEST-1: TestRuntime of an unknown runtime answers success true, exit code 0.
    RuntimeTestUnknownOk, "runtime-test-unknown-ok", "RT-TEST-1",
        "TestRuntime of an unknown runtime answers success true, exit code 0";
    /// RT-SPEC-1: ValidateRuntimeSpec answers INVALID_ARGUMENT for an invalid spec.
    SpecErrorStatus, "spec-error-status", "RT-SPEC-1",
        "ValidateRuntimeSpec answers INVALID_ARGUMENT for an invalid spec";
    /// RT-INSTALL-1: Unary installs answer status "success" instead of "completed".
    InstallStatusSuccess, "install-status-success", "RT-INSTALL-1",
        "Unary installs answer status \"success\" instead of \"completed\"";
    /// RT-INSTALL-2: Streaming installs end without their result chunk.
    InstallNoResult, "install-no-result", "RT-INSTALL-2",
        "Streaming installs end without their result chunk";
    /// RT-INSTALL-3: forceReinstall is ignored: an installed runtime answers "already installed".
    ForceReinstallIgnored, "force-reinstall-ignored", "RT-INSTALL-3",
        "forceReinstall is ignored: an installed runtime answers \"already installed\"";
    /// RT-RM-1: RemoveRuntime answers success but the runtime stays listed.
    RemovedRuntimeListed, "removed-runtime-listed", "RT-RM-1",
        "RemoveRuntime answers success but the runtime stays listed";

    /// CONTRACT-1: the v1-only paths answer UNIMPLEMENTED with another text.
    V1PathsOtherText, "v1-paths-other-text", "CONTRACT-1",
        "A node that speaks only v2 answers the v1-only paths UNIMPLEMENTED \"method <Method> not implemented\"";
    /// CONTRACT-2: GetSystemStatus reports proto_tag "v1.0.6" on a node that speaks v2.
    ProtoTagV1, "proto-tag-v1", "CONTRACT-2",
        "GetSystemStatus reports proto_tag \"v1.0.6\" on a node that speaks v2";
    /// CONTRACT-3: the ValidateRuntimeYAML probe answers UNIMPLEMENTED on a node that speaks v2.
    ProbeUnimplemented, "probe-unimplemented", "CONTRACT-3",
        "ValidateRuntimeYAML with an empty yaml_content answers UNIMPLEMENTED on a node that speaks v2";
    /// AUTH-6: the OU `reader` is not a role on a node that speaks v2.
    ReaderUnknown, "reader-unknown", "AUTH-6",
        "A certificate whose role OU is `reader` is unknown and may call nothing";
    /// AUTH-7: a viewer may call BuildRuntime.
    ViewerMayBuild, "viewer-may-build", "AUTH-7",
        "The viewer role may call BuildRuntime";
    /// AUTH-8: four-role refusals name the gRPC method, not the operation.
    FourRoleMethodNames, "four-role-method-names", "AUTH-8",
        "Four-role refusals name the gRPC method (RunJob) instead of the operation (run_job)";
    /// JOB-RUN-11: RunJob answers a v1 client with the echo fields on a node that speaks v2.
    RunEchoOnV2, "run-echo-on-v2", "JOB-RUN-11",
        "RunJob echoes command and args to a v1 client of a node that speaks v2";
    /// JOB-TIMEOUT-1: a timeout with several units ("1h30m") is refused.
    TimeoutCompoundRefused, "timeout-compound-refused", "JOB-TIMEOUT-1",
        "A timeout with several units (\"1m30s\") gets INVALID_ARGUMENT";
    /// JOB-TIMEOUT-2: a timeout that does not parse is accepted (and ignored).
    TimeoutInvalidAccepted, "timeout-invalid-accepted", "JOB-TIMEOUT-2",
        "A timeout that does not parse is accepted and ignored: the job starts";
    /// JOB-TIMEOUT-3: a timed-out job ends TIMEOUT with exit code 0.
    TimeoutExitZero, "timeout-exit-zero", "JOB-TIMEOUT-3",
        "A job whose timeout expires ends TIMEOUT with exit code 0 instead of 124";
    /// JOB-TIMEOUT-4: GetJobStatus does not echo the timeout.
    TimeoutNotEchoed, "timeout-not-echoed", "JOB-TIMEOUT-4",
        "GetJobStatus and ListJobs report timeout \"\"";
    /// JOB-LOGS-4: GetJobLogs with an empty uuid answers NOT_FOUND.
    LogsEmptyUuidNotFound, "logs-empty-uuid-not-found", "JOB-LOGS-4",
        "GetJobLogs with an empty uuid answers NOT_FOUND instead of INVALID_ARGUMENT";
    /// JOB-METRICS-1: samples leave memory_limit at 0.
    MetricsNoMemoryLimit, "metrics-no-memory-limit", "JOB-METRICS-1",
        "Metrics samples report memory_limit 0 whatever the job's max_memory";
    /// JOB-METRICS-2: StreamJobMetrics of an unknown job answers an empty stream.
    MetricsUnknownEmpty, "metrics-unknown-empty", "JOB-METRICS-2",
        "StreamJobMetrics of an unknown job answers an empty stream instead of NOT_FOUND";
    /// JOB-METRICS-3: GetJobMetrics ignores limit.
    MetricsLimitIgnored, "metrics-limit-ignored", "JOB-METRICS-3",
        "GetJobMetrics ignores limit: every sample comes";
    /// JOB-TELEM-1: event types are sent in upper case.
    TelemTypeUppercase, "telem-type-uppercase", "JOB-TELEM-1",
        "Telematics events name their type in upper case (\"EXEC\")";
    /// JOB-TELEM-2: the types filter is ignored.
    TelemTypeFilterOff, "telem-type-filter-off", "JOB-TELEM-2",
        "The types filter of the telematics calls is ignored: every type comes";
    /// JOB-TELEM-3: StreamJobTelematics of an unknown job answers an empty stream.
    TelemUnknownEmpty, "telem-unknown-empty", "JOB-TELEM-3",
        "StreamJobTelematics of an unknown job answers an empty stream instead of NOT_FOUND";
    /// JOB-TELEM-4: GetJobTelematics applies limit per type.
    TelemLimitPerType, "telem-limit-per-type", "JOB-TELEM-4",
        "GetJobTelematics applies limit to each type instead of the whole answer";
    /// MON-STATUS-2: host.mac_addresses is empty.
    StatusNoMacAddresses, "status-no-mac-addresses", "MON-STATUS-2",
        "GetSystemStatus reports host.mac_addresses empty";
    /// RT-LIST-2: language_version is empty in ListRuntimes and GetRuntimeInfo.
    RuntimeNoLanguageVersion, "runtime-no-language-version", "RT-LIST-2",
        "ListRuntimes and GetRuntimeInfo report language_version \"\"";
    /// RT-BUILD-1: an empty yaml_content starts a build that fails in its result.
    BuildEmptyYamlStarts, "build-empty-yaml-starts", "RT-BUILD-1",
        "BuildRuntime with an empty yaml_content answers a failed result instead of INVALID_ARGUMENT";
    /// RT-BUILD-2: a build announces 13 phases.
    BuildThirteenPhases, "build-thirteen-phases", "RT-BUILD-2",
        "A build skips phase 13 (Generate Config) and reports total_phases 13";
    /// RT-BUILD-3: a dry run installs the runtime.
    DryRunInstalls, "dry-run-installs", "RT-BUILD-3",
        "A dry run goes through every phase and installs the runtime";
    /// RT-BUILD-4: a failed build answers a gRPC error instead of a result.
    BuildFailureStatus, "build-failure-status", "RT-BUILD-4",
        "A failed build ends with INVALID_ARGUMENT instead of a result {success false}";
    /// RT-BUILD-5: a built runtime is not listed.
    BuiltRuntimeUnlisted, "built-runtime-unlisted", "RT-BUILD-5",
        "A successful build answers success but ListRuntimes does not list the runtime";
    /// RT-YAML-1: an empty yaml_content answers INVALID_ARGUMENT.
    YamlEmptyError, "yaml-empty-error", "RT-YAML-1",
        "ValidateRuntimeYAML with an empty yaml_content answers INVALID_ARGUMENT";
    /// RT-YAML-2: a YAML without `name` is valid.
    YamlAcceptsMissingName, "yaml-accepts-missing-name", "RT-YAML-2",
        "ValidateRuntimeYAML accepts a YAML without name";
    /// RT-YAML-3: the warning that the runtime exists is missing.
    YamlNoExistsWarning, "yaml-no-exists-warning", "RT-YAML-3",
        "ValidateRuntimeYAML of a built runtime's YAML warns nothing";
}

impl fmt::Display for Mutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Mutant {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mutant::LIST
            .iter()
            .copied()
            .find(|m| m.name() == s.trim())
            .ok_or_else(|| format!("unknown mutant {s:?}: `joblet-mock --list-mutants` lists them"))
    }
}

/// What the engine consults: the quirks of the profile and at most one mutant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Behaviour {
    /// Quirks that are on.
    pub quirks: Quirks,
    /// The mutant, if any.
    pub mutant: Option<Mutant>,
}

impl Behaviour {
    /// Whether quirk `q` is on.
    pub fn quirk(&self, q: Quirk) -> bool {
        self.quirks.has(q)
    }

    /// Whether mutant `m` is the active one.
    pub fn mutant(&self, m: Mutant) -> bool {
        self.mutant == Some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_data() {
        assert!(Profile::Documented.quirks().list().is_empty());
        let all = Profile::ServerV1.quirks().list();
        assert_eq!(all.len(), 12);
        let ids: Vec<_> = all.iter().map(|q| q.id()).collect();
        assert_eq!(ids[0], "QUIRK-1");
        assert_eq!(ids[11], "QUIRK-12");
        assert_eq!("quirk-4".parse::<Quirk>(), Ok(Quirk::UnmaskedListJobs));
    }

    #[test]
    fn mutant_names_are_unique_and_parse() {
        let mut names = std::collections::BTreeSet::new();
        for m in Mutant::LIST {
            assert!(names.insert(m.name()), "duplicate {}", m.name());
            assert_eq!(m.name().parse::<Mutant>(), Ok(*m));
            assert!(!m.behaviour().is_empty() && !m.description().is_empty());
        }
        assert!("nope".parse::<Mutant>().is_err());
    }

    /// The family of a behaviour ID: `JOB` for `JOB-STOP-3`.
    fn family(id: &str) -> &str {
        id.split('-').next().unwrap_or_default()
    }

    #[test]
    fn every_family_has_mutants() {
        for fam in [
            "ALL", "AUTH", "JOB", "WF", "NET", "VOL", "MON", "RT", "CONTRACT",
        ] {
            assert!(
                Mutant::LIST.iter().any(|m| family(m.behaviour()) == fam),
                "no mutant for the {fam} family"
            );
        }
        for m in Mutant::LIST {
            let id = m.behaviour();
            assert!(
                [
                    "ALL", "AUTH", "JOB", "NET", "VOL", "MON", "RT", "WF", "CONTRACT"
                ]
                .contains(&family(id))
                    && id
                        .rsplit('-')
                        .next()
                        .is_some_and(|n| n.parse::<u32>().is_ok()),
                "{} names an odd behaviour ID {id:?}",
                m.name()
            );
        }
        // The non-workflow families alone reach 40.
        let outside_wf = Mutant::LIST
            .iter()
            .filter(|m| family(m.behaviour()) != "WF")
            .count();
        assert!(outside_wf >= 40, "only {outside_wf} mutants outside WF");
        assert!(Mutant::LIST.len() >= 40);
    }

    #[test]
    fn mutants_say_which_contracts_they_apply_to() {
        let v1 = Mutant::LIST.iter().filter(|m| m.contracts().v1()).count();
        let v2_only = Mutant::LIST
            .iter()
            .filter(|m| m.contracts() == Contracts::V2)
            .count();
        assert_eq!(v1, 71, "the mutants of v1 behaviours");
        assert_eq!(v2_only, 29, "one mutant per [v2] behaviour");
        assert_eq!(Mutant::LowercaseStatus.contracts(), Contracts::Both);
        assert_eq!(Mutant::WfRunStatusOk.contracts(), Contracts::V1);
        assert_eq!(Mutant::ProtoTagV1.contracts(), Contracts::V2);
        assert_eq!(Contracts::Both.tag(), "v1,v2");
    }

    #[test]
    fn server_v2_is_the_carried_over_quirks_and_13_to_22() {
        let ids: Vec<_> = Profile::ServerV2
            .quirks()
            .list()
            .iter()
            .map(|q| q.id())
            .collect();
        assert_eq!(ids.len(), 14);
        assert_eq!(
            &ids[..5],
            ["QUIRK-1", "QUIRK-2", "QUIRK-8", "QUIRK-11", "QUIRK-13"]
        );
        assert_eq!(ids[13], "QUIRK-22");
        assert_eq!("quirk-22".parse::<Quirk>(), Ok(Quirk::NoReaderAlias));
    }
}
