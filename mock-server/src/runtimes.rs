//! Runtimes: list, info, test, validate, install, remove (RT-*).
//!
//! The installed runtimes are [`State::runtimes`](crate::state::State::runtimes),
//! seeded from the catalogue. Installs are simulated: nothing is cloned or
//! downloaded; a task plays a realistic sequence of progress and setup-script log
//! chunks over about [`INSTALL_DURATION`] and then records the runtime, which from
//! then on appears in ListRuntimes and can be used by jobs. The task runs to the
//! end even if the client goes away, as the real installer does.

use std::sync::Arc;
use std::time::Duration;

use joblet_testkit::pb::union as pb;
use joblet_testkit::pb::union::runtime_installation_chunk::ChunkType;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::behaviour::{Mutant, Quirk};
use crate::catalogue::{self, RuntimeRecord};
use crate::error::{Error, Result};
use crate::session::Shared;
use crate::validate;

/// Where the node keeps its runtimes.
pub const RUNTIMES_BASE: &str = "/opt/joblet/runtimes";
/// Repository GitHub installs use when the request names none.
pub const DEFAULT_REPOSITORY: &str = "ehsaniara/joblet";
/// Branch GitHub installs use when the request names none.
pub const DEFAULT_BRANCH: &str = "main";
/// About how long a simulated install takes.
pub const INSTALL_DURATION: Duration = Duration::from_secs(1);
/// Architectures of runtimes installed for the default architecture.
const DEFAULT_ARCHITECTURES: [&str; 2] = ["x86_64", "amd64"];

/// The chunks a streaming install sends, and what the stream yields.
pub type ChunkSender = mpsc::Sender<Result<pb::RuntimeInstallationChunk, tonic::Status>>;

/// The wire view of an installed runtime (RT-LIST-1, RT-INFO-1).
pub fn runtime_info(r: &RuntimeRecord) -> pb::RuntimeInfo {
    pb::RuntimeInfo {
        name: r.name.clone(),
        language: r.language.clone(),
        version: r.version.clone(),
        description: r.description.clone(),
        size_bytes: r.size_bytes,
        packages: r.packages.clone(),
        available: true,
        requirements: Some(pb::RuntimeRequirements {
            architectures: r.architectures.clone(),
            gpu: r.gpu,
        }),
        language_version: r.base_version().to_string(),
        libraries: r.libraries.clone(),
        environment: r
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        build_info: r.build.as_ref().map(|b| pb::RuntimeBuildInfo {
            built_at: b.built_at.clone(),
            built_with: b.built_with.clone(),
            platform: b.platform.clone(),
        }),
        original_yaml: r.original_yaml.clone(),
    }
}

/// Where runtime `name`'s descriptor lives on the node.
pub fn install_path(name: &str) -> String {
    format!("{RUNTIMES_BASE}/{name}/runtime.yml")
}

/// ListRuntimes (RT-LIST-1), in install order.
pub fn list(shared: &Shared) -> pb::RuntimesRes {
    let state = shared.state.lock();
    pb::RuntimesRes {
        runtimes: state
            .runtimes
            .iter()
            .map(|r| {
                let info = pb::RuntimeInfo {
                    // RT-LIST-1 mutant: every runtime is reported unavailable.
                    available: !shared.mutant(Mutant::RuntimesUnavailable),
                    ..runtime_info(r)
                };
                // QUIRK-21: a v5.6 node lists no packages, fixed
                // requirements and none of the v2 fields.
                if shared.quirk(Quirk::SparseRuntimeList) {
                    return pb::RuntimeInfo {
                        packages: Vec::new(),
                        requirements: Some(pb::RuntimeRequirements {
                            architectures: DEFAULT_ARCHITECTURES.map(String::from).to_vec(),
                            gpu: false,
                        }),
                        language_version: String::new(),
                        libraries: Vec::new(),
                        environment: Default::default(),
                        build_info: None,
                        original_yaml: String::new(),
                        ..info
                    };
                }
                v2_fields_mutated(shared, info)
            })
            .collect(),
    }
}

