//! Runtime builds (RT-BUILD-1..5) and runtime YAML checks (RT-YAML-1..3), the
//! two v2 RuntimeService calls.
//!
//! A build is simulated: nothing is downloaded or run. A task announces the
//! 14 phases of a Joblet node's builder in order ([`PHASES`]), each with its
//! log lines, waits [`PHASE_TIME`] of the session clock in each (a whole
//! build is a few hundred milliseconds of real time, and no wall time at all
//! under a virtual clock), and ends with exactly one `result`. The YAML is
//! checked in phase 1 against the server's rules ([`crate::runtime_yaml`]); the
//! host checks of phases 2 to 4 always pass (§5.11). A dry run stops after
//! phase 4; any other successful build installs the runtime in the session's
//! state, where ListRuntimes, GetRuntimeInfo, TestRuntime, RunJob and
//! RemoveRuntime find it. A client that cancels the call stops the build, and
//! nothing is installed.

use std::sync::Arc;
use std::time::Duration;

use joblet_testkit::pb::union as pb;
use joblet_testkit::pb::union::build_runtime_progress::ProgressType;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::behaviour::{Mutant, Quirk};
use crate::catalogue::{self, BuildRecord, RuntimeRecord};
use crate::error::{Error, Result};
use crate::runtime_yaml::{self, RuntimeSpec, SpecErrors};
use crate::runtimes::RUNTIMES_BASE;
use crate::session::Shared;

/// The builder's phases, in order: (name, the message of its `phase` event).
pub const PHASES: [(&str, &str); 14] = [
    (
        "Parse & Validate",
        "Parsing and validating runtime specification",
    ),
    ("Detect Platform", "Detecting the host platform"),
    ("Check Disk Space", "Checking available disk space"),
    (
        "Validate Packages",
        "Checking that the packages are available",
    ),
    ("Prepare Directories", "Preparing the runtime directories"),
    ("Pre-install Hook", "Running the pre-install hook"),
    ("Install Base", "Installing the base language"),
    ("Install Packages", "Installing packages"),
    ("Post-install Hook", "Running the post-install hook"),
    ("Copy Binaries", "Copying binaries"),
    ("Copy Libraries", "Copying libraries"),
    ("Copy Configuration", "Copying configuration"),
    ("Generate Config", "Generating the runtime configuration"),
    ("Validate Build", "Validating the build"),
];
/// The last phase of a dry run (`Validate Packages`, RT-BUILD-3).
pub const DRY_RUN_LAST_PHASE: usize = 4;
/// Session-clock time each phase takes.
pub const PHASE_TIME: Duration = Duration::from_millis(20);
/// The log line that ends a dry run (RT-BUILD-3).
pub const DRY_RUN_DONE: &str = "Dry run completed. No changes were made.";
/// The message of a successful result (RT-BUILD-4).
pub const BUILD_OK: &str = "Build completed successfully";
/// `build_info.built_with` of the runtimes this mock builds.
pub const BUILT_WITH: &str = concat!("joblet-mock ", env!("CARGO_PKG_VERSION"));
/// Events buffered between a build and a slow client.
pub const EVENT_BUFFER: usize = 32;

/// Where a build's events go, and what the response stream yields.
pub type ProgressSender = mpsc::Sender<Result<pb::BuildRuntimeProgress, tonic::Status>>;

/// The level of a build log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Sent only with `verbose`.
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    /// The wire spelling: `debug`, `info`, `warn`, `error`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }

    /// Whether a line of this level is sent: debug lines only with `verbose`
    /// (RT-BUILD-2).
    pub fn sent(self, verbose: bool) -> bool {
        self != Level::Debug || verbose
    }
}

/// Where version `version` of runtime `name` is installed.
pub fn runtime_dir(name: &str, version: &str) -> String {
    format!("{RUNTIMES_BASE}/{name}/{version}")
}

/// The platform of the simulated node, `ubuntu-<arch>` with the machine's
/// architecture (as GetSystemStatus reports it).
pub fn node_platform() -> String {
    format!(
        "ubuntu-{}",
        crate::monitoring::host::host_facts().architecture
    )
}

/// The last phase a build runs: 4 for a dry run, else 14.
pub fn last_phase(dry_run: bool) -> usize {
    if dry_run {
        DRY_RUN_LAST_PHASE
    } else {
        PHASES.len()
    }
}

// ---------------------------------------------------------------------------
// ValidateRuntimeYAML (RT-YAML-1..3)
// ---------------------------------------------------------------------------

