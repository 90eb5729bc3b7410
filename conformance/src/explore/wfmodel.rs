//! The model of the documented workflow behaviours (WF-*), beside the
//! job model of [`super::model`]: what each job of a submitted workflow
//! ends as (its command's end, or CANCELED when a requirement can no longer
//! hold: WF-EXEC-2), when it may start and end (as soon as its requirements
//! hold: WF-EXEC-1, each step late by the grace at most), and so which
//! job and workflow statuses (WF-STATUS-1), counters (WF-STATUS-2) and
//! listings (WF-LIST-1, WF-JOBS-1) an answer may show. What an answer shows
//! (a job seen started or final, its UUID) narrows what later answers may.

use std::collections::BTreeSet;

use tonic::Code;

use super::call::{Answer, Cmd, JobView};
use super::checks::{self, Verdict};
use super::wfcall::{Info, Row, Shape, WfAnswer, WfCall, WfId};
use super::wfshape::{Def, defs};

/// One job of a workflow, as the model knows it.
#[derive(Debug, Clone)]
pub struct WfJob {
    /// jobName.
    pub name: String,
    /// What it runs.
    pub cmd: Cmd,
    /// Its requirements: (job index, status).
    pub requires: Vec<(usize, &'static str)>,
    /// The status it ends with.
    pub outcome: &'static str,
    /// Its job UUID, once an answer showed it.
    pub uuid: Option<String>,
    /// Seen started (by this time).
    pub seen_started: Option<f64>,
    /// Seen final (by this time).
    pub seen_final: Option<f64>,
}

/// One of the run's workflows.
#[derive(Debug, Clone)]
pub struct Wf {
    /// workflowUuid.
    pub uuid: String,
    /// Its jobs, every requirement before the jobs that need it.
    pub jobs: Vec<WfJob>,
    /// When RunWorkflow was sent and answered.
    pub run: (f64, f64),
}

/// When a job may start and be final: (earliest, latest) each.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: (f64, f64),
    end: (f64, f64),
}

const STARTED: &[&str] = &["RUNNING", "INITIALIZING", "COMPLETED", "FAILED", "STOPPED"];
const FINAL: &[&str] = &["COMPLETED", "FAILED", "STOPPED", "CANCELED"];

impl Wf {
    fn new(uuid: String, defs: &[Def], a: f64, b: f64) -> Self {
        let mut jobs: Vec<WfJob> = Vec::new();
        for d in defs {
            let broken = d
                .requires
                .iter()
                .any(|(r, st)| jobs.get(*r).is_none_or(|j| j.outcome != *st));
            jobs.push(WfJob {
                name: d.name.clone(),
                cmd: d.cmd.clone(),
                requires: d.requires.clone(),
                outcome: if broken {
                    "CANCELED"
                } else {
                    d.cmd.natural_end().0
                },
                uuid: None,
                seen_started: None,
                seen_final: None,
            });
        }
        Self {
            uuid,
            jobs,
            run: (a, b),
        }
    }

    fn windows(&self, grace: f64) -> Vec<Window> {
        let mut w: Vec<Window> = Vec::new();
        for job in &self.jobs {
            let dur = job.cmd.duration_ms();
            let mut win = if job.outcome == "CANCELED" {
                // Canceled when the first requirement that cannot hold is
                // final.
                let broken = job
                    .requires
                    .iter()
                    .filter(|(r, st)| self.jobs[*r].outcome != *st);
                let (mut e, mut l) = (f64::INFINITY, f64::INFINITY);
                for (r, _) in broken {
                    e = e.min(w[*r].end.0);
                    l = l.min(w[*r].end.1 + grace);
                }
                Window {
                    start: (f64::INFINITY, f64::INFINITY),
                    end: (e, l),
                }
            } else {
                let start = if job.requires.is_empty() {
                    (self.run.0, self.run.1 + grace)
                } else {
                    let e = job.requires.iter().map(|(r, _)| w[*r].end.0);
                    let l = job.requires.iter().map(|(r, _)| w[*r].end.1);
                    (e.fold(0.0, f64::max), l.fold(0.0, f64::max) + grace)
                };
                Window {
                    start,
                    end: (start.0 + dur, start.1 + dur),
                }
            };
            if let Some(t) = job.seen_started {
                win.start.1 = win.start.1.min(t);
            }
            if let Some(t) = job.seen_final {
                win.start.1 = win.start.1.min(t);
                win.end.1 = win.end.1.min(t);
            }
            w.push(win);
        }
        w
    }