/// RT-LIST-2 mutant: language_version left empty.
fn v2_fields_mutated(shared: &Shared, info: pb::RuntimeInfo) -> pb::RuntimeInfo {
    if shared.mutant(Mutant::RuntimeNoLanguageVersion) {
        return pb::RuntimeInfo {
            language_version: String::new(),
            ..info
        };
    }
    info
}

fn required_runtime(spec: &str) -> Result<&str> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err(Error::invalid("runtime", "runtime name is required"));
    }
    Ok(spec)
}

/// GetRuntimeInfo (RT-INFO-1): by name or `lang:version`.
pub fn info(shared: &Shared, spec: &str) -> Result<pb::RuntimeInfoRes> {
    let spec = required_runtime(spec)?;
    let state = shared.state.lock();
    let found = catalogue::resolve(&state.runtimes, spec);
    // RT-INFO-1 mutant: an unknown runtime is NOT_FOUND.
    if found.is_none() && shared.mutant(Mutant::RuntimeInfoNotFound) {
        return Err(Error::NotFound(format!("runtime {spec} not found")));
    }
    Ok(match found {
        Some(r) => pb::RuntimeInfoRes {
            runtime: Some(v2_fields_mutated(shared, runtime_info(r))),
            found: true,
        },
        None => pb::RuntimeInfoRes {
            runtime: None,
            found: false,
        },
    })
}

/// What `<runtime> --version` prints, for TestRuntime's output.
fn version_probe(r: &RuntimeRecord) -> String {
    let v = &r.version;
    match r.language.as_str() {
        "python" => format!("$ python3 --version\nPython {v}"),
        "node" => format!("$ node --version\nv{v}"),
        "java" => format!("$ java -version\nopenjdk version \"{v}\""),
        "golang" | "go" => format!("$ go version\ngo version go{v} linux/amd64"),
        "ruby" => format!("$ ruby --version\nruby {v}"),
        "php" => format!("$ php --version\nPHP {v} (cli)"),
        other => format!("$ {other} --version\n{other} {v}"),
    }
}

/// TestRuntime (RT-TEST-1): resolves the runtime; nothing is executed.
pub fn test(shared: &Shared, spec: &str) -> Result<pb::RuntimeTestRes> {
    let spec = required_runtime(spec)?;
    let state = shared.state.lock();
    Ok(match catalogue::resolve(&state.runtimes, spec) {
        Some(r) => pb::RuntimeTestRes {
            success: true,
            output: format!(
                "Runtime resolution successful\n{} {} ({}) at {RUNTIMES_BASE}/{}\n{}\n",
                r.name,
                r.version,
                r.language,
                r.name,
                version_probe(r)
            ),
            error: String::new(),
            exit_code: 0,
        },
        // RT-TEST-1 mutant: an unknown runtime passes.
        None if shared.mutant(Mutant::RuntimeTestUnknownOk) => pb::RuntimeTestRes {
            success: true,
            output: String::new(),
            error: String::new(),
            exit_code: 0,
        },
        None => pb::RuntimeTestRes {
            success: false,
            output: String::new(),
            error: format!("runtime not found: runtime not found for spec {spec}"),
            exit_code: 1,
        },
    })
}

/// ValidateRuntimeSpec (RT-SPEC-1): purely syntactic, never a gRPC error.
pub fn validate_spec(text: &str) -> pb::ValidateRuntimeSpecResponse {
    let text = text.trim();
    if text.is_empty() {
        return pb::ValidateRuntimeSpecResponse {
            valid: false,
            message: "Runtime spec cannot be empty".into(),
            normalized_spec: String::new(),
            spec_info: None,
        };
    }
    match validate::runtime_spec(text) {
        Ok(spec) => pb::ValidateRuntimeSpecResponse {
            valid: true,
            message: "Runtime spec is valid".into(),
            normalized_spec: spec.normalized(),
            spec_info: Some(pb::RuntimeSpecInfo {
                language: spec.language,
                version: spec.version,
                variants: spec.variants,
                architecture: spec.architecture,
            }),
        },
        Err(message) => pb::ValidateRuntimeSpecResponse {
            valid: false,
            message,
            normalized_spec: text.to_string(),
            spec_info: None,
        },
    }
}

