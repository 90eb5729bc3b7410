//! The executable model of the documented behaviours (`docs/behaviours.md`,
//! the `documented` profile): a small, pure state machine of the run's own
//! jobs, networks and volumes, written from the catalogue and not from any
//! server's code. Given a call, the times it was sent and answered, and the
//! answer, it says whether the answer is one the documents allow, which
//! behaviour IDs that judged, and moves to the state the answer shows.
//!
//! Where the outcome depends on timing (a just-started `sleep 0.05` may be
//! RUNNING or COMPLETED), the model allows the set of legal answers, and the
//! answer tells it which one happened: after StopJob answered STOPPED, the
//! job is STOPPED. Time is milliseconds since the sequence began, as the
//! explorer measured it; `grace` is how late a node may be (a job due at `t`
//! must have started by `t + grace`).

use std::collections::BTreeSet;

use tonic::Code;

use super::admin_model as admin;
use super::call::{Answer, Call, Cmd, JobId, LogEnd, RunReq, Sched};
use super::checks::{self, Verdict};

/// What the model knows of one of the run's jobs.
#[derive(Debug, Clone)]
pub struct Job {
    /// Its UUID, as RunJob answered.
    pub uuid: String,
    /// What its command does.
    pub cmd: Cmd,
    /// When it may start: the RunJob request's send time, or its schedule.
    pub start_at: f64,
    /// Whether it was scheduled in the future.
    pub scheduled: bool,
    /// Where it is.
    pub phase: Phase,
    /// It was seen running (or past SCHEDULED).
    pub started: bool,
    /// Deleted.
    pub deleted: bool,
    /// A network or volume it needs was removed before it was seen started:
    /// it may end FAILED with exit code -1 (JOB-LIFE-1).
    pub may_fail_start: bool,
    /// Its network ("" for the default).
    pub network: String,
    /// Its volumes.
    pub volumes: Vec<String>,
    /// Its runtime.
    pub runtime: String,
    /// It has secret environment values.
    pub secret: bool,
    /// Its gpu_count.
    pub gpu: i32,
    /// Its `timeout` as sent ("" for none; v2 only: JOB-TIMEOUT-1).
    pub timeout: String,
    /// Its timeout in milliseconds, if it has one (JOB-TIMEOUT-3).
    pub limit: Option<f64>,
}

impl Job {
    /// How long it runs once started: its command's time, or its timeout
    /// when that is shorter (JOB-TIMEOUT-3).
    pub fn run_ms(&self) -> f64 {
        super::timeout::run_ms(&self.cmd, self.limit)
    }

    /// The status and exit code it ends with on its own (`TIMEOUT` and 124
    /// when its timeout cuts it short).
    pub fn natural_end(&self) -> (&'static str, i32) {
        super::timeout::natural_end(&self.cmd, self.limit)
    }

    fn facts(&self) -> checks::Facts<'_> {
        checks::Facts {
            cmd: &self.cmd,
            secret: self.secret,
            scheduled: self.scheduled,
            network: &self.network,
            runtime: &self.runtime,
            gpu: self.gpu,
        }
    }
}

/// Where a job is, as far as the model knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Not stopped or canceled by the run: SCHEDULED until due, then
    /// RUNNING, then its natural end, as time allows.
    Live,
    /// Known to have ended on its own (status not yet seen).
    Ended,
    /// Seen final with this status and exit code (`None`: not known).
    Final(String, Option<i32>),
}

/// The states a job may be in during an interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct May {
    /// SCHEDULED.
    pub scheduled: bool,
    /// RUNNING (or INITIALIZING).
    pub running: bool,
    /// Its natural end.
    pub ended: bool,
    /// FAILED with -1: it could not start.
    pub failed_start: bool,
}

impl May {
    /// Some final status.
    pub fn finished(self) -> bool {
        self.ended || self.failed_start
    }
    /// Some non-final status.
    pub fn active(self) -> bool {
        self.scheduled || self.running
    }
}

/// The model: the run's jobs, networks and volumes, and what the node has.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Jobs in creation order.
    pub jobs: Vec<Job>,
    /// The run's networks (name, cidr), in creation order.
    pub networks: Vec<(String, String)>,
    /// CIDRs of networks that are not the run's (seen at the start).
    pub foreign_cidrs: Vec<String>,
    /// The run's volumes (name, size, type), in creation order.
    pub volumes: Vec<(String, String, String)>,
    /// Runtimes installed on the node (seen at the start).
    pub runtimes: BTreeSet<String>,
    /// How late the node may be, in milliseconds.
    pub grace: f64,
    /// The run's name prefix: networks and volumes with it are the run's.
    pub prefix: String,
    /// The run's workflows, in creation order.
    pub workflows: Vec<super::wfmodel::Wf>,
    /// The contracts the node serves (the v2 rules apply when it serves
    /// v2: [`super::contract`]).
    pub api: joblet_testkit::contract::Api,
    /// The answer being judged came through the v2 messages.
    pub via_v2: bool,
    /// What the v2-only calls showed ([`super::v2model`]).
    pub v2: super::v2state::V2State,
}

