//! A RunJob request checked into a job spec: everything that does not need
//! the node's state (JOB-RUN-2..5, 9, 10, JOB-GPU-2), then what does
//! (JOB-RUN-6..8), with the quirks and mutants that change either.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use joblet_testkit::pb::union as pb;

use crate::behaviour::{Mutant, Quirk};
use crate::catalogue;
use crate::error::{Error, Result};
pub use crate::job_table::MASK;
use crate::session::Shared;
use crate::sim::{ExecContext, UploadedFile};
use crate::state::{JobSpec, State};
use crate::validate;

/// Default working directory of a job.
pub const DEFAULT_WORK_DIR: &str = "/work";

/// A validated RunJob request.
pub(crate) struct Accepted {
    pub(crate) spec: JobSpec,
    pub(crate) files: BTreeMap<String, UploadedFile>,
    /// Bytes of the uploaded contents (held while the job is live).
    pub(crate) upload_bytes: u64,
    /// Due time (Unix seconds) and the wait, when in the future.
    pub(crate) schedule: Option<(i64, Option<Duration>)>,
    /// The spec's `timeout` parsed (JOB-TIMEOUT-3): none when unset or zero.
    pub(crate) timeout: Option<Duration>,
}

/// Checks everything that does not need the state (JOB-RUN-2..5, 9, 10, JOB-GPU-2).
pub(crate) fn validate_request(shared: &Shared, mut req: pb::RunJobRequest) -> Result<Accepted> {
    check_limits(shared, &mut req)?;
    let timeout = check_timeout(shared, &mut req)?;
    check_environment(shared, &req)?;
    let schedule = schedule(shared, &req)?;
    check_volume_names(&req)?;
    let uploads = Uploads::take(std::mem::take(&mut req.uploads))?;
    let mut accepted = accept(shared, req, uploads, schedule);
    accepted.timeout = timeout;
    Ok(accepted)
}