    /// The statuses each job may show between `a` and `b`.
    fn job_statuses(&self, a: f64, b: f64, grace: f64) -> Vec<Vec<&'static str>> {
        let windows = self.windows(grace);
        self.jobs
            .iter()
            .zip(windows)
            .map(|(job, w)| {
                let mut s = Vec::new();
                if job.outcome == "CANCELED" {
                    if a < w.end.1 {
                        s.push("PENDING");
                    }
                    if b >= w.end.0 {
                        s.push("CANCELED");
                    }
                    return s;
                }
                if a < w.start.1 {
                    s.push("PENDING");
                }
                if b >= w.start.0 && a < w.end.1 {
                    s.push("RUNNING");
                    s.push("INITIALIZING");
                }
                if b >= w.end.0 {
                    s.push(job.outcome);
                }
                s
            })
            .collect()
    }

    /// WF-STATUS-1: COMPLETED if every job completed, else FAILED.
    fn final_status(&self) -> &'static str {
        if self.jobs.iter().all(|j| j.outcome == "COMPLETED") {
            "COMPLETED"
        } else {
            "FAILED"
        }
    }

    /// The statuses the workflow may show between `a` and `b` (WF-STATUS-1).
    fn statuses(&self, a: f64, b: f64, grace: f64) -> Vec<&'static str> {
        let each = self.job_statuses(a, b, grace);
        let mut out = Vec::new();
        if each.iter().all(|s| s.contains(&"PENDING")) {
            out.push("PENDING");
        }
        let active = each.iter().any(|s| s.iter().any(|x| !FINAL.contains(x)));
        let ran = each.iter().any(|s| s.iter().any(|x| STARTED.contains(x)));
        if active && ran {
            out.push("RUNNING");
        }
        if each
            .iter()
            .zip(&self.jobs)
            .all(|(s, j)| s.contains(&j.outcome))
        {
            out.push(self.final_status());
        }
        out
    }
}

/// Judges `answer` to the workflow call `call`, sent at `a` and answered at
/// `b`, and moves the model to the state it shows.
pub fn check(
    wfs: &mut Vec<Wf>,
    grace: f64,
    call: &WfCall,
    a: f64,
    b: f64,
    answer: &Answer,
) -> Verdict {
    match call {
        WfCall::Run {
            shape,
            fail,
            tag,
            marker,
            ..
        } => run(wfs, *shape, &defs(*shape, *fail, tag, marker), a, b, answer),
        WfCall::Status(id) => match (known(id, answer, "WF-STATUS-2"), answer) {
            (Some(v), _) => v,
            (None, Answer::Wf(WfAnswer::Status(Some(info), rows))) => {
                let w = &mut wfs[id.wf.unwrap_or_default()];
                let mut v = judge_rows(w, rows, a, b, grace, "WF-STATUS-2");
                if v.is_pass() {
                    v = judge_info(w, info, rows, a, b, grace).with_ids(&v.ids);
                }
                if v.is_pass() {
                    learn(w, rows, b);
                }
                v
            }
            _ => Verdict::fail(&["WF-STATUS-2"], "OK with the workflow and its jobs"),
        },
        WfCall::Jobs(id) => match (known(id, answer, "WF-JOBS-1"), answer) {
            (Some(v), _) => v,
            (None, Answer::Wf(WfAnswer::Jobs(rows))) => {
                let w = &mut wfs[id.wf.unwrap_or_default()];
                let mut v = judge_rows(w, rows, a, b, grace, "WF-JOBS-1");
                if v.is_pass() {
                    v.state = Some(w.statuses(a, b, grace).join("|"));
                    learn(w, rows, b);
                }
                v
            }
            _ => Verdict::fail(&["WF-JOBS-1"], "OK with the workflow's jobs"),
        },
        WfCall::List(all, _) => list(wfs, grace, *all, a, b, answer),
        WfCall::JobStatus { wf, job, uuid } => {
            let Answer::Status(view) = answer else {
                return Verdict::fail(
                    &["WF-EXEC-1", "JOB-STATUS-1"],
                    "OK with the workflow job's status",
                );
            };
            judge_views(
                wfs,
                grace,
                &[(*wf, *job, uuid.clone())],
                std::slice::from_ref(view),
                a,
                b,
            )
            .with_ids(&["JOB-STATUS-1"])
        }
        WfCall::ListJobs(started) => {
            let Answer::Jobs(views) = answer else {
                return Verdict::fail(&["WF-EXEC-1", "JOB-LIST-1"], "OK with every job");
            };
            judge_views(wfs, grace, started, views, a, b).with_ids(&["JOB-LIST-1"])
        }
    }
}