/// The installed runtime `spec` names exactly: by name; for a spec such as
/// `python:3.11-ml` the runtime of the derived name; for one without variants
/// also a runtime of that language and version without variants (`java:21` is
/// `openjdk-21`). Unlike [`catalogue::resolve`], `python:3.11` never picks
/// `python-3.11-ml`: installs and removals must not confuse the two.
pub fn find_exact<'a>(runtimes: &'a [RuntimeRecord], spec: &str) -> Option<&'a RuntimeRecord> {
    if let Some(r) = runtimes.iter().find(|r| r.name == spec) {
        return Some(r);
    }
    let derived = derive_record(spec).ok()?;
    if let Some(r) = runtimes.iter().find(|r| r.name == derived.name) {
        return Some(r);
    }
    if derived.name != format!("{}-{}", derived.language, derived.version) {
        return None;
    }
    runtimes.iter().find(|r| {
        r.language == derived.language
            && r.version == derived.version
            && r.name.ends_with(&format!("-{}", r.version))
    })
}

/// RemoveRuntime (RT-RM-1): never a gRPC error, the answer says what happened.
pub fn remove(shared: &Shared, spec: &str) -> pb::RuntimeRemoveRes {
    let spec = spec.trim();
    if spec.is_empty() {
        return pb::RuntimeRemoveRes {
            success: false,
            message: "Runtime name is required".into(),
            freed_space_bytes: 0,
        };
    }
    let mut state = shared.state.lock();
    let doomed = removal(&state.runtimes, spec);
    if doomed.is_empty() {
        return pb::RuntimeRemoveRes {
            success: false,
            message: format!("Runtime '{spec}' not found"),
            freed_space_bytes: 0,
        };
    }
    let freed_space_bytes = doomed.iter().map(|&i| state.runtimes[i].size_bytes).sum();
    // RT-RM-1 mutant: success is answered but the runtime stays.
    if !shared.mutant(Mutant::RemovedRuntimeListed) {
        for &i in doomed.iter().rev() {
            state.runtimes.remove(i);
        }
    }
    pb::RuntimeRemoveRes {
        success: true,
        message: format!("Runtime '{spec}' removed successfully"),
        freed_space_bytes,
    }
}

/// The positions, ascending, of the runtimes RemoveRuntime(`spec`) removes:
/// the one of `name@version`, else every version of the runtime `spec` names
/// ([`find_exact`]).
fn removal(runtimes: &[RuntimeRecord], spec: &str) -> Vec<usize> {
    let one = spec.split_once('@').and_then(|(name, version)| {
        runtimes
            .iter()
            .position(|r| r.name == name && r.version == version)
    });
    if let Some(i) = one {
        return vec![i];
    }
    let Some(name) = find_exact(runtimes, spec).map(|r| r.name.as_str()) else {
        return Vec::new();
    };
    (0..runtimes.len())
        .filter(|&i| runtimes[i].name == name)
        .collect()
}

// ---------------------------------------------------------------------------
// Installs (RT-INSTALL-1..3)
// ---------------------------------------------------------------------------

/// Where an install comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A directory of a GitHub repository.
    Github {
        repository: String,
        branch: String,
        /// Directory inside the repository.
        path: String,
    },
    /// Files uploaded with the request: (path, size in bytes).
    Local { files: Vec<(String, usize)> },
}

/// An accepted install request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    /// The spec exactly as sent (trimmed).
    pub spec: String,
    /// What ListRuntimes shows once installed.
    pub record: RuntimeRecord,
    pub source: Source,
    pub force: bool,
}

fn required_spec(spec: &str) -> Result<String> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err(Error::invalid("runtimeSpec", "runtime spec is required"));
    }
    Ok(spec.to_string())
}