/// ValidateRuntimeYAML: never a gRPC error, changes nothing (RT-YAML-1);
/// the errors are those of its mutants and of CONTRACT-3's.
pub fn validate(shared: &Shared, yaml: &str) -> Result<pb::ValidateRuntimeYamlResponse> {
    if yaml.is_empty() {
        // CONTRACT-3 mutant: the probe finds no method.
        if shared.mutant(Mutant::ProbeUnimplemented) {
            return Err(Error::Unimplemented(
                "unknown method ValidateRuntimeYAML for service joblet.RuntimeService".into(),
            ));
        }
        // RT-YAML-1 mutant: a gRPC error.
        if shared.mutant(Mutant::YamlEmptyError) {
            return Err(Error::Required("yaml_content"));
        }
        return Ok(refused(
            "yaml_content is required",
            vec!["yaml_content cannot be empty".into()],
        ));
    }
    Ok(match runtime_yaml::parse(yaml) {
        // RT-YAML-2 mutant: a missing name is no error.
        Err(SpecErrors(errors))
            if shared.mutant(Mutant::YamlAcceptsMissingName)
                && errors.iter().all(|e| e == "name is required") =>
        {
            pb::ValidateRuntimeYamlResponse {
                valid: true,
                message: valid_message(0),
                ..Default::default()
            }
        }
        // QUIRK-20: a v5.6 node lists the builder's error, then the same
        // text behind the phase it failed in.
        Err(errors) if shared.quirk(Quirk::YamlErrorTwice) => {
            let text = errors.to_string();
            let phased = format!("Phase 1 ({}): {text}", PHASES[0].0);
            refused("Validation failed", vec![text, phased])
        }
        Err(SpecErrors(errors)) => refused("Validation failed", errors),
        Ok(spec) => {
            let mut warnings = warnings(&shared.state.lock().runtimes, &spec);
            // RT-YAML-3 mutant: no warnings.
            if shared.mutant(Mutant::YamlNoExistsWarning) {
                warnings.clear();
            }
            pb::ValidateRuntimeYamlResponse {
                valid: true,
                message: valid_message(warnings.len()),
                errors: Vec::new(),
                warnings,
                spec_info: Some(spec_info(&spec)),
            }
        }
    })
}

fn refused(message: &str, errors: Vec<String>) -> pb::ValidateRuntimeYamlResponse {
    pb::ValidateRuntimeYamlResponse {
        valid: false,
        message: message.into(),
        errors,
        warnings: Vec::new(),
        spec_info: None,
    }
}

/// The message of a valid answer with `warnings` warnings (RT-YAML-3).
pub fn valid_message(warnings: usize) -> String {
    match warnings {
        0 => "YAML specification is valid".into(),
        k => format!("YAML specification is valid (with {k} warning(s))"),
    }
}

/// What the node already has of `spec`'s runtime (RT-YAML-3): the same
/// version, then the other versions, in version order.
pub fn warnings(runtimes: &[RuntimeRecord], spec: &RuntimeSpec) -> Vec<String> {
    let (name, version) = (&spec.name, &spec.version);
    let mut out = Vec::new();
    if runtimes
        .iter()
        .any(|r| &r.name == name && &r.version == version)
    {
        out.push(format!(
            "Runtime '{name}' version '{version}' already exists at {}",
            runtime_dir(name, version)
        ));
    }
    let mut others: Vec<&str> = runtimes
        .iter()
        .filter(|r| &r.name == name && &r.version != version)
        .map(|r| r.version.as_str())
        .collect();
    others.sort_by(|a, b| catalogue::version_order(a, b));
    others.dedup();
    if !others.is_empty() {
        out.push(format!(
            "Other versions of '{name}' exist: [{}]",
            others.join(" ")
        ));
    }
    out
}

/// `spec_info` of a valid answer (RT-YAML-3).
pub fn spec_info(spec: &RuntimeSpec) -> pb::RuntimeYamlInfo {
    pb::RuntimeYamlInfo {
        name: spec.name.clone(),
        version: spec.version.clone(),
        language: spec.language.clone(),
        language_version: spec.language_version.clone(),
        description: spec.description.clone(),
        pip_packages: spec.pip.clone(),
        npm_packages: spec.npm.clone(),
        has_hooks: spec.has_hooks(),
        requires_gpu: spec.requirements.gpu,
    }
}

// ---------------------------------------------------------------------------
// BuildRuntime (RT-BUILD-1..5)
// ---------------------------------------------------------------------------

/// An accepted BuildRuntime request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    /// The runtime YAML, as sent.
    pub yaml: String,
    pub dry_run: bool,
    pub verbose: bool,
    /// Ignored, as a Joblet node ignores it: a build replaces an installed
    /// runtime of the same name and version anyway (RT-BUILD-4).
    pub force_rebuild: bool,
}

impl Build {
    /// Checks a request: an empty `yaml_content` is INVALID_ARGUMENT, before
    /// any event (RT-BUILD-1; its mutant starts the build, which fails).
    pub fn new(shared: &Shared, req: pb::BuildRuntimeRequest) -> Result<Self> {
        if req.yaml_content.is_empty() && !shared.mutant(Mutant::BuildEmptyYamlStarts) {
            return Err(Error::Required("yaml_content"));
        }
        Ok(Self {
            yaml: req.yaml_content,
            dry_run: req.dry_run,
            verbose: req.verbose,
            force_rebuild: req.force_rebuild,
        })
    }
}