/// An unknown workflow: NOT_FOUND (WF-STATUS-2, ALL-2).
fn known(id: &WfId, answer: &Answer, rule: &'static str) -> Option<Verdict> {
    if id.wf.is_some() {
        return None;
    }
    let mut v = checks::error_code(answer, &[Code::NotFound], &[rule, "ALL-2"], "an unknown ID");
    v.state = Some("UNKNOWN ID".into());
    Some(v)
}

fn run(wfs: &mut Vec<Wf>, shape: Shape, defs: &[Def], a: f64, b: f64, answer: &Answer) -> Verdict {
    if shape == Shape::MissingUpload {
        // WF-RUN-2: INVALID_ARGUMENT naming the problem; nothing starts.
        return match answer {
            Answer::Error(Code::InvalidArgument, msg) if msg.contains("in.txt") => {
                Verdict::pass(&["WF-RUN-2"])
            }
            _ => Verdict::fail(
                &["WF-RUN-2"],
                "INVALID_ARGUMENT naming in.txt (an upload missing from workflowFiles)",
            ),
        };
    }
    let ids: &[&'static str] = if shape == Shape::ListForm {
        &["WF-RUN-1", "WF-YAML-1"]
    } else {
        &["WF-RUN-1"]
    };
    match answer {
        Answer::Wf(WfAnswer::Run(uuid, status))
            if status == "STARTED" && checks::is_v4_uuid(uuid) =>
        {
            wfs.push(Wf::new(uuid.clone(), defs, a, b));
            let mut v = Verdict::pass(ids);
            v.state = Some(format!("{shape:?}"));
            v
        }
        _ => Verdict::fail(ids, "OK {workflowUuid: a v4 UUID, status STARTED}"),
    }
}

fn rule_of(job: &WfJob) -> &'static str {
    if job.outcome == "CANCELED" {
        "WF-EXEC-2"
    } else {
        "WF-EXEC-1"
    }
}

/// The jobs of `w` as GetWorkflowStatus or GetWorkflowJobs show them.
fn judge_rows(w: &Wf, rows: &[Row], a: f64, b: f64, grace: f64, rule: &'static str) -> Verdict {
    let want: BTreeSet<&str> = w.jobs.iter().map(|j| j.name.as_str()).collect();
    let got: BTreeSet<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    if rows.len() != w.jobs.len() || got != want {
        return Verdict::fail(&[rule], &format!("the workflow's jobs {want:?}"));
    }
    let allowed = w.job_statuses(a, b, grace);
    for r in rows {
        let Some(j) = w.jobs.iter().position(|j| j.name == r.name) else {
            continue;
        };
        let job = &w.jobs[j];
        if !allowed[j].contains(&r.status.as_str()) {
            return Verdict::fail(
                &[rule_of(job), rule],
                &format!("job {} one of {:?}", r.name, allowed[j]),
            );
        }
        let started = STARTED.contains(&r.status.as_str());
        let uuid_ok = if started {
            checks::is_v4_uuid(&r.uuid) && job.uuid.as_ref().is_none_or(|u| *u == r.uuid)
        } else {
            r.uuid.is_empty()
        };
        if !uuid_ok {
            let what = match (&job.uuid, started) {
                (_, false) => "\"\" (not started)".to_owned(),
                (Some(u), true) => u.clone(),
                (None, true) => "a v4 UUID".to_owned(),
            };
            return Verdict::fail(&[rule], &format!("job {} jobUuid {what}", r.name));
        }
        let mut deps: Vec<&str> = r.deps.iter().map(String::as_str).collect();
        deps.sort_unstable();
        let mut want: Vec<&str> = job
            .requires
            .iter()
            .map(|(d, _)| w.jobs[*d].name.as_str())
            .collect();
        want.sort_unstable();
        if deps != want {
            return Verdict::fail(
                &["WF-STATUS-2", rule],
                &format!("job {} dependencies {want:?}", r.name),
            );
        }
    }
    let mut v = Verdict::pass(&[rule, "WF-EXEC-1"]);
    if w.jobs.iter().any(|j| j.outcome == "CANCELED") {
        v = v.with_ids(&["WF-EXEC-2"]);
    }
    v
}