impl Install {
    /// Checks an InstallRuntimeFromGithub request (RT-INSTALL-1).
    pub fn github(req: pb::InstallRuntimeRequest) -> Result<Self> {
        let spec = required_spec(&req.runtime_spec)?;
        let mut record = derive_record(&spec).map_err(|m| Error::invalid("runtimeSpec", m))?;
        let or_default = |v: String, d: &str| {
            let v = v.trim();
            if v.is_empty() {
                d.to_string()
            } else {
                v.to_string()
            }
        };
        let repository = or_default(req.repository, DEFAULT_REPOSITORY);
        let branch = or_default(req.branch, DEFAULT_BRANCH);
        let path = or_default(req.path, &format!("runtimes/{}", record.name));
        record.description = format!(
            "{} runtime installed from github.com/{repository} ({path}@{branch})",
            record.description
        );
        Ok(Self {
            spec,
            record,
            source: Source::Github {
                repository,
                branch,
                path,
            },
            force: req.force_reinstall,
        })
    }

    /// Checks an InstallRuntimeFromLocal request (RT-INSTALL-1).
    pub fn local(req: pb::InstallRuntimeFromLocalRequest) -> Result<Self> {
        let spec = required_spec(&req.runtime_spec)?;
        if req.files.is_empty() {
            return Err(Error::invalid("files", "no runtime files provided"));
        }
        let mut files = Vec::with_capacity(req.files.len());
        for (i, f) in req.files.iter().enumerate() {
            if f.path.trim().is_empty() {
                return Err(Error::invalid(
                    format!("files[{i}].path"),
                    "file path is required",
                ));
            }
            files.push((f.path.trim().to_string(), f.content.len()));
        }
        let mut record = derive_record(&spec).map_err(|m| Error::invalid("runtimeSpec", m))?;
        record.description = format!("{} runtime installed from local files", record.description);
        Ok(Self {
            spec,
            record,
            source: Source::Local { files },
            force: req.force_reinstall,
        })
    }

    /// The unary answer for `result` (RT-INSTALL-1).
    pub fn response(&self, result: &pb::RuntimeInstallationResult) -> pb::InstallRuntimeResponse {
        let (repository, resolved_path) = match &self.source {
            Source::Github {
                repository, path, ..
            } => (repository.clone(), path.clone()),
            Source::Local { .. } => ("local".to_string(), String::new()),
        };
        pb::InstallRuntimeResponse {
            build_job_uuid: String::new(),
            runtime_spec: self.spec.clone(),
            status: if result.success {
                "completed"
            } else {
                "failed"
            }
            .to_string(),
            message: result.message.clone(),
            repository,
            resolved_path,
        }
    }