/// The command, resource limits, CPU cores and GPUs (JOB-RUN-2..4, JOB-GPU-2),
/// with the fields QUIRK-12 ignores cleared and QUIRK-6's dropped.
fn check_limits(shared: &Shared, req: &mut pb::RunJobRequest) -> Result<()> {
    let cfg = &shared.config;
    // JOB-RUN-2 mutant: an empty command is accepted.
    if req.command.trim().is_empty() && !shared.mutant(Mutant::EmptyCommandOk) {
        return Err(Error::invalid("command", "command is required"));
    }
    // QUIRK-12: the deployed server ignores these fields (no GPU checks either).
    if shared.quirk(Quirk::IgnoredRunFields) {
        req.name.clear();
        req.work_dir.clear();
        req.gpu_count = 0;
        req.gpu_memory_mb = 0;
    }
    // QUIRK-14: a v5.6 node ignores the GPU fields and work_dir.
    if shared.quirk(Quirk::IgnoredGpuWorkDir) {
        req.work_dir.clear();
        req.gpu_count = 0;
        req.gpu_memory_mb = 0;
    }
    // QUIRK-13: a v5.6 node checks the runtime's syntax only.
    if shared.quirk(Quirk::RuntimeSyntaxOnly)
        && !req.runtime.trim().is_empty()
        && !runtime_syntax(req.runtime.trim())
    {
        return Err(Error::invalid(
            "runtime",
            format!(
                "invalid runtime format: {:?} (expected language:version or lang-ver[-tags])",
                req.runtime
            ),
        ));
    }
    for (field, v) in [
        ("maxCpu", req.max_cpu),
        ("maxMemory", req.max_memory),
        ("maxIobps", req.max_iobps),
    ] {
        // JOB-RUN-3 mutant: negative limits are accepted.
        if v < 0 && !shared.mutant(Mutant::NegativeLimitsOk) {
            return Err(Error::invalid(
                field,
                format!("must not be negative (got {v})"),
            ));
        }
    }
    // QUIRK-6: a maxCpu the deployed server cannot parse (over 10000) is dropped.
    if shared.quirk(Quirk::LenientValues) && req.max_cpu > 10_000 {
        req.max_cpu = 0;
    }
    // QUIRK-2: the deployed server allows 100 whatever the cores, else INTERNAL.
    if shared.quirk(Quirk::InternalErrors) && req.max_cpu > 100 {
        return Err(Error::quirk_internal(
            "job run failed",
            "job creation failed: invalid CPU limit: must be between 0-100",
        ));
    }
    let cpu_limit = 100i64 * i64::from(cfg.host_cores);
    if i64::from(req.max_cpu) > cpu_limit {
        return Err(Error::invalid(
            "maxCpu",
            format!(
                "{} exceeds {cpu_limit} (100 per core, {} cores)",
                req.max_cpu, cfg.host_cores
            ),
        ));
    }
    // JOB-RUN-4 mutant: cpuCores is not checked.
    if let Err(e) = validate::cpu_cores(&req.cpu_cores, cfg.host_cores)
        && !shared.mutant(Mutant::CpuCoresUnchecked)
    {
        // QUIRK-6: an invalid or out-of-range cpuCores is dropped silently.
        if !shared.quirk(Quirk::LenientValues) {
            return Err(e);
        }
        req.cpu_cores.clear();
    }
    if req.gpu_count < 0 {
        return Err(Error::invalid(
            "gpu_count",
            format!("must not be negative (got {})", req.gpu_count),
        ));
    }
    if req.gpu_memory_mb < 0 {
        return Err(Error::invalid(
            "gpu_memory_mb",
            format!("must not be negative (got {})", req.gpu_memory_mb),
        ));
    }
    // JOB-GPU-2 mutant: too many GPUs pass here and fail later as RESOURCE_EXHAUSTED.
    if req.gpu_count as u32 > cfg.gpus && !shared.mutant(Mutant::GpuOverNodeExhausted) {
        return Err(Error::invalid(
            "gpu_count",
            format!(
                "{} GPUs requested but the node has {}",
                req.gpu_count, cfg.gpus
            ),
        ));
    }
    if req.gpu_count > 0 && req.gpu_memory_mb as u32 > cfg.gpu_memory_mb {
        return Err(Error::invalid(
            "gpu_memory_mb",
            format!(
                "{} MB per GPU requested but the node's GPUs have {} MB",
                req.gpu_memory_mb, cfg.gpu_memory_mb
            ),
        ));
    }

    Ok(())
}

/// QUIRK-13: whether `runtime` has the form a v5.6 node accepts:
/// `language:version` or `lang-ver[-tags]` (letters, digits, `.`, `_`).
fn runtime_syntax(runtime: &str) -> bool {
    let word = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
    };
    match runtime.split_once(':') {
        Some((lang, version)) => word(lang) && word(version),
        None => {
            let parts: Vec<&str> = runtime.split('-').collect();
            parts.len() >= 2 && parts.iter().all(|p| word(p))
        }
    }
}

/// RunJob's `timeout` (v2, JOB-TIMEOUT-1/2): a Go duration, "" or zero for
/// none. A node that speaks only v1 has no such field and ignores it.
/// The timeout parsed once here: the job's task uses it as its limit.
fn check_timeout(shared: &Shared, req: &mut pb::RunJobRequest) -> Result<Option<Duration>> {
    if !shared.config.api.serves_v2() {
        req.timeout.clear();
        return Ok(None);
    }
    // JOB-TIMEOUT-1 mutant: several units ("1m30s") are refused.
    let units = req
        .timeout
        .split(|c: char| c.is_ascii_digit() || c == '.')
        .filter(|u| !u.is_empty())
        .count();
    let compound = units > 1 && shared.mutant(Mutant::TimeoutCompoundRefused);
    match validate::go_duration(&req.timeout) {
        Ok(limit) if !compound => Ok(limit),
        // JOB-TIMEOUT-2 mutant: a bad timeout is ignored.
        Err(_) if shared.mutant(Mutant::TimeoutInvalidAccepted) => {
            req.timeout.clear();
            Ok(None)
        }
        _ => Err(Error::InvalidText(format!(
            "invalid request: invalid timeout: {}",
            req.timeout
        ))),
    }
}