pub use super::checks::BUILTIN_NETWORKS;
use super::checks::SLACK_MS;

impl Model {
    /// A model of a fresh run whose names start with `prefix`.
    pub fn new(prefix: &str, grace_ms: f64) -> Self {
        Self {
            grace: grace_ms,
            prefix: prefix.to_owned(),
            ..Self::default()
        }
    }

    fn known(&self) -> checks::Known<'_> {
        checks::Known {
            networks: &self.networks,
            volumes: &self.volumes,
            runtimes: &self.runtimes,
        }
    }

    /// The states job `j` may be in between `a` and `b`.
    pub fn may(&self, j: usize, a: f64, b: f64) -> May {
        let job = &self.jobs[j];
        match job.phase {
            Phase::Final(..) => {
                return May {
                    ended: true,
                    ..May::default()
                };
            }
            Phase::Ended => {
                return May {
                    ended: true,
                    failed_start: job.may_fail_start,
                    ..May::default()
                };
            }
            Phase::Live => {}
        }
        let start = job.start_at;
        let end = start + job.run_ms();
        let must_be_final = a > end + self.grace;
        let scheduled = job.scheduled && !job.started && a < start + self.grace;
        let must_be_scheduled = job.scheduled && !job.started && b + SLACK_MS < start;
        May {
            scheduled,
            running: !must_be_scheduled && !must_be_final,
            // The schedule text is cut to the millisecond and timers fire on
            // millisecond ticks: a job may end a little before `end`.
            ended: !must_be_scheduled && b + SLACK_MS >= end,
            failed_start: job.may_fail_start && !job.started && !must_be_scheduled,
        }
    }

    /// The statuses job `j` may show between `a` and `b`, with exit codes
    /// where they are known (`None`: any).
    pub fn statuses(&self, j: usize, a: f64, b: f64) -> Vec<(&'static str, Option<i32>)> {
        let job = &self.jobs[j];
        if let Phase::Final(s, code) = &job.phase {
            return vec![(checks::status_str(s), *code)];
        }
        let may = self.may(j, a, b);
        let mut out = Vec::new();
        if may.scheduled {
            out.push(("SCHEDULED", None));
        }
        if may.running {
            out.push(("RUNNING", None));
            out.push(("INITIALIZING", None));
        }
        if may.ended {
            let (s, code) = job.natural_end();
            out.push((s, Some(code)));
        }
        if may.failed_start {
            out.push(("FAILED", Some(-1)));
        }
        out
    }

    /// What the job shows: the model learns from a status it saw.
    pub fn saw_status(&mut self, j: usize, status: &str, exit_code: i32) {
        let job = &mut self.jobs[j];
        match status {
            "RUNNING" | "INITIALIZING" => job.started = true,
            "COMPLETED" | "FAILED" | "STOPPED" | "CANCELED" | "TIMEOUT" => {
                job.started = true;
                job.phase = Phase::Final(status.to_owned(), Some(exit_code));
            }
            _ => {}
        }
    }

    /// Judges `answer` to `call`, sent at `a` and answered at `b`, and moves
    /// the model to the state it shows.
    pub fn check(&mut self, call: &Call, a: f64, b: f64, answer: &Answer) -> Verdict {
        match call {
            Call::RunJob(req) => self.run_job(req, a, b, answer),
            Call::GetJobStatus(id) => self.get_status(id, a, b, answer),
            Call::StopJob(id) => self.stop(id, a, b, answer),
            Call::CancelJob(id) => self.cancel(id, a, b, answer),
            Call::DeleteJob(id) => self.delete(id, a, b, answer),
            Call::GetJobLogs(id, ..) => self.logs(id, a, b, answer),
            Call::ListJobs => self.list_jobs(a, b, answer),
            Call::CreateNetwork { name, cidr } => self.create_network(name, cidr, answer),
            Call::ListNetworks => self.list_networks(a, b, answer),
            Call::RemoveNetwork(name) => self.remove_network(name, a, b, answer),
            Call::CreateVolume { name, size, kind } => self.create_volume(name, size, kind, answer),
            Call::ListVolumes => self.list_volumes(a, b, answer),
            Call::RemoveVolume(name) => self.remove_volume(name, a, b, answer),
            Call::ListRuntimes => {
                let mut v = admin::list_runtimes(&self.prefix, &self.runtimes, answer);
                // A node of v2 alone has no installs: its own runtimes are
                // builds (RT-BUILD-5 is v2model's).
                if !self.api.serves_v1() {
                    v.ids.retain(|id| *id != "RT-INSTALL-1");
                }
                v
            }
            Call::GetRuntimeInfo(name) => checks::runtime_info(name, &self.runtimes, answer),
            Call::TestRuntime(name) => checks::runtime_test(name, &self.runtimes, answer),
            Call::GetSystemStatus => checks::system(answer),
            Call::ValidateRuntimeSpec(..) if !self.api.serves_v1() => {
                super::contract::v1_only(call, answer)
            }
            Call::ValidateRuntimeSpec(_, valid) => checks::spec(*valid, answer),
            Call::StreamSystemMetrics(types) => checks::sample(types, answer),
            Call::Wait(_) => Verdict::pass(&[]),
            Call::Wf(c) => super::wfmodel::check(&mut self.workflows, self.grace, c, a, b, answer),
            Call::As(who, inner) => {
                // AUTH-6: the reader is the viewer where v2 is spoken.
                let role = super::contract::role_of(self.api, *who);
                let v = match admin::refusal(role, inner, answer) {
                    Some(v) => v,
                    None => self
                        .check(inner, a, b, answer)
                        .with_ids(admin::admin_ids(role)),
                };
                super::contract::role_ids(self.api, *who, v)
            }
            Call::V2(_) | Call::RunJobV2(_) => Verdict::fail(
                &[],
                "a v2 call, judged by v2model::judge (not by Model::check)",
            ),
            Call::Install(i) => admin::install(&mut self.runtimes, i, answer),
            Call::RemoveRuntime(n) => {
                let v = admin::remove(&mut self.runtimes, n, answer);
                // A job not yet started on a removed runtime may not start.
                if v.is_pass() && matches!(answer, Answer::Removed(true, _)) {
                    self.removed(|j| &j.runtime == n);
                }
                v
            }
            Call::ViaV2(inner) => match answer {
                // The v1 rules on what both contracts show, then the v2
                // ones on the rest.
                Answer::Facts(facts) => {
                    let (shared, v2) = super::contract::facts(self.api, facts);
                    let v = self.check(inner, a, b, &shared);
                    if v.is_pass() { v2.with_ids(&v.ids) } else { v }
                }
                _ => {
                    self.via_v2 = true;
                    let v = self.check(inner, a, b, answer);
                    self.via_v2 = false;
                    v
                }
            },
        }
    }

    /// The answer every job call gets for an ID that names no job of the
    /// model's, or several: NOT_FOUND or INVALID_ARGUMENT (ALL-2).
    fn id_problem(&self, id: &JobId, answer: &Answer) -> Option<Verdict> {
        let deleted = id.job.is_some_and(|j| self.jobs[j].deleted);
        if id.ambiguous {
            let mut v = checks::error_code(
                answer,
                &[Code::InvalidArgument],
                &["ALL-2"],
                "an ambiguous prefix",
            );
            v.state = Some("AMBIGUOUS PREFIX".into());
            return Some(v);
        }
        if id.job.is_none() || deleted {
            let ids: &[&'static str] = if deleted {
                &["ALL-2", "JOB-DEL-1"]
            } else {
                &["ALL-2", "ALL-4"]
            };
            let what = if deleted {
                "a deleted job"
            } else {
                "an unknown ID"
            };
            let mut v = checks::error_code(answer, &[Code::NotFound], ids, what);
            v.state = Some(if deleted { "DELETED" } else { "UNKNOWN ID" }.into());
            return Some(v);
        }
        None
    }

    /// A label of the state job `j` was in, for the coverage of (call, state)
    /// pairs.
    pub fn state_label(&self, j: usize, a: f64, b: f64) -> String {
        let job = &self.jobs[j];
        if job.deleted {
            return "DELETED".into();
        }
        let st = self.statuses(j, a, b);
        let names: BTreeSet<&str> = st
            .iter()
            .map(|(s, _)| if *s == "INITIALIZING" { "RUNNING" } else { s })
            .collect();
        names.into_iter().collect::<Vec<_>>().join("|")
    }

    fn run_job(&mut self, req: &RunReq, a: f64, b: f64, answer: &Answer) -> Verdict {
        let problems = checks::run_problems(self.known(), req);
        if let Some(v) = super::timeout::refusal(req, !problems.is_empty(), answer) {
            return v;
        }
        if !problems.is_empty() {
            let mut ids = vec!["ALL-4"];
            ids.extend(problems.iter().map(|(id, _)| *id));
            let what: Vec<&str> = problems.iter().map(|(_, w)| *w).collect();
            return checks::error_code(answer, &[Code::InvalidArgument], &ids, &what.join(", "));
        }
        if let Some(v) = checks::gpu_refusal(req, answer) {
            return v;
        }
        let Answer::Run(view, sched_time) = answer else {
            return Verdict::fail(&["JOB-RUN-1"], "OK with a new job (RUNNING or SCHEDULED)");
        };
        let (start_at, scheduled) = match req.sched {
            Sched::Future(ms) => (a + ms, true),
            _ => (a, false),
        };
        let mut verdict = if self.api.serves_v1() && !self.via_v2 {
            checks::run_answer(req, view, sched_time, scheduled, start_at, b)
        } else {
            super::contract::run_answer_v2(req, view, sched_time, scheduled, start_at, b)
        };
        if verdict.is_pass() {
            self.jobs.push(Job {
                uuid: view.uuid.clone(),
                cmd: req.cmd.clone(),
                start_at,
                scheduled,
                phase: Phase::Live,
                started: view.status == "RUNNING",
                deleted: false,
                // A scheduled GPU job finds its GPUs taken (other sequences
                // share the node's) when due: it cannot start (JOB-GPU-2,
                // JOB-LIFE-1).
                may_fail_start: scheduled && req.gpu_count > 0,
                network: req.network.clone(),
                volumes: req.volumes.clone(),
                runtime: req.runtime.clone(),
                secret: !req.secret.is_empty(),
                gpu: req.gpu_count,
                timeout: req.timeout.clone(),
                limit: super::timeout::parse(&req.timeout).ok().flatten(),
            });
            verdict = verdict.with_ids(super::timeout::accepted_ids(&req.timeout));
            self.v2.note_run(&view.uuid, req.limits);
            verdict.state = Some(view.status.clone());
        }
        verdict
    }

    fn get_status(&mut self, id: &JobId, a: f64, b: f64, answer: &Answer) -> Verdict {
        if let Some(v) = self.id_problem(id, answer) {
            return v.with_ids(&["JOB-STATUS-2"]);
        }
        let j = id.job.unwrap_or_default();
        let Answer::Status(view) = answer else {
            return Verdict::fail(&["JOB-STATUS-1"], "OK with the job's fields");
        };
        let allowed = self.statuses(j, a, b);
        let job = &self.jobs[j];
        let v = checks::job_view(job.facts(), view, &allowed, true);
        let mut v = super::timeout::judge_view(&job.timeout, job.limit, view, v);
        if v.is_pass() {
            v.state = Some(view.status.clone());
            self.saw_status(j, &view.status, view.exit_code);
        }
        v
    }

    fn stop(&mut self, id: &JobId, a: f64, b: f64, answer: &Answer) -> Verdict {
        if let Some(v) = self.id_problem(id, answer) {
            return v;
        }
        let j = id.job.unwrap_or_default();
        let may = self.may(j, a, b);
        let live = self.jobs[j].phase == Phase::Live;
        let mut options = Vec::new();
        if live && may.scheduled {
            options.push("OK {status CANCELED} (JOB-STOP-2)");
        }
        if live && may.running {
            options.push("OK {status STOPPED, exitCode -1, endTime set} (JOB-STOP-1)");
        }
        if !live || may.finished() {
            options.push("FAILED_PRECONDITION \"job is not running\" (JOB-STOP-3)");
        }
        let expected = options.join(" or ");
        let uuid = self.jobs[j].uuid.clone();
        match answer {
            Answer::Stop(u, s, end, code) if live => {
                let ok = (s == "CANCELED" && may.scheduled)
                    || (s == "STOPPED" && may.running && *code == -1 && !end.is_empty());
                if ok && (u == &uuid || (!u.is_empty() && uuid.starts_with(u.as_str()))) {
                    let id = if s == "CANCELED" {
                        "JOB-STOP-2"
                    } else {
                        "JOB-STOP-1"
                    };
                    let code = (s == "STOPPED").then_some(*code);
                    self.jobs[j].phase = Phase::Final(s.clone(), code);
                    self.jobs[j].started = true;
                    let mut v = Verdict::pass(&[id]);
                    v.state = Some(
                        if s == "CANCELED" {
                            "SCHEDULED"
                        } else {
                            "RUNNING"
                        }
                        .into(),
                    );
                    return v;
                }
                Verdict::fail(&["JOB-STOP-1", "JOB-STOP-2"], &expected)
            }
            Answer::Error(Code::FailedPrecondition, m)
                if (!live || may.finished()) && m.contains("not running") =>
            {
                let mut v = Verdict::pass(&["JOB-STOP-3"]);
                v.state = Some(self.state_label(j, a, b));
                if live {
                    self.jobs[j].phase = Phase::Ended;
                }
                v
            }
            _ => Verdict::fail(&["JOB-STOP-1", "JOB-STOP-2", "JOB-STOP-3"], &expected),
        }
    }

    fn cancel(&mut self, id: &JobId, a: f64, b: f64, answer: &Answer) -> Verdict {
        if let Some(v) = self.id_problem(id, answer) {
            return v.with_ids(&["JOB-CANCEL-2"]);
        }
        let j = id.job.unwrap_or_default();
        let may = self.may(j, a, b);
        let live = self.jobs[j].phase == Phase::Live;
        let can_cancel = live && may.scheduled;
        let can_refuse = !live || may.running || may.finished();
        let label = self.state_label(j, a, b);
        match answer {
            Answer::Cancel(_, s) if can_cancel && s == "CANCELED" => {
                self.jobs[j].phase = Phase::Final("CANCELED".into(), None);
                let mut v = Verdict::pass(&["JOB-CANCEL-1"]);
                v.state = Some("SCHEDULED".into());
                v
            }
            Answer::Error(Code::FailedPrecondition, _) if can_refuse => {
                let job = &mut self.jobs[j];
                if live && job.may_fail_start {
                    // Past SCHEDULED, but maybe by failing to start.
                    job.scheduled = false;
                } else if live {
                    job.started = true;
                }
                let mut v = Verdict::pass(&["JOB-CANCEL-2"]);
                v.state = Some(label);
                v
            }
            _ => {
                let mut options = Vec::new();
                if can_cancel {
                    options.push("OK {status CANCELED} (JOB-CANCEL-1)");
                }
                if can_refuse {
                    options.push("FAILED_PRECONDITION (JOB-CANCEL-2)");
                }
                Verdict::fail(&["JOB-CANCEL-1", "JOB-CANCEL-2"], &options.join(" or "))
            }
        }
    }

    fn delete(&mut self, id: &JobId, a: f64, b: f64, answer: &Answer) -> Verdict {
        if let Some(v) = self.id_problem(id, answer) {
            return v.with_ids(&["JOB-DEL-2"]);
        }
        let j = id.job.unwrap_or_default();
        let may = self.may(j, a, b);
        let live = self.jobs[j].phase == Phase::Live;
        let can_delete = !live || may.finished();
        let can_refuse = live && may.active();
        let label = self.state_label(j, a, b);
        match answer {
            Answer::Delete(true) if can_delete => {
                self.jobs[j].deleted = true;
                let mut v = Verdict::pass(&["JOB-DEL-1"]);
                v.state = Some(label);
                v
            }
            Answer::Error(Code::FailedPrecondition, m)
                if can_refuse && m.contains("stop the job first") =>
            {
                self.jobs[j].phase = Phase::Live;
                let mut v = Verdict::pass(&["JOB-DEL-2"]);
                v.state = Some(label);
                v
            }
            _ => {
                let mut options = Vec::new();
                if can_delete {
                    options.push("OK {success true} (JOB-DEL-1)");
                }
                if can_refuse {
                    options.push("FAILED_PRECONDITION \"stop the job first\" (JOB-DEL-2)");
                }
                Verdict::fail(&["JOB-DEL-1", "JOB-DEL-2"], &options.join(" or "))
            }
        }
    }

    fn logs(&mut self, id: &JobId, a: f64, b: f64, answer: &Answer) -> Verdict {
        if id.id.is_empty() {
            return super::contract::logs_without_id(self.api, answer);
        }
        if let Some(v) = self.id_problem(id, answer) {
            return v.with_ids(&["JOB-LOGS-3"]);
        }
        let j = id.job.unwrap_or_default();
        let Answer::Logs(readers) = answer else {
            return Verdict::fail(&["JOB-LOGS-1", "JOB-LOGS-2"], "a log stream per reader");
        };
        let may = self.may(j, a, b);
        let job = &self.jobs[j];
        let full = job.cmd.output();
        let label = self.state_label(j, a, b);
        let natural = match &job.phase {
            Phase::Final(s, _) => s != "STOPPED" && s != "CANCELED",
            _ => true,
        };
        let mut ended = false;
        for (bytes, end) in readers {
            // What a job that could not start writes is not documented.
            if !full.starts_with(bytes) && !job.may_fail_start {
                return Verdict::fail(
                    &["JOB-LOGS-1"],
                    &format!("a prefix of {:?}", String::from_utf8_lossy(&full)),
                );
            }
            match end {
                LogEnd::Ok if !may.finished() && job.phase == Phase::Live => {
                    return Verdict::fail(&["JOB-LOGS-1"], "the stream open: the job is not final");
                }
                LogEnd::Ok if natural && !job.may_fail_start && bytes != &full => {
                    return Verdict::fail(
                        &["JOB-LOGS-1"],
                        &format!("the whole output {:?}", String::from_utf8_lossy(&full)),
                    );
                }
                LogEnd::Ok => ended = true,
                LogEnd::Open if job.phase != Phase::Live || !may.active() => {
                    return Verdict::fail(
                        &["JOB-LOGS-1"],
                        "the stream to end with OK: the job is final",
                    );
                }
                LogEnd::Open => {}
                LogEnd::Error(..) => {
                    return Verdict::fail(
                        &["JOB-LOGS-1", "JOB-LOGS-2"],
                        "each reader gets the output",
                    );
                }
            }
        }
        if ended && self.jobs[j].phase == Phase::Live {
            self.jobs[j].phase = Phase::Ended;
        }
        let mut ids = vec!["JOB-LOGS-1"];
        if readers.len() > 1 {
            ids.push("JOB-LOGS-2");
        }
        let mut v = Verdict::pass(&ids);
        v.state = Some(label);
        v
    }

    fn list_jobs(&mut self, a: f64, b: f64, answer: &Answer) -> Verdict {
        let Answer::Jobs(listed) = answer else {
            return Verdict::fail(&["JOB-LIST-1"], "OK with every job");
        };
        let expected: Vec<usize> = (0..self.jobs.len())
            .filter(|j| !self.jobs[*j].deleted)
            .collect();
        let got: Vec<&str> = listed.iter().map(|v| v.uuid.as_str()).collect();
        let want: Vec<&str> = expected
            .iter()
            .map(|j| self.jobs[*j].uuid.as_str())
            .collect();
        if got != want {
            let mut sorted_got = got.clone();
            sorted_got.sort_unstable();
            let mut sorted_want = want.clone();
            sorted_want.sort_unstable();
            let id = if sorted_got == sorted_want {
                "ALL-5"
            } else {
                "JOB-LIST-1"
            };
            return Verdict::fail(
                &[id, "JOB-DEL-1"],
                &format!("the run's jobs not deleted, in creation order: {want:?}"),
            );
        }
        for (view, j) in listed.iter().zip(expected.iter().copied()) {
            let allowed = self.statuses(j, a, b);
            let v = checks::job_view(self.jobs[j].facts(), view, &allowed, false);
            let job = &self.jobs[j];
            let v = super::timeout::judge_view(&job.timeout, job.limit, view, v);
            if !v.is_pass() {
                return v.with_ids(&["JOB-LIST-1"]);
            }
        }
        for (view, j) in listed.iter().zip(expected) {
            self.saw_status(j, &view.status, view.exit_code);
        }
        Verdict::pass(&["JOB-LIST-1", "ALL-5", "ALL-6"])
    }

    /// How many of the run's jobs may be and must be running with `uses`.
    pub fn running_range(&self, a: f64, b: f64, uses: impl Fn(&Job) -> bool) -> (i32, i32) {
        let (mut min, mut max) = (0, 0);
        for (j, job) in self.jobs.iter().enumerate() {
            if job.deleted || job.phase != Phase::Live || !uses(job) {
                continue;
            }
            let may = self.may(j, a, b);
            if may.running {
                max += 1;
                if !may.scheduled && !may.finished() {
                    min += 1;
                }
            }
        }
        (min, max)
    }

    /// Jobs that need a network or volume that is removed may fail to start.
    pub fn removed(&mut self, uses: impl Fn(&Job) -> bool) {
        for job in &mut self.jobs {
            if job.phase == Phase::Live && !job.started && uses(job) {
                job.may_fail_start = true;
            }
        }
    }

    fn list_networks(&mut self, a: f64, b: f64, answer: &Answer) -> Verdict {
        let Answer::Listing(first, own) = answer else {
            return Verdict::fail(&["NET-LIST-1"], "OK with the networks");
        };
        match first {
            Some(l) if l.name == "bridge" && l.detail == "172.20.0.0/16" && l.kind == "joblet0" => {
            }
            _ => {
                return Verdict::fail(
                    &["NET-LIST-1"],
                    "the built-in bridge (172.20.0.0/16, joblet0) first",
                );
            }
        }
        let mut want = Vec::new();
        for (name, cidr) in &self.networks {
            let range = self.running_range(a, b, |j| &j.network == name);
            want.push((name.clone(), cidr.clone(), format!("joblet-{name}"), range));
        }
        checks::listing(own, &want, "NET-LIST-1")
    }

    fn list_volumes(&mut self, a: f64, b: f64, answer: &Answer) -> Verdict {
        let Answer::Listing(_, own) = answer else {
            return Verdict::fail(&["VOL-LIST-1"], "OK with the volumes");
        };
        let mut want = Vec::new();
        for (name, size, kind) in &self.volumes {
            let range = self.running_range(a, b, |j| j.volumes.contains(name));
            want.push((name.clone(), size.clone(), kind.clone(), range));
        }
        checks::listing(own, &want, "VOL-LIST-1")
    }

    fn create_network(&mut self, name: &str, cidr: &str, answer: &Answer) -> Verdict {
        let mut codes = Vec::new();
        let mut ids = Vec::new();
        if !checks::valid_name(name) || BUILTIN_NETWORKS.contains(&name) || name == "host" {
            codes.push(Code::InvalidArgument);
            ids.push("NET-CREATE-2");
        }
        match checks::parse_cidr(cidr) {
            None => {
                codes.push(Code::InvalidArgument);
                ids.push("NET-CREATE-3");
            }
            Some(net) => {
                let others = self
                    .networks
                    .iter()
                    .filter(|(n, _)| n != name)
                    .map(|(_, c)| c.as_str())
                    .chain(self.foreign_cidrs.iter().map(String::as_str))
                    .chain(std::iter::once("172.20.0.0/16"));
                if others
                    .filter_map(checks::parse_cidr)
                    .any(|o| checks::overlap(o, net))
                {
                    codes.push(Code::InvalidArgument);
                    ids.push("NET-CREATE-3");
                }
            }
        }
        if self.networks.iter().any(|(n, _)| n == name) {
            codes.push(Code::AlreadyExists);
            ids.push("NET-CREATE-4");
        }
        if !codes.is_empty() {
            return checks::error_code(answer, &codes, &ids, "a refused network");
        }
        let want = vec![name.to_owned(), cidr.to_owned(), format!("joblet-{name}")];
        match answer {
            Answer::Created(got) if got == &want => {
                self.networks.push((name.to_owned(), cidr.to_owned()));
                Verdict::pass(&["NET-CREATE-1"])
            }
            _ => Verdict::fail(&["NET-CREATE-1"], &format!("OK {want:?}")),
        }
    }

    fn remove_network(&mut self, name: &str, a: f64, b: f64, answer: &Answer) -> Verdict {
        let exists = self.networks.iter().any(|(n, _)| n == name);
        let builtin = BUILTIN_NETWORKS.contains(&name);
        let range = self.running_range(a, b, |j| j.network == name);
        let v = checks::removal(answer, exists && !builtin, range, "NET-RM-1", "network");
        if v.is_pass() && matches!(answer, Answer::Removed(true, _)) {
            self.networks.retain(|(n, _)| n != name);
            self.removed(|j| j.network == name);
        }
        v
    }

    fn create_volume(&mut self, name: &str, size: &str, kind: &str, answer: &Answer) -> Verdict {
        let mut codes = Vec::new();
        let mut ids = Vec::new();
        if !checks::valid_name(name)
            || !checks::valid_size(size)
            || !matches!(kind, "" | "filesystem" | "memory")
        {
            codes.push(Code::InvalidArgument);
            ids.push("VOL-CREATE-2");
        }
        if self.volumes.iter().any(|(n, ..)| n == name) {
            codes.push(Code::AlreadyExists);
            ids.push("VOL-CREATE-3");
        }
        if !codes.is_empty() {
            return checks::error_code(answer, &codes, &ids, "a refused volume");
        }
        let kind = if kind.is_empty() { "filesystem" } else { kind };
        let want = vec![
            name.to_owned(),
            size.to_owned(),
            kind.to_owned(),
            format!("/opt/joblet/volumes/{name}"),
        ];
        match answer {
            Answer::Created(got) if got == &want => {
                self.volumes
                    .push((name.to_owned(), size.to_owned(), kind.to_owned()));
                Verdict::pass(&["VOL-CREATE-1"])
            }
            _ => Verdict::fail(&["VOL-CREATE-1"], &format!("OK {want:?}")),
        }
    }

    fn remove_volume(&mut self, name: &str, a: f64, b: f64, answer: &Answer) -> Verdict {
        let exists = self.volumes.iter().any(|(n, ..)| n == name);
        let range = self.running_range(a, b, |j| j.volumes.iter().any(|v| v == name));
        let v = checks::removal(answer, exists, range, "VOL-RM-1", "volume");
        if v.is_pass() && matches!(answer, Answer::Removed(true, _)) {
            self.volumes.retain(|(n, ..)| n != name);
            self.removed(|j| j.volumes.iter().any(|v| v == name));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::call::JobView;

    const UUID: &str = "3f2a1c4e-0d9b-4c1a-8e2f-1a2b3c4d5e6f";

    fn run(model: &mut Model, cmd: Cmd, sched: Sched) -> Verdict {
        run_gpus(model, cmd, sched, 0)
    }

    fn run_gpus(model: &mut Model, cmd: Cmd, sched: Sched, gpu_count: i32) -> Verdict {
        let (command, args) = cmd.command_args();
        let req = RunReq {
            cmd,
            sched,
            schedule: String::new(),
            limits: (0, 0, 0),
            cpu_cores: String::new(),
            network: String::new(),
            volumes: vec![],
            runtime: String::new(),
            env: vec![],
            secret: vec![],
            uploads: vec![],
            gpu_count,
            timeout: String::new(),
        };
        let status = if matches!(sched, Sched::Future(_)) {
            "SCHEDULED"
        } else {
            "RUNNING"
        };
        let view = JobView {
            uuid: UUID.into(),
            status: status.into(),
            command,
            args,
            ..JobView::default()
        };
        model.check(
            &Call::RunJob(Box::new(req)),
            0.0,
            1.0,
            &Answer::Run(view, "2030-01-01T00:00:00Z".into()),
        )
    }

    fn id() -> JobId {
        JobId {
            id: UUID.into(),
            job: Some(0),
            ambiguous: false,
        }
    }

    #[test]
    fn explore_model_allows_both_answers_of_a_race_and_learns_from_the_one_given() {
        for stopped in [true, false] {
            let mut m = Model::new("cf-t-", 300.0);
            assert!(run(&mut m, Cmd::Sleep(50), Sched::None).is_pass());
            // 60 ms later the job may be running or completed.
            let answer = if stopped {
                Answer::Stop(
                    UUID.into(),
                    "STOPPED".into(),
                    "2030-01-01T00:00:00Z".into(),
                    -1,
                )
            } else {
                Answer::Error(Code::FailedPrecondition, "job is not running".into())
            };
            let v = m.check(&Call::StopJob(id()), 60.0, 61.0, &answer);
            assert!(v.is_pass(), "{v:?}");
            // Now the model knows: a second StopJob must be refused.
            let again = m.check(&Call::StopJob(id()), 70.0, 71.0, &answer);
            assert_eq!(again.is_pass(), !stopped, "{again:?}");
        }
    }

    /// JOB-LIFE-1, JOB-DEL-1: a scheduled GPU job whose CancelJob is
    /// refused has left SCHEDULED, maybe by failing to start (its GPUs
    /// were taken): DeleteJob may then delete it.
    #[test]
    fn explore_model_a_refused_cancel_of_a_gpu_job_may_mean_it_failed_to_start_job_life_1() {
        let mut m = Model::new("cf-t-", 100.0);
        assert!(run_gpus(&mut m, Cmd::Sleep(30_000), Sched::Future(20.0), 1).is_pass());
        let refused = Answer::Error(Code::FailedPrecondition, "job is not scheduled".into());
        let v = m.check(&Call::CancelJob(id()), 40.0, 41.0, &refused);
        assert!(v.is_pass(), "{v:?}");
        let v = m.check(&Call::DeleteJob(id()), 50.0, 51.0, &Answer::Delete(true));
        assert!(v.is_pass(), "{v:?}");
        // Without GPUs, the refusal means it started: a 30 s job is running.
        let mut m = Model::new("cf-t-", 100.0);
        assert!(run(&mut m, Cmd::Sleep(30_000), Sched::Future(20.0)).is_pass());
        assert!(
            m.check(&Call::CancelJob(id()), 40.0, 41.0, &refused)
                .is_pass()
        );
        let v = m.check(&Call::DeleteJob(id()), 50.0, 51.0, &Answer::Delete(true));
        assert!(!v.is_pass(), "{v:?}");
    }

    #[test]
    fn explore_model_holds_schedules_and_deadlines() {
        let mut m = Model::new("cf-t-", 300.0);
        assert!(run(&mut m, Cmd::Echo("x".into()), Sched::Future(3_600_000.0)).is_pass());
        // Far from due: only SCHEDULED, so CancelJob cancels it.
        let v = m.check(
            &Call::CancelJob(id()),
            10.0,
            11.0,
            &Answer::Error(Code::FailedPrecondition, "no".into()),
        );
        assert!(!v.is_pass());
        // A job that ran to its end long ago must be final.
        let mut m = Model::new("cf-t-", 300.0);
        assert!(run(&mut m, Cmd::False, Sched::None).is_pass());
        let view = JobView {
            uuid: UUID.into(),
            status: "RUNNING".into(),
            command: "false".into(),
            work_dir: "/work".into(),
            network: "bridge".into(),
            ..JobView::default()
        };
        let v = m.check(
            &Call::GetJobStatus(id()),
            5_000.0,
            5_001.0,
            &Answer::Status(view),
        );
        assert_eq!(v.expected.as_deref(), Some("status FAILED (exitCode 1)"));
    }
}