    fn success_message(&self) -> &'static str {
        match self.source {
            Source::Github { .. } => "Runtime installed successfully",
            Source::Local { .. } => "Runtime installed successfully from local files",
        }
    }

    fn result(&self, name: &str, success: bool, message: String) -> pb::RuntimeInstallationResult {
        pb::RuntimeInstallationResult {
            success,
            message,
            runtime_spec: self.spec.clone(),
            install_path: install_path(name),
        }
    }

    /// The chunks a real install of this runtime would send, in order (RT-INSTALL-2).
    pub fn script(&self) -> Vec<pb::RuntimeInstallationChunk> {
        let r = &self.record;
        let dir = format!("{RUNTIMES_BASE}/{}", r.name);
        let (steps, mut early_logs): ([&str; 4], Vec<String>) = match &self.source {
            Source::Github {
                repository,
                branch,
                path,
            } => (
                [
                    "📦 Cloning repository...",
                    "Extracting repository...",
                    "Repository extracted successfully",
                    "🏗️  Running setup script...",
                ],
                vec![
                    format!(
                        "Cloning into '/tmp/joblet-runtime-{}'...\nremote: Enumerating objects: 1284, done.\n",
                        r.name
                    ),
                    format!(
                        "Receiving objects: 100% (1284/1284), 1.92 MiB | 9.61 MiB/s, done.\nBranch '{branch}' set up to track 'origin/{branch}' ({repository}).\n"
                    ),
                    format!("Using {path}/setup.sh\n"),
                ],
            ),
            Source::Local { files } => {
                let total: usize = files.iter().map(|(_, n)| n).sum();
                let names: Vec<&str> = files.iter().take(5).map(|(p, _)| p.as_str()).collect();
                let more = files.len().saturating_sub(names.len());
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                (
                    [
                        "📦 Receiving local runtime files...",
                        "Extracting runtime files...",
                        "Runtime files extracted successfully",
                        "🏗️  Running local setup script...",
                    ],
                    vec![
                        format!("Received {} file(s), {total} bytes\n", files.len()),
                        format!("Files: {}{more}\n", names.join(", ")),
                        format!("Staged in /tmp/joblet-runtime-{}\n", r.name),
                    ],
                )
            }
        };
        let arch = r.architectures.first().map_or("x86_64", String::as_str);
        let mut setup_logs = vec![
            format!(
                "[setup] Installing {} {} runtime ({}) for {arch}\n",
                r.language, r.version, r.name
            ),
            format!("[setup] Downloading {} {} ...\n", r.language, r.version),
            format!("[setup] Unpacking into {dir}\n"),
        ];
        for p in &r.packages {
            setup_logs.push(format!("[setup] Installing package {p}\n"));
        }
        setup_logs.push(format!("[setup] Writing {}\n", install_path(&r.name)));
        setup_logs.push(format!(
            "[setup] ✅ {} installed ({:.1} MB)\n",
            r.name,
            r.size_bytes as f64 / (1024.0 * 1024.0)
        ));

        let progress = |i: usize, message: &str| pb::RuntimeInstallationChunk {
            chunk_type: Some(ChunkType::Progress(pb::RuntimeInstallationProgress {
                message: message.to_string(),
                step: i as i32 + 1,
                total_steps: steps.len() as i32,
            })),
        };
        let log = |data: String| pb::RuntimeInstallationChunk {
            chunk_type: Some(ChunkType::Log(pb::RuntimeInstallationLog {
                data: data.into_bytes(),
            })),
        };
        let mut out = Vec::new();
        // Clone/receive, then its output; extract; extracted; setup, then its output.
        out.push(progress(0, steps[0]));
        out.extend(early_logs.drain(..).map(log));
        out.push(progress(1, steps[1]));
        out.push(progress(2, steps[2]));
        out.push(progress(3, steps[3]));
        out.extend(setup_logs.into_iter().map(log));
        out
    }
}

/// Starts an install (RT-INSTALL-1..3) and returns the task, which ends with the
/// result. When `chunks` is given, every progress and log chunk and then exactly
/// one result chunk are sent to it; a closed channel does not stop the install.
pub fn start(
    shared: &Arc<Shared>,
    install: Install,
    chunks: Option<ChunkSender>,
) -> JoinHandle<pb::RuntimeInstallationResult> {
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let mut chunks = chunks;
        let result = run_install(&shared, install, &mut chunks).await;
        // RT-INSTALL-2 mutant: the result chunk is never sent.
        if let Some(tx) = chunks.filter(|_| !shared.mutant(Mutant::InstallNoResult)) {
            let chunk = pb::RuntimeInstallationChunk {
                chunk_type: Some(ChunkType::Result(result.clone())),
            };
            let _ = tx.send(Ok(chunk)).await;
        }
        result
    })
}

async fn run_install(
    shared: &Shared,
    mut install: Install,
    chunks: &mut Option<ChunkSender>,
) -> pb::RuntimeInstallationResult {
    let installed = find_exact(&shared.state.lock().runtimes, &install.spec).cloned();
    if let Some(existing) = installed {
        // RT-INSTALL-3 mutant: forceReinstall is ignored.
        if !install.force || shared.mutant(Mutant::ForceReinstallIgnored) {
            return install.result(
                &existing.name,
                true,
                format!(
                    "Runtime {} is already installed (use forceReinstall to reinstall)",
                    existing.name
                ),
            );
        }
        // A reinstall keeps the runtime's identity.
        install.record = existing;
    }
    let script = install.script();
    // In wall time an install takes about a second. On a virtual clock it
    // takes none: a manual clock does not move while the call waits, and
    // an install is not a job that an auto-skipping clock waits on.
    let pause = if shared.clock.is_virtual() {
        Duration::ZERO
    } else {
        INSTALL_DURATION / u32::try_from(script.len() + 1).unwrap_or(u32::MAX)
    };
    for chunk in script {
        tokio::time::sleep(pause).await;
        if let Some(tx) = chunks.as_ref()
            && tx.send(Ok(chunk)).await.is_err()
        {
            // The client left; the install carries on.
            *chunks = None;
        }
    }
    tokio::time::sleep(pause).await;
    let name = install.record.name.clone();
    {
        let mut state = shared.state.lock();
        match state.runtimes.iter_mut().find(|r| r.name == name) {
            Some(slot) => *slot = install.record.clone(),
            None => state.runtimes.push(install.record.clone()),
        }
    }
    let message = install.success_message().to_string();
    install.result(&name, true, message)
}