/// Environment names and values, and no name in both maps (JOB-RUN-10).
fn check_environment(shared: &Shared, req: &pb::RunJobRequest) -> Result<()> {
    let mut env_keys = BTreeSet::new();
    for (field, map) in [
        ("environment", &req.environment),
        ("secret_environment", &req.secret_environment),
    ] {
        for (k, v) in map {
            validate::env_name(field, k)?;
            validate::env_value(field, k, v)?;
            // JOB-RUN-10 mutant: the same key in both maps is accepted.
            if !env_keys.insert(k.as_str()) && !shared.mutant(Mutant::EnvDuplicateOk) {
                return Err(Error::invalid(
                    "secret_environment",
                    format!("{k} is set in both environment and secret_environment"),
                ));
            }
        }
    }

    Ok(())
}

/// The schedule: its due time (Unix seconds) and the wait when in the future
/// (JOB-RUN-5); `None` for a job that runs now.
fn schedule(shared: &Shared, req: &pb::RunJobRequest) -> Result<Option<(i64, Option<Duration>)>> {
    if req.schedule.trim().is_empty() {
        return Ok(None);
    }
    let now = shared.clock.now_local();
    let spec = req.schedule.trim();
    let due = validate::schedule(spec, now)
        .and_then(|due| {
            // QUIRK-12: the deployed server takes RFC 3339 with an offset only.
            if shared.quirk(Quirk::IgnoredRunFields)
                && chrono::DateTime::parse_from_rfc3339(spec).is_err()
            {
                return Err(Error::invalid(
                    "schedule",
                    format!("{spec:?} is not RFC 3339 with an offset"),
                ));
            }
            Ok(due)
        })
        // QUIRK-2: a bad schedule is INTERNAL on the deployed server.
        .map_err(|e| {
            e.internal_if(
                shared.quirk(Quirk::InternalErrors),
                "job run failed: invalid schedule format",
            )
        })?;
    let wait = (due.timestamp_millis() - now.timestamp_millis()).max(0);
    // JOB-RUN-5 mutant: a future schedule is ignored, the job runs at once.
    let wait = if shared.mutant(Mutant::ScheduleIgnored) {
        0
    } else {
        wait
    };
    let wait = (wait > 0).then(|| Duration::from_millis(wait as u64));
    Ok(Some((due.timestamp(), wait)))
}

/// No empty volume name.
fn check_volume_names(req: &pb::RunJobRequest) -> Result<()> {
    for (i, v) in req.volumes.iter().enumerate() {
        if v.trim().is_empty() {
            return Err(Error::invalid(
                format!("volumes[{i}]"),
                "volume name must not be empty",
            ));
        }
    }

    Ok(())
}

/// Uploaded files keyed by their normalised path, parent directories
/// implied (JOB-RUN-9).
struct Uploads {
    files: BTreeMap<String, UploadedFile>,
    paths: Vec<String>,
    bytes: u64,
}

impl Uploads {
    fn take(uploads: Vec<pb::FileUpload>) -> Result<Self> {
        let mut files = BTreeMap::new();
        let mut upload_paths = Vec::with_capacity(uploads.len());
        let upload_bytes = uploads.iter().map(|u| u.content.len() as u64).sum();
        for (i, up) in uploads.into_iter().enumerate() {
            let path = validate::upload_path(&up.path)
                .map_err(|e| Error::invalid(format!("uploads[{i}].path"), e.to_string()))?;
            let mode = if up.mode == 0 {
                if up.is_directory { 0o755 } else { 0o644 }
            } else {
                up.mode & 0o7777
            };
            upload_paths.push(path.clone());
            // Parent directories of a file exist implicitly.
            let mut parent = path.as_str();
            while let Some((dir, _)) = parent.rsplit_once('/') {
                files.entry(dir.to_string()).or_insert(UploadedFile {
                    content: Default::default(),
                    mode: 0o755,
                    is_dir: true,
                });
                parent = dir;
            }
            files.insert(
                path,
                UploadedFile {
                    content: if up.is_directory {
                        Default::default()
                    } else {
                        up.content.into()
                    },
                    mode,
                    is_dir: up.is_directory,
                },
            );
        }
        Ok(Self {
            files,
            paths: upload_paths,
            bytes: upload_bytes,
        })
    }
}