/// The message of a failed result: the builder's error (RT-BUILD-4).
pub fn failure_message(errors: &SpecErrors) -> String {
    format!("validation failed: {errors}")
}

/// Starts a build and returns its task, which ends with the result it sent
/// (`None` when the client left first). Every event goes to `events`, the
/// result last (RT-BUILD-4).
pub fn start(
    shared: &Arc<Shared>,
    build: Build,
    events: ProgressSender,
) -> JoinHandle<Option<pb::BuildResult>> {
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let out = Out {
            shared: &shared,
            tx: events,
            verbose: build.verbose,
        };
        let result = run(&shared, &build, &out).await.ok()?;
        // RT-BUILD-4 mutant: a failure ends the call with a status instead.
        if !result.success && shared.mutant(Mutant::BuildFailureStatus) {
            let status = tonic::Status::invalid_argument(result.message.clone());
            out.tx.send(Err(status)).await.ok()?;
            return Some(result);
        }
        out.send(ProgressType::Result(result.clone())).await.ok()?;
        Some(result)
    })
}

/// The client went away: the build stops.
#[derive(Debug)]
struct Gone;

/// The build's way to its client.
struct Out<'a> {
    shared: &'a Shared,
    tx: ProgressSender,
    verbose: bool,
}

impl Out<'_> {
    async fn send(&self, event: ProgressType) -> std::result::Result<(), Gone> {
        let event = pb::BuildRuntimeProgress {
            progress_type: Some(event),
        };
        self.tx.send(Ok(event)).await.map_err(|_| Gone)
    }

    /// Announces phase `n` (1-based), then lets its time pass.
    async fn phase(&self, n: usize) -> std::result::Result<(), Gone> {
        let (name, message) = PHASES[n - 1];
        // RT-BUILD-2 mutant: phase 13 is skipped, 13 are announced.
        let thirteen = self.shared.mutant(Mutant::BuildThirteenPhases);
        if thirteen && n == 13 {
            return Ok(());
        }
        self.send(ProgressType::Phase(pb::BuildPhaseProgress {
            phase_number: n as i32,
            total_phases: PHASES.len() as i32 - i32::from(thirteen),
            phase_name: name.into(),
            message: message.into(),
        }))
        .await?;
        tokio::select! {
            () = self.shared.clock.sleep(PHASE_TIME) => Ok(()),
            () = self.tx.closed() => Err(Gone),
        }
    }

    async fn log(&self, level: Level, message: &str) -> std::result::Result<(), Gone> {
        if !level.sent(self.verbose) {
            return Ok(());
        }
        self.send(ProgressType::Log(pb::BuildLogLine {
            level: level.name().into(),
            message: message.into(),
            timestamp: self.shared.clock.now_ms().saturating_mul(1_000_000),
        }))
        .await
    }

    async fn logs(&self, lines: Vec<(Level, String)>) -> std::result::Result<(), Gone> {
        for (level, message) in lines {
            self.log(level, &message).await?;
        }
        Ok(())
    }
}

/// Runs the phases and returns the result to send.
async fn run(
    shared: &Shared,
    build: &Build,
    out: &Out<'_>,
) -> std::result::Result<pb::BuildResult, Gone> {
    let started = shared.clock.monotonic_ms();
    let elapsed = || shared.clock.monotonic_ms().saturating_sub(started);
    // RT-BUILD-3 mutant: a dry run is a build.
    let dry_run = build.dry_run && !shared.mutant(Mutant::DryRunInstalls);
    out.phase(1).await?;
    let spec = match runtime_yaml::parse(&build.yaml) {
        Ok(spec) => spec,
        Err(errors) => {
            let message = failure_message(&errors);
            out.log(Level::Error, &message).await?;
            return Ok(pb::BuildResult {
                success: false,
                message,
                build_duration_ms: elapsed(),
                ..Default::default()
            });
        }
    };
    let plan = {
        let state = shared.state.lock();
        Plan::new(spec, &state.runtimes)
    };
    out.logs(phase_logs(1, &plan)).await?;
    for n in 2..=last_phase(dry_run) {
        out.phase(n).await?;
        out.logs(phase_logs(n, &plan)).await?;
    }
    let mut result = pb::BuildResult {
        success: true,
        message: BUILD_OK.into(),
        runtime_name: plan.spec.name.clone(),
        runtime_version: plan.spec.version.clone(),
        ..Default::default()
    };
    if dry_run {
        out.log(Level::Info, DRY_RUN_DONE).await?;
    } else {
        if out.tx.is_closed() {
            return Err(Gone);
        }
        // RT-BUILD-5 mutant: nothing is installed.
        if !shared.mutant(Mutant::BuiltRuntimeUnlisted) {
            install(shared, plan.record(&build.yaml, shared.clock.now_secs()));
        }
        result.install_path = plan.dir.clone();
        result.size_bytes = plan.size_bytes;
    }
    result.build_duration_ms = elapsed();
    Ok(result)
}