// ---------------------------------------------------------------------------
// Spec → record
// ---------------------------------------------------------------------------

/// Parses a runtime name `<lang>-<version>[-<variant>…][@<arch>]` (e.g.
/// `python-3.12-ml`): language, version, variants, architecture.
pub fn parse_runtime_name(name: &str) -> Option<(String, String, Vec<String>, String)> {
    let (name, arch) = match name.split_once('@') {
        Some((n, a)) => (n, a),
        None => (name, "amd64"),
    };
    if !["amd64", "arm64", "x86_64"].contains(&arch) {
        return None;
    }
    let mut parts = name.split('-');
    let lang = parts.next()?;
    let version = parts.next()?;
    let lang_ok = lang.starts_with(|c: char| c.is_ascii_lowercase())
        && lang
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let version_ok = version.starts_with(|c: char| c.is_ascii_digit())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.');
    if !lang_ok || !version_ok {
        return None;
    }
    let variants: Vec<String> = parts.map(str::to_string).collect();
    if variants.iter().any(|v| {
        v.is_empty()
            || !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
    }) {
        return None;
    }
    Some((
        lang.to_string(),
        version.to_string(),
        variants,
        arch.to_string(),
    ))
}

fn display_language(language: &str) -> String {
    match language {
        "python" => "Python".into(),
        "java" => "Java (OpenJDK)".into(),
        "golang" | "go" => "Go".into(),
        "node" => "Node.js".into(),
        "ruby" => "Ruby".into(),
        "php" => "PHP".into(),
        other => other.to_string(),
    }
}

/// The record an installed runtime of these parts gets (RT-INSTALL-1).
pub fn record_from_parts(
    language: &str,
    version: &str,
    variants: &[String],
    architecture: &str,
) -> RuntimeRecord {
    let mut name = format!("{language}-{version}");
    for v in variants {
        name.push('-');
        name.push_str(v);
    }
    let (base, packages): (i64, &[&str]) = match language {
        "python" => (
            94_371_840,
            &["pip==24.0", "setuptools==69.5.1", "wheel==0.43.0"],
        ),
        "node" => (125_829_120, &["npm==10.5.0", "corepack==0.25.2"]),
        "java" => (356_515_840, &["maven==3.9.6"]),
        "golang" | "go" => (272_629_760, &[]),
        "ruby" => (83_886_080, &["bundler==2.5.9", "rake==13.2.1"]),
        "php" => (73_400_320, &["composer==2.7.6"]),
        _ => (52_428_800, &[]),
    };
    let mut packages: Vec<String> = packages.iter().map(|p| p.to_string()).collect();
    if matches!(language, "golang" | "go") {
        packages.push(format!("go=={version}"));
    }
    let gpu = variants
        .iter()
        .any(|v| matches!(v.as_str(), "ml" | "gpu" | "cuda"));
    let size_bytes = base + 256 * 1024 * 1024 * variants.len() as i64;
    let architectures = match architecture {
        "arm64" => vec!["arm64".to_string()],
        _ => DEFAULT_ARCHITECTURES
            .iter()
            .map(|a| a.to_string())
            .collect(),
    };
    let mut description = format!("{} {version}", display_language(language));
    if !variants.is_empty() {
        description.push_str(&format!(" ({})", variants.join(", ")));
    }
    RuntimeRecord {
        name,
        language: language.to_string(),
        version: version.to_string(),
        description,
        size_bytes,
        packages,
        architectures,
        gpu,
        ..RuntimeRecord::default()
    }
}