/// The workflow's fields as GetWorkflowStatus shows them with `rows`.
fn judge_info(w: &Wf, info: &Info, rows: &[Row], a: f64, b: f64, grace: f64) -> Verdict {
    let count = |s: &[&str]| {
        rows.iter()
            .filter(|r| s.contains(&r.status.as_str()))
            .count() as i32
    };
    let counters = (
        w.jobs.len() as i32,
        count(&["COMPLETED"]),
        count(&["FAILED", "STOPPED"]),
        count(&["CANCELED"]),
    );
    if info.uuid != w.uuid || info.counters != counters {
        let (t, c, f, k) = counters;
        return Verdict::fail(
            &["WF-STATUS-2"],
            &format!(
                "uuid {}, totalJobs {t}, completedJobs {c}, failedJobs {f}, canceledJobs {k}",
                w.uuid
            ),
        );
    }
    let allowed = w.statuses(a, b, grace);
    // The status agrees with the jobs shown with it.
    let shown: &[&str] = if rows.iter().all(|r| FINAL.contains(&r.status.as_str())) {
        if rows.iter().all(|r| r.status == "COMPLETED") {
            &["COMPLETED"]
        } else {
            &["FAILED"]
        }
    } else if rows.iter().all(|r| r.status == "PENDING") {
        &["PENDING"]
    } else {
        &["RUNNING"]
    };
    let ok: Vec<&str> = allowed
        .iter()
        .copied()
        .filter(|s| shown.contains(s))
        .collect();
    if !ok.contains(&info.status.as_str()) {
        return Verdict::fail(
            &["WF-STATUS-1"],
            &format!("status one of {ok:?} (its jobs: {shown:?}; by time: {allowed:?})"),
        );
    }
    let mut v = Verdict::pass(&["WF-STATUS-1", "WF-STATUS-2"]);
    v.state = Some(info.status.clone());
    v
}

fn learn(w: &mut Wf, rows: &[Row], b: f64) {
    for r in rows {
        let Some(job) = w.jobs.iter_mut().find(|j| j.name == r.name) else {
            continue;
        };
        if STARTED.contains(&r.status.as_str()) {
            job.seen_started.get_or_insert(b);
            if !r.uuid.is_empty() {
                job.uuid = Some(r.uuid.clone());
            }
        }
        if FINAL.contains(&r.status.as_str()) {
            job.seen_final.get_or_insert(b);
        }
    }
}

/// ListWorkflows (WF-LIST-1): `true` lists every workflow of the run,
/// `false` the PENDING and RUNNING ones.
fn list(wfs: &[Wf], grace: f64, all: bool, a: f64, b: f64, answer: &Answer) -> Verdict {
    let Answer::Wf(WfAnswer::List(infos)) = answer else {
        return Verdict::fail(&["WF-LIST-1"], "OK with the workflows");
    };
    for w in wfs {
        let allowed = w.statuses(a, b, grace);
        let active: Vec<&str> = allowed
            .iter()
            .copied()
            .filter(|s| matches!(*s, "PENDING" | "RUNNING"))
            .collect();
        let listed = infos.iter().find(|i| i.uuid == w.uuid);
        match listed {
            None if all || active.len() == allowed.len() => {
                return Verdict::fail(&["WF-LIST-1"], &format!("workflow {} listed", w.uuid));
            }
            None => {}
            Some(i) => {
                let ok = if all { &allowed } else { &active };
                if !ok.contains(&i.status.as_str()) {
                    let what = if all {
                        format!("workflow {} with status one of {ok:?}", w.uuid)
                    } else {
                        format!(
                            "workflow {} not listed, or listed PENDING or RUNNING (may be {allowed:?})",
                            w.uuid
                        )
                    };
                    return Verdict::fail(&["WF-LIST-1", "WF-STATUS-1"], &what);
                }
            }
        }
    }
    Verdict::pass(&["WF-LIST-1"])
}

/// Workflow jobs as GetJobStatus or ListJobs show them: every started job
/// the model knows is there, with a status it may have (WF-EXEC-1).
fn judge_views(
    wfs: &mut [Wf],
    grace: f64,
    started: &[(usize, usize, String)],
    views: &[JobView],
    a: f64,
    b: f64,
) -> Verdict {
    for (w, j, uuid) in started {
        let wf = &wfs[*w];
        let allowed: Vec<&str> = wf.job_statuses(a, b, grace)[*j]
            .iter()
            .copied()
            .filter(|s| STARTED.contains(s))
            .collect();
        let name = &wf.jobs[*j].name;
        let Some(v) = views.iter().find(|v| &v.uuid == uuid) else {
            return Verdict::fail(
                &["WF-EXEC-1"],
                &format!("workflow job {name} ({uuid}) shown, as every job"),
            );
        };
        if !allowed.contains(&v.status.as_str()) {
            return Verdict::fail(
                &["WF-EXEC-1"],
                &format!("workflow job {name} with status one of {allowed:?}"),
            );
        }
        let job = &mut wfs[*w].jobs[*j];
        if FINAL.contains(&v.status.as_str()) {
            job.seen_final.get_or_insert(b);
        }
    }
    Verdict::pass(&["WF-EXEC-1"])
}