/// Installs `record`, replacing an installed runtime of the same name and
/// version in its place (RT-BUILD-4, RT-BUILD-5).
fn install(shared: &Shared, record: RuntimeRecord) {
    let mut state = shared.state.lock();
    match state
        .runtimes
        .iter_mut()
        .find(|r| r.name == record.name && r.version == record.version)
    {
        Some(slot) => *slot = record,
        None => state.runtimes.push(record),
    }
}

/// What a build of a valid specification does.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    spec: RuntimeSpec,
    /// The node's platform (`ubuntu-amd64`).
    platform: String,
    /// The install directory.
    dir: String,
    size_bytes: i64,
    /// The node has this name and version already: the build replaces it.
    replaces: bool,
}

impl Plan {
    fn new(spec: RuntimeSpec, installed: &[RuntimeRecord]) -> Self {
        Self {
            platform: node_platform(),
            dir: runtime_dir(&spec.name, &spec.version),
            size_bytes: size_bytes(&spec),
            replaces: installed
                .iter()
                .any(|r| r.name == spec.name && r.version == spec.version),
            spec,
        }
    }

    /// The installed runtime (RT-BUILD-5, RT-LIST-2), built at `now_secs`.
    fn record(&self, yaml: &str, now_secs: i64) -> RuntimeRecord {
        let s = &self.spec;
        RuntimeRecord {
            name: s.name.clone(),
            language: s.language.clone(),
            version: s.version.clone(),
            description: s.description.clone(),
            size_bytes: self.size_bytes,
            packages: s.pip.iter().chain(&s.npm).cloned().collect(),
            architectures: architectures(s),
            gpu: s.requirements.gpu,
            language_version: s.language_version.clone(),
            libraries: s.libraries.clone(),
            environment: s.environment.clone(),
            build: Some(BuildRecord {
                built_at: crate::time::rfc3339(now_secs),
                built_with: BUILT_WITH.into(),
                platform: self.platform.clone(),
            }),
            original_yaml: yaml.to_string(),
        }
    }
}

/// The architectures of `spec`'s platforms, each once; the node's when it
/// declares none.
fn architectures(spec: &RuntimeSpec) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in &spec.platforms {
        let arch = p.split_once('-').map_or(p.as_str(), |(_, a)| a);
        if !out.iter().any(|a| a == arch) {
            out.push(arch.to_string());
        }
    }
    if out.is_empty() {
        let host = crate::monitoring::host::host_facts();
        out.push(host.kernel_arch.clone());
        if host.architecture != host.kernel_arch {
            out.push(host.architecture.clone());
        }
    }
    out
}

/// A realistic installed size: the language's base, plus 8 MiB a package and
/// 2 MiB a library.
fn size_bytes(spec: &RuntimeSpec) -> i64 {
    const MIB: i64 = 1 << 20;
    let base = match spec.language.as_str() {
        "python" => 90,
        "node" => 120,
        "java" => 340,
        "go" => 260,
        "rust" => 400,
        _ => 50,
    };
    let packages = (spec.pip.len() + spec.npm.len()) as i64;
    let libraries = spec.libraries.len() as i64;
    (base + 8 * packages + 2 * libraries) * MIB
}

/// The log lines of phase `n` (1-based) of `plan`'s build, in order.
fn phase_logs(n: usize, plan: &Plan) -> Vec<(Level, String)> {
    use Level::{Debug, Info, Warn};
    let s = &plan.spec;
    let dir = &plan.dir;
    match n {
        1 => vec![
            (
                Info,
                format!(
                    "Runtime {} {} ({} {})",
                    s.name, s.version, s.language, s.language_version
                ),
            ),
            (
                Debug,
                format!(
                    "schema_version {}: {} pip and {} npm packages, {} libraries, {} platforms",
                    runtime_yaml::SCHEMA_VERSION,
                    s.pip.len(),
                    s.npm.len(),
                    s.libraries.len(),
                    s.platforms.len()
                ),
            ),
        ],
        2 => platform_logs(plan),
        3 => vec![
            (Info, "Disk space check passed".into()),
            (Debug, format!("At least 1 GiB free under {RUNTIMES_BASE}")),
        ],
        4 => package_check_logs(s),
        5 => {
            let mut lines = Vec::new();
            if plan.replaces {
                lines.push((Warn, format!("Replacing the installed runtime at {dir}")));
            }
            lines.push((Info, format!("Created {dir}")));
            lines.push((Debug, format!("Created {dir}/bin, {dir}/lib and {dir}/etc")));
            lines
        }
        6 => hook_logs("pre-install", &s.hooks.pre_install, &s.hooks.timeout),
        7 => vec![(
            Info,
            format!("Installing {} {}", s.language, s.language_version),
        )],
        8 => install_logs(s),
        9 => hook_logs("post-install", &s.hooks.post_install, &s.hooks.timeout),
        10 => vec![(Info, format!("Copied binaries to {dir}/bin"))],
        11 => library_logs(s, dir),
        12 => {
            let mut lines = vec![(Info, format!("Copied configuration to {dir}/etc"))];
            for (k, v) in &s.environment {
                lines.push((Debug, format!("environment {k}={v}")));
            }
            lines
        }
        13 => vec![(Info, format!("Generated {dir}/runtime.yml"))],
        14 => vec![(
            Info,
            format!(
                "Build validated: {} {} ({} bytes)",
                s.name, s.version, plan.size_bytes
            ),
        )],
        _ => Vec::new(),
    }
}