/// The record a spec installs: `python:3.12` (validated by
/// [`validate::runtime_spec`]) or a runtime name such as `python-3.12-ml`.
/// The error is the user-facing reason.
pub fn derive_record(spec: &str) -> std::result::Result<RuntimeRecord, String> {
    let record = match validate::runtime_spec(spec) {
        Ok(s) => record_from_parts(&s.language, &s.version, &s.variants, &s.architecture),
        Err(reason) if spec.contains(':') => return Err(reason),
        Err(_) => parse_runtime_name(spec)
            .map(|(l, v, vars, arch)| record_from_parts(&l, &v, &vars, &arch))
            .ok_or_else(|| {
                format!(
                    "invalid runtime spec {spec:?}: expected <language>:<version>[-<variant>…][@<arch>] \
                     (e.g. python:3.12) or a runtime name such as python-3.12-ml"
                )
            })?,
    };
    // The name becomes a directory under RUNTIMES_BASE.
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if !record.name.chars().all(safe) || record.name.contains("..") {
        return Err(format!(
            "invalid runtime spec {spec:?}: the runtime name {:?} must be letters, \
             digits, '.', '_' and '-' (no \"..\")",
            record.name
        ));
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_names_split_into_language_version_and_variants() {
        assert_eq!(
            parse_runtime_name("python-3.12-ml"),
            Some((
                "python".into(),
                "3.12".into(),
                vec!["ml".into()],
                "amd64".into()
            ))
        );
        assert_eq!(
            parse_runtime_name("node-20@arm64"),
            Some(("node".into(), "20".into(), vec![], "arm64".into()))
        );
        for bad in [
            "python",
            "python-",
            "-3.12",
            "python-x",
            "python-3.12-",
            "Py-3",
            "node-20@sparc",
            "a b-1",
        ] {
            assert_eq!(parse_runtime_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn records_are_named_lang_version_variants() {
        let r = record_from_parts("python", "3.12", &["ml".into()], "amd64");
        assert_eq!(r.name, "python-3.12-ml");
        assert_eq!(r.language, "python");
        assert_eq!(r.version, "3.12");
        assert!(r.gpu);
        assert_eq!(r.architectures, ["x86_64", "amd64"]);
        assert!(r.size_bytes > 0);
        assert!(!r.packages.is_empty());
        let g = record_from_parts("golang", "1.22", &[], "arm64");
        assert_eq!(g.name, "golang-1.22");
        assert_eq!(g.packages, ["go==1.22"]);
        assert_eq!(g.architectures, ["arm64"]);
        assert!(!g.gpu);
    }

    #[test]
    fn hyphen_names_derive_without_the_spec_grammar() {
        let r = derive_record("ruby-3.3-rails").unwrap();
        assert_eq!(
            (r.name.as_str(), r.language.as_str(), r.version.as_str()),
            ("ruby-3.3-rails", "ruby", "3.3")
        );
        assert!(
            derive_record("not a runtime")
                .unwrap_err()
                .contains("runtime spec")
        );
    }

    #[test]
    fn script_has_numbered_progress_and_ends_before_the_result() {
        let install = Install::github(pb::InstallRuntimeRequest {
            runtime_spec: "php-8.3".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            install.source,
            Source::Github {
                repository: DEFAULT_REPOSITORY.into(),
                branch: DEFAULT_BRANCH.into(),
                path: "runtimes/php-8.3".into()
            }
        );
        let script = install.script();
        let steps: Vec<(i32, i32)> = script
            .iter()
            .filter_map(|c| match &c.chunk_type {
                Some(ChunkType::Progress(p)) => Some((p.step, p.total_steps)),
                _ => None,
            })
            .collect();
        assert_eq!(steps, [(1, 4), (2, 4), (3, 4), (4, 4)]);
        assert!(
            script
                .iter()
                .all(|c| !matches!(c.chunk_type, Some(ChunkType::Result(_)) | None))
        );
        assert!(
            script
                .iter()
                .any(|c| matches!(c.chunk_type, Some(ChunkType::Log(_))))
        );
    }

    #[test]
    fn install_pre_checks_name_the_field() {
        let e = Install::github(pb::InstallRuntimeRequest::default()).unwrap_err();
        assert_eq!(e.to_string(), "runtimeSpec: runtime spec is required");
        let e = Install::local(pb::InstallRuntimeFromLocalRequest {
            runtime_spec: "python-3.12".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "files: no runtime files provided");
    }

    #[test]
    fn derived_names_are_safe_directory_names() {
        for spec in ["python:3.12/x", "python:../../etc", "node:20 beta"] {
            let e = derive_record(spec).unwrap_err();
            assert!(e.contains("runtime name"), "{spec}: {e}");
        }
        assert_eq!(derive_record("python:3.12").unwrap().name, "python-3.12");
        assert!(
            derive_record("cobol:85")
                .unwrap_err()
                .contains("Unsupported language")
        );
    }

    #[tokio::test]
    async fn installed_runtime_without_force_answers_one_result_at_once() {
        let shared = Shared::new(crate::config::MockConfig::default());
        let install = Install::local(pb::InstallRuntimeFromLocalRequest {
            runtime_spec: "python:3.11".into(),
            files: vec![pb::RuntimeFile {
                path: "setup.sh".into(),
                ..Default::default()
            }],
            force_reinstall: false,
        })
        .unwrap();
        let (tx, mut rx) = mpsc::channel(4);
        let result = start(&shared, install, Some(tx)).await.unwrap();
        assert!(
            result.success && result.message.contains("already installed"),
            "{result:?}"
        );
        let only = rx.recv().await.unwrap().unwrap();
        assert_eq!(only.chunk_type, Some(ChunkType::Result(result)));
        assert!(
            rx.recv().await.is_none(),
            "the stream ends after the result"
        );
        assert_eq!(shared.state.lock().runtimes.len(), 5);
    }

    #[test]
    fn exact_lookup_never_confuses_variants() {
        let mut rts = catalogue::builtin();
        let find =
            |rts: &[RuntimeRecord], spec: &str| find_exact(rts, spec).map(|r| r.name.clone());
        assert_eq!(find(&rts, "python:3.11").as_deref(), Some("python-3.11"));
        assert_eq!(
            find(&rts, "python:3.11-ml").as_deref(),
            Some("python-3.11-ml")
        );
        assert_eq!(find(&rts, "java:21").as_deref(), Some("openjdk-21"));
        assert_eq!(find(&rts, "openjdk-21").as_deref(), Some("openjdk-21"));
        rts.retain(|r| r.name != "python-3.11");
        assert_eq!(find(&rts, "python:3.11"), None);
        assert_eq!(find(&rts, "python-3.11"), None);
        assert_eq!(find(&rts, "ruby:3.3"), None);
        assert_eq!(find(&rts, ""), None);
    }

    #[test]
    fn rt_rm_1_a_name_removes_every_version_and_name_at_version_one() {
        let shared = Shared::new(crate::config::MockConfig::default());
        let version = |v: &str| RuntimeRecord {
            name: "ml".into(),
            language: "python".into(),
            version: v.into(),
            size_bytes: 10,
            ..RuntimeRecord::default()
        };
        {
            let mut state = shared.state.lock();
            for v in ["1.0.0", "1.1.0", "2.0.0"] {
                state.runtimes.push(version(v));
            }
        }
        let versions = |shared: &Shared| -> Vec<String> {
            shared
                .state
                .lock()
                .runtimes
                .iter()
                .filter(|r| r.name == "ml")
                .map(|r| r.version.clone())
                .collect()
        };
        let one = remove(&shared, "ml@1.1.0");
        assert!(one.success && one.freed_space_bytes == 10, "{one:?}");
        assert_eq!(versions(&shared), ["1.0.0", "2.0.0"]);
        assert!(!remove(&shared, "ml@1.1.0").success);
        let all = remove(&shared, "ml");
        assert!(all.success && all.freed_space_bytes == 20, "{all:?}");
        assert!(versions(&shared).is_empty());
        assert_eq!(shared.state.lock().runtimes.len(), 5, "the catalogue stays");
    }

    #[test]
    fn install_path_is_the_runtime_descriptor() {
        assert_eq!(
            install_path("python-3.12"),
            "/opt/joblet/runtimes/python-3.12/runtime.yml"
        );
    }
}