#[cfg(test)]
mod tests {
    use super::*;

    const WF: &str = "3f2a1c4e-0d9b-4c1a-8e2f-1a2b3c4d5e6f";

    fn row(w: &Wf, j: usize, status: &str, uuid: &str) -> Row {
        Row {
            uuid: uuid.into(),
            name: w.jobs[j].name.clone(),
            status: status.into(),
            deps: w.jobs[j]
                .requires
                .iter()
                .map(|(d, _)| w.jobs[*d].name.clone())
                .collect(),
        }
    }

    #[test]
    fn explore_wf_exec_2_wf_status_1_dependents_of_a_failed_job_are_canceled_and_it_ends_failed() {
        let w = Wf::new(WF.into(), &defs(Shape::FailDeps, false, "t", "m"), 0.0, 1.0);
        let outcomes: Vec<&str> = w.jobs.iter().map(|j| j.outcome).collect();
        assert_eq!(
            outcomes,
            ["FAILED", "CANCELED", "CANCELED", "COMPLETED", "COMPLETED"]
        );
        // Long after: only the final statuses, the workflow FAILED.
        assert_eq!(w.statuses(10_000.0, 10_001.0, 300.0), ["FAILED"]);
        // At once: a dependent that must be canceled never runs.
        let now = w.job_statuses(0.5, 0.6, 300.0);
        assert!(!now[1].contains(&"RUNNING"), "{now:?}");
        assert!(now[1].contains(&"PENDING") && now[1].contains(&"CANCELED"));
    }

    #[test]
    fn explore_wf_status_2_counters_and_status_agree_with_the_jobs_shown() {
        let mut w = Wf::new(WF.into(), &defs(Shape::Chain, true, "t", "m"), 0.0, 1.0);
        let u = "4f2a1c4e-0d9b-4c1a-8e2f-1a2b3c4d5e6f";
        let v = "5f2a1c4e-0d9b-4c1a-8e2f-1a2b3c4d5e6f";
        let rows = vec![
            row(&w, 0, "COMPLETED", u),
            row(&w, 1, "FAILED", v),
            row(&w, 2, "CANCELED", ""),
        ];
        assert!(judge_rows(&w, &rows, 5_000.0, 5_001.0, 300.0, "WF-STATUS-2").is_pass());
        let mut info = Info {
            uuid: WF.into(),
            status: "FAILED".into(),
            counters: (3, 1, 1, 1),
        };
        assert!(judge_info(&w, &info, &rows, 5_000.0, 5_001.0, 300.0).is_pass());
        info.counters.1 = 0;
        assert!(!judge_info(&w, &info, &rows, 5_000.0, 5_001.0, 300.0).is_pass());
        info.counters.1 = 1;
        info.status = "COMPLETED".into();
        assert!(!judge_info(&w, &info, &rows, 5_000.0, 5_001.0, 300.0).is_pass());
        // A canceled job with a UUID ran: refused.
        let mut bad = rows.clone();
        bad[2].uuid = u.into();
        assert!(!judge_rows(&w, &bad, 5_000.0, 5_001.0, 300.0, "WF-STATUS-2").is_pass());
        learn(&mut w, &rows, 5_001.0);
        assert_eq!(w.jobs[0].uuid.as_deref(), Some(u));
    }

    #[test]
    fn explore_wf_list_1_finished_workflows_only_with_include_completed() {
        let m = vec![Wf::new(
            WF.into(),
            &defs(Shape::Chain, false, "t", "m"),
            0.0,
            1.0,
        )];
        let listed = |status: &str| {
            Answer::Wf(WfAnswer::List(vec![Info {
                uuid: WF.into(),
                status: status.into(),
                counters: (3, 3, 0, 0),
            }]))
        };
        let none = Answer::Wf(WfAnswer::List(vec![]));
        // Long after the run: COMPLETED, listed with includeCompleted only.
        assert!(list(&m, 300.0, true, 9_000.0, 9_001.0, &listed("COMPLETED")).is_pass());
        assert!(!list(&m, 300.0, true, 9_000.0, 9_001.0, &none).is_pass());
        assert!(list(&m, 300.0, false, 9_000.0, 9_001.0, &none).is_pass());
        assert!(!list(&m, 300.0, false, 9_000.0, 9_001.0, &listed("COMPLETED")).is_pass());
        // At once: it may still run, listed or not.
        assert!(list(&m, 300.0, false, 0.5, 0.6, &listed("RUNNING")).is_pass());
        assert!(list(&m, 300.0, false, 0.5, 0.6, &none).is_pass());
    }
}