fn platform_logs(plan: &Plan) -> Vec<(Level, String)> {
    let mut lines = vec![(Level::Info, format!("Detected platform {}", plan.platform))];
    let declared = &plan.spec.platforms;
    if !declared.is_empty() && !declared.contains(&plan.platform) {
        lines.push((
            Level::Warn,
            format!(
                "Platform {} is not among the runtime's platforms [{}]; the mock builds anyway",
                plan.platform,
                declared.join(" ")
            ),
        ));
    }
    lines
}

fn package_check_logs(s: &RuntimeSpec) -> Vec<(Level, String)> {
    let mut lines = vec![(
        Level::Info,
        format!(
            "Package check passed: {} pip, {} npm",
            s.pip.len(),
            s.npm.len()
        ),
    )];
    for p in &s.pip {
        lines.push((Level::Debug, format!("pip package {p} is available")));
    }
    for p in &s.npm {
        lines.push((Level::Debug, format!("npm package {p} is available")));
    }
    let r = &s.requirements;
    if r.gpu || !r.cuda_version.is_empty() || !r.min_memory.is_empty() {
        lines.push((
            Level::Debug,
            format!(
                "requirements: gpu {}, cuda_version {:?}, min_memory {:?}",
                r.gpu, r.cuda_version, r.min_memory
            ),
        ));
    }
    lines
}

fn hook_logs(kind: &str, script: &str, timeout: &str) -> Vec<(Level, String)> {
    if script.is_empty() {
        return vec![(Level::Info, format!("No {kind} hook"))];
    }
    let timeout = if timeout.is_empty() { "none" } else { timeout };
    let mut lines = vec![(
        Level::Info,
        format!("Running the {kind} hook (timeout {timeout})"),
    )];
    for line in script.lines() {
        lines.push((Level::Debug, format!("+ {line}")));
    }
    lines.push((Level::Info, format!("The {kind} hook completed")));
    lines
}

fn install_logs(s: &RuntimeSpec) -> Vec<(Level, String)> {
    if s.pip.is_empty() && s.npm.is_empty() {
        return vec![(Level::Info, "No packages to install".into())];
    }
    let mut lines = Vec::new();
    if !s.pip_options.is_empty() {
        lines.push((
            Level::Debug,
            format!("pip options: {}", s.pip_options.join(" ")),
        ));
    }
    for p in &s.pip {
        lines.push((Level::Info, format!("Installing pip package {p}")));
    }
    for p in &s.npm {
        lines.push((Level::Info, format!("Installing npm package {p}")));
    }
    lines
}