/// The job spec of a checked request, with its defaults filled in.
fn accept(
    shared: &Shared,
    req: pb::RunJobRequest,
    uploads: Uploads,
    schedule: Option<(i64, Option<Duration>)>,
) -> Accepted {
    let Uploads {
        files,
        paths: upload_paths,
        bytes: upload_bytes,
    } = uploads;
    let network = if req.network.trim().is_empty() {
        "bridge".to_string()
    } else {
        req.network.trim().to_string()
    };
    let work_dir = if req.work_dir.trim().is_empty() {
        DEFAULT_WORK_DIR.to_string()
    } else {
        req.work_dir.trim().to_string()
    };
    let sorted = |m: std::collections::HashMap<String, String>| {
        let mut v: Vec<_> = m.into_iter().collect();
        v.sort();
        v
    };
    Accepted {
        spec: JobSpec {
            name: req.name,
            command: req.command,
            args: req.args,
            max_cpu: req.max_cpu,
            cpu_cores: req.cpu_cores,
            max_memory: req.max_memory,
            max_iobps: req.max_iobps,
            network,
            volumes: req.volumes,
            runtime: req.runtime,
            work_dir,
            environment: sorted(req.environment),
            secret_environment: sorted(req.secret_environment),
            uploads: upload_paths,
            gpu_count: req.gpu_count,
            gpu_memory_mb: req.gpu_memory_mb,
            workflow_uuid: req.workflow_uuid,
            dependencies: Vec::new(),
            timeout: req.timeout,
        },
        // JOB-RUN-9 mutant: the uploads never reach the job's command.
        files: if shared.mutant(Mutant::UploadsLost) {
            BTreeMap::new()
        } else {
            files
        },
        upload_bytes,
        schedule,
        timeout: None,
    }
}

/// Checks what the job needs from the node's state (JOB-RUN-6..8).
pub(crate) fn check_resources(state: &State, spec: &JobSpec) -> Result<()> {
    if state.network(&spec.network).is_none() {
        return Err(Error::invalid(
            "network",
            format!(
                "network {:?} does not exist (built in: bridge, isolated, none)",
                spec.network
            ),
        ));
    }
    for v in &spec.volumes {
        if state.volume(v).is_none() {
            return Err(Error::invalid(
                "volumes",
                format!("volume {v:?} does not exist"),
            ));
        }
    }
    if !spec.runtime.trim().is_empty()
        && catalogue::resolve(&state.runtimes, &spec.runtime).is_none()
    {
        return Err(Error::invalid(
            "runtime",
            format!("runtime {:?} is not installed", spec.runtime),
        ));
    }
    Ok(())
}

/// JOB-RUN-6..8 mutants: whether the active mutant skips the check of
/// `field`; QUIRK-13 skips the runtime's (the job fails as it starts).
pub(crate) fn skipped_by_mutant(shared: &Shared, field: &str) -> bool {
    match field {
        "network" => shared.mutant(Mutant::UnknownNetworkOk),
        "volumes" => shared.mutant(Mutant::UnknownVolumeOk),
        "runtime" => {
            shared.mutant(Mutant::UnknownRuntimeOk) || shared.quirk(Quirk::RuntimeSyntaxOnly)
        }
        _ => false,
    }
}

pub(crate) fn exec_context(
    shared: &Shared,
    job_id: &str,
    spec: &JobSpec,
    files: BTreeMap<String, UploadedFile>,
) -> ExecContext {
    ExecContext {
        env: crate::sim::job_environment(spec.environment.iter().chain(&spec.secret_environment)),
        files: Arc::new(files),
        work_dir: spec.work_dir.as_str().into(),
        job_id: job_id.into(),
        clock: shared.clock.clone(),
    }
}