fn library_logs(s: &RuntimeSpec, dir: &str) -> Vec<(Level, String)> {
    if s.libraries.is_empty() {
        return vec![(Level::Info, "No libraries to copy".into())];
    }
    let mut lines: Vec<(Level, String)> = s
        .libraries
        .iter()
        .map(|l| (Level::Debug, format!("Copying library {l}")))
        .collect();
    lines.push((
        Level::Info,
        format!("Copied {} libraries to {dir}/lib", s.libraries.len()),
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ClockMode;
    use crate::config::MockConfig;

    const FIXTURE: &str = include_str!("../../fixtures/runtimes/python-ml.yaml");

    fn session(clock: ClockMode) -> Arc<Shared> {
        Shared::new(MockConfig {
            clock,
            ..MockConfig::default()
        })
    }

    fn request(yaml: &str, dry_run: bool, verbose: bool) -> Build {
        Build::new(
            &session(ClockMode::Virtual),
            pb::BuildRuntimeRequest {
                yaml_content: yaml.into(),
                dry_run,
                verbose,
                force_rebuild: false,
            },
        )
        .expect("a YAML was sent")
    }

    /// Runs a build to its end; its events and the task's result.
    async fn build(
        shared: &Arc<Shared>,
        build: Build,
    ) -> (Vec<ProgressType>, Option<pb::BuildResult>) {
        let (tx, mut rx) = mpsc::channel(EVENT_BUFFER);
        let task = start(shared, build, tx);
        let mut events = Vec::new();
        while let Some(event) = rx.recv().await {
            events.push(event.expect("no status").progress_type.expect("one event"));
        }
        (events, task.await.expect("the build task ends"))
    }

    fn phases(events: &[ProgressType]) -> Vec<(i32, i32, String)> {
        events
            .iter()
            .filter_map(|e| match e {
                ProgressType::Phase(p) => {
                    Some((p.phase_number, p.total_phases, p.phase_name.clone()))
                }
                _ => None,
            })
            .collect()
    }

    fn logs(events: &[ProgressType]) -> Vec<pb::BuildLogLine> {
        events
            .iter()
            .filter_map(|e| match e {
                ProgressType::Log(l) => Some(l.clone()),
                _ => None,
            })
            .collect()
    }

    fn results(events: &[ProgressType]) -> Vec<pb::BuildResult> {
        events
            .iter()
            .filter_map(|e| match e {
                ProgressType::Result(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn rt_build_1_an_empty_yaml_is_invalid_argument() {
        let shared = session(ClockMode::Virtual);
        let e = Build::new(&shared, pb::BuildRuntimeRequest::default()).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.to_string().contains("yaml_content is required"), "{e}");
    }

    #[tokio::test]
    async fn rt_build_2_and_5_a_build_runs_14_phases_then_installs() {
        let shared = session(ClockMode::Virtual);
        let started = shared.clock.now_ms();
        let (events, result) = build(&shared, request(FIXTURE, false, false)).await;
        let expected: Vec<(i32, i32, String)> = PHASES
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (i as i32 + 1, 14, name.to_string()))
            .collect();
        assert_eq!(phases(&events), expected);
        assert!(matches!(events.last(), Some(ProgressType::Result(_))));
        let result = result.expect("a result");
        assert_eq!(results(&events), std::slice::from_ref(&result));
        assert!(result.success, "{result:?}");
        assert_eq!(result.message, BUILD_OK);
        assert_eq!(
            (
                result.runtime_name.as_str(),
                result.runtime_version.as_str()
            ),
            ("python-ml", "1.0.0")
        );
        assert_eq!(result.install_path, "/opt/joblet/runtimes/python-ml/1.0.0");
        assert_eq!(result.size_bytes, (90 + 8 * 3 + 2) << 20);
        // Simulated time: 14 phases of PHASE_TIME on the session clock.
        let phase_ms = PHASE_TIME.as_millis() as i64;
        assert_eq!(result.build_duration_ms, 14 * phase_ms);
        let lines = logs(&events);
        assert!(
            lines.iter().all(|l| l.level != "debug"),
            "no debug without verbose"
        );
        assert!(
            lines
                .iter()
                .all(|l| ["info", "warn", "error"].contains(&l.level.as_str()))
        );
        assert!(lines.iter().all(|l| l.timestamp >= started * 1_000_000));
        assert!(lines.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));

        let state = shared.state.lock();
        let r = state.runtimes.last().expect("installed");
        assert_eq!(
            (r.name.as_str(), r.version.as_str()),
            ("python-ml", "1.0.0")
        );
        assert_eq!(
            (r.language.as_str(), r.language_version.as_str()),
            ("python", "3.11")
        );
        assert_eq!(
            r.packages,
            ["numpy==1.26.4", "pandas==2.2.2", "scikit-learn==1.5.0"]
        );
        assert_eq!(r.architectures, ["amd64", "arm64"]);
        assert_eq!(r.libraries, ["libgomp1"]);
        assert_eq!(r.environment["PYTHONUNBUFFERED"], "1");
        assert_eq!(r.original_yaml, FIXTURE);
        let b = r.build.as_ref().expect("build info");
        assert_eq!(b.built_with, BUILT_WITH);
        assert_eq!(b.platform, node_platform());
        assert!(
            chrono::DateTime::parse_from_rfc3339(&b.built_at).is_ok(),
            "{}",
            b.built_at
        );
    }

    #[tokio::test]
    async fn rt_build_2_verbose_adds_debug_lines_only() {
        let shared = session(ClockMode::Virtual);
        let (quiet, _) = build(&shared, request(FIXTURE, false, false)).await;
        let (loud, _) = build(&shared, request(FIXTURE, false, true)).await;
        let quiet: Vec<(String, String)> = logs(&quiet)
            .into_iter()
            .map(|l| (l.level, l.message))
            .collect();
        let loud: Vec<(String, String)> = logs(&loud)
            .into_iter()
            .map(|l| (l.level, l.message))
            .collect();
        assert!(loud.iter().any(|(level, _)| level == "debug"));
        // The second build replaces the first: one warn line more, and
        // otherwise the same lines plus the debug ones.
        let replacing = (
            "warn".to_string(),
            "Replacing the installed runtime at /opt/joblet/runtimes/python-ml/1.0.0".to_string(),
        );
        let rest: Vec<(String, String)> = loud
            .into_iter()
            .filter(|l| l.0 != "debug" && *l != replacing)
            .collect();
        assert_eq!(rest, quiet);
    }

    #[tokio::test]
    async fn rt_build_3_a_dry_run_stops_after_phase_4_and_installs_nothing() {
        let shared = session(ClockMode::Virtual);
        let before = shared.state.lock().runtimes.clone();
        let (events, result) = build(&shared, request(FIXTURE, true, false)).await;
        let names: Vec<String> = phases(&events).into_iter().map(|p| p.2).collect();
        assert_eq!(
            names,
            [
                "Parse & Validate",
                "Detect Platform",
                "Check Disk Space",
                "Validate Packages"
            ]
        );
        let lines = logs(&events);
        let last = lines.last().expect("log lines");
        assert_eq!(
            (last.level.as_str(), last.message.as_str()),
            ("info", DRY_RUN_DONE)
        );
        let result = result.unwrap();
        assert!(result.success);
        assert_eq!(result.message, BUILD_OK);
        assert_eq!(result.runtime_name, "python-ml");
        assert_eq!(result.install_path, "");
        assert_eq!(result.size_bytes, 0);
        assert_eq!(result.build_duration_ms, 4 * PHASE_TIME.as_millis() as i64);
        assert_eq!(results(&events).len(), 1);
        assert_eq!(shared.state.lock().runtimes, before);
    }

    #[tokio::test]
    async fn rt_build_4_a_refused_yaml_ends_with_one_failed_result() {
        let shared = session(ClockMode::Virtual);
        let before = shared.state.lock().runtimes.clone();
        let yaml = "schema_version: \"2.0\"\nname: x\nversion: \"1\"\ndescription: d\nbase: {language: python, version: \"3.12\"}\n";
        let (events, result) = build(&shared, request(yaml, false, false)).await;
        assert_eq!(phases(&events).len(), 1, "phase 1 only");
        let result = result.unwrap();
        assert_eq!(results(&events), std::slice::from_ref(&result));
        assert!(matches!(events.last(), Some(ProgressType::Result(_))));
        assert!(!result.success);
        assert_eq!(
            result.message,
            "validation failed: validation errors:\n  - unsupported schema_version: 2.0 (expected 1.0)\n  - invalid version: 1 (expected semantic version X.Y.Z)"
        );
        assert_eq!(
            (
                result.runtime_name.as_str(),
                result.install_path.as_str(),
                result.size_bytes
            ),
            ("", "", 0)
        );
        assert_eq!(result.build_duration_ms, PHASE_TIME.as_millis() as i64);
        let error = logs(&events)
            .into_iter()
            .find(|l| l.level == "error")
            .expect("an error line");
        assert_eq!(error.message, result.message);
        assert_eq!(shared.state.lock().runtimes, before);
    }

    #[tokio::test]
    async fn rt_build_4_a_rebuild_replaces_in_place_and_force_rebuild_changes_nothing() {
        let shared = session(ClockMode::Virtual);
        build(&shared, request(FIXTURE, false, false)).await;
        let count = shared.state.lock().runtimes.len();
        let changed = FIXTURE.replace("for ML jobs", "for ML jobs, rebuilt");
        for force_rebuild in [false, true] {
            let mut b = request(&changed, false, false);
            b.force_rebuild = force_rebuild;
            let (_, result) = build(&shared, b).await;
            assert!(result.unwrap().success);
            let state = shared.state.lock();
            assert_eq!(state.runtimes.len(), count, "replaced, not added");
            let r = state
                .runtimes
                .iter()
                .find(|r| r.name == "python-ml")
                .unwrap();
            assert!(r.description.ends_with("rebuilt"));
        }
        // Another version is another runtime.
        build(
            &shared,
            request(&FIXTURE.replace("1.0.0", "1.1.0"), false, false),
        )
        .await;
        assert_eq!(shared.state.lock().runtimes.len(), count + 1);
    }

    #[tokio::test]
    async fn rt_build_4_a_client_that_leaves_stops_the_build() {
        // A manual clock never moves by itself: the build waits in phase 1.
        let shared = session(ClockMode::Manual);
        let before = shared.state.lock().runtimes.clone();
        let (tx, mut rx) = mpsc::channel(EVENT_BUFFER);
        let task = start(&shared, request(FIXTURE, false, false), tx);
        let first = rx.recv().await.unwrap().unwrap().progress_type.unwrap();
        assert!(matches!(first, ProgressType::Phase(ref p) if p.phase_number == 1));
        drop(rx);
        assert_eq!(
            task.await.unwrap(),
            None,
            "no result for a client that left"
        );
        shared.clock.advance(Duration::from_secs(60)).await.unwrap();
        assert_eq!(shared.state.lock().runtimes, before);
    }

    #[tokio::test]
    async fn rt_build_2_a_manual_clock_moves_the_build() {
        let shared = session(ClockMode::Manual);
        let (tx, mut rx) = mpsc::channel(EVENT_BUFFER);
        let task = start(&shared, request(FIXTURE, true, false), tx);
        let mut seen = 0;
        while !task.is_finished() {
            shared.clock.advance(PHASE_TIME).await.unwrap();
            while let Ok(event) = rx.try_recv() {
                seen += usize::from(matches!(
                    event.unwrap().progress_type,
                    Some(ProgressType::Phase(_))
                ));
            }
            tokio::task::yield_now().await;
        }
        let result = task.await.unwrap().expect("a result");
        assert!(result.success);
        assert_eq!(result.build_duration_ms, 4 * PHASE_TIME.as_millis() as i64);
        while let Ok(event) = rx.try_recv() {
            seen += usize::from(matches!(
                event.unwrap().progress_type,
                Some(ProgressType::Phase(_))
            ));
        }
        assert_eq!(seen, 4);
    }

    #[test]
    fn rt_build_2_every_phase_logs_at_info_or_above() {
        let spec = runtime_yaml::parse(FIXTURE).unwrap();
        let plan = Plan::new(spec, &[]);
        for n in 1..=PHASES.len() {
            let lines = phase_logs(n, &plan);
            assert!(
                lines.iter().any(|(level, _)| level.sent(false)),
                "phase {n} says something without verbose: {lines:?}"
            );
        }
        assert!(phase_logs(15, &plan).is_empty());
        assert!(Level::Debug.sent(true) && !Level::Debug.sent(false));
        assert!(Level::Warn.sent(false) && Level::Error.sent(false) && Level::Info.sent(false));
    }

    #[test]
    fn rt_build_2_a_platform_the_yaml_does_not_list_is_a_warning() {
        let mut spec = runtime_yaml::parse(FIXTURE).unwrap();
        spec.platforms = vec!["rhel-arm64".into()];
        let mut plan = Plan::new(spec, &[]);
        plan.platform = "ubuntu-amd64".into();
        let lines = phase_logs(2, &plan);
        assert_eq!(
            lines[0],
            (Level::Info, "Detected platform ubuntu-amd64".to_string())
        );
        assert!(
            matches!(&lines[1], (Level::Warn, m) if m.contains("rhel-arm64")),
            "{lines:?}"
        );
        plan.spec.platforms.clear();
        assert_eq!(phase_logs(2, &plan).len(), 1, "no platforms: any platform");
    }

    fn record(name: &str, version: &str) -> RuntimeRecord {
        RuntimeRecord {
            name: name.into(),
            version: version.into(),
            language: "python".into(),
            ..RuntimeRecord::default()
        }
    }

    #[test]
    fn rt_yaml_3_warnings_name_the_same_version_then_the_others() {
        let spec = runtime_yaml::parse(FIXTURE).unwrap();
        assert!(warnings(&[record("other", "1.0.0")], &spec).is_empty());
        assert_eq!(
            warnings(&[record("python-ml", "1.0.0")], &spec),
            [
                "Runtime 'python-ml' version '1.0.0' already exists at /opt/joblet/runtimes/python-ml/1.0.0"
            ]
        );
        let installed = [
            record("python-ml", "1.10.0"),
            record("python-ml", "1.0.0"),
            record("python-ml", "1.9.2"),
        ];
        assert_eq!(
            warnings(&installed, &spec),
            [
                "Runtime 'python-ml' version '1.0.0' already exists at /opt/joblet/runtimes/python-ml/1.0.0",
                "Other versions of 'python-ml' exist: [1.9.2 1.10.0]",
            ]
        );
        assert_eq!(valid_message(0), "YAML specification is valid");
        assert_eq!(
            valid_message(2),
            "YAML specification is valid (with 2 warning(s))"
        );
    }

    #[tokio::test]
    async fn rt_yaml_1_and_3_validate_answers_and_changes_nothing() {
        let shared = session(ClockMode::Virtual);
        let before = shared.state.lock().runtimes.clone();
        let validate = |yaml: &str| validate(&shared, yaml).expect("never an error");
        let empty = validate("");
        assert!(!empty.valid);
        assert_eq!(empty.message, "yaml_content is required");
        assert_eq!(empty.errors, ["yaml_content cannot be empty"]);
        let bad = validate("name: x\n");
        assert!(!bad.valid && bad.spec_info.is_none());
        assert_eq!(bad.message, "Validation failed");
        assert_eq!(bad.errors[0], "schema_version is required");
        let good = validate(FIXTURE);
        assert!(good.valid && good.errors.is_empty() && good.warnings.is_empty());
        assert_eq!(good.message, "YAML specification is valid");
        let info = good.spec_info.unwrap();
        assert_eq!(
            info,
            pb::RuntimeYamlInfo {
                name: "python-ml".into(),
                version: "1.0.0".into(),
                language: "python".into(),
                language_version: "3.11".into(),
                description: "Python 3.11 with NumPy, pandas and scikit-learn for ML jobs".into(),
                pip_packages: vec![
                    "numpy==1.26.4".into(),
                    "pandas==2.2.2".into(),
                    "scikit-learn==1.5.0".into()
                ],
                npm_packages: vec![],
                has_hooks: true,
                requires_gpu: false,
            }
        );
        assert_eq!(shared.state.lock().runtimes, before);
    }

    #[test]
    fn rt_build_5_sizes_and_architectures_follow_the_yaml() {
        let mut spec = runtime_yaml::parse(FIXTURE).unwrap();
        spec.platforms.clear();
        let host = crate::monitoring::host::host_facts();
        assert!(architectures(&spec).contains(&host.architecture));
        spec.language = "rust".into();
        spec.pip.clear();
        spec.libraries.clear();
        assert_eq!(size_bytes(&spec), 400 << 20);
    }
}
