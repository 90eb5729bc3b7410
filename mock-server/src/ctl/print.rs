//! What `ctl` prints: the clock, memory figures, sizes and plurals.

use joblet_testkit::control as pb;

pub(crate) fn clock_line(c: &pb::ClockResponse) -> String {
    format!(
        "{}  ({} clock, {} timer{} pending)",
        c.now,
        c.mode,
        c.pending_timers,
        plural(c.pending_timers)
    )
}

/// The clock as `ctl` prints it: JSON with `--json`, else a line.
pub(crate) fn clock_text(c: &pb::ClockResponse, json: bool) -> String {
    if json { clock_json(c) } else { clock_line(c) }
}

pub(crate) fn clock_json(c: &pb::ClockResponse) -> String {
    serde_json::json!({
        "now": c.now,
        "now_unix_ms": c.now_unix_ms,
        "mode": c.mode,
        "pending_timers": c.pending_timers,
    })
    .to_string()
}

pub(crate) fn label(session: &str) -> &str {
    crate::session::label(session)
}

pub(crate) fn format_size(bytes: u64) -> String {
    crate::budget::format_size(bytes)
}

/// GetMemory as `ctl memory` prints it.
pub fn memory_text(r: &pb::MemoryResponse) -> String {
    let mut text = format!(
        "budget    {} ({} bytes, whole mock){}\n",
        format_size(r.budget_bytes),
        r.budget_bytes,
        if r.pressed {
            "; PRESSED: only running and scheduled jobs left, RunJob is refused"
        } else {
            ""
        }
    );
    text += &format!(
        "used      {} ({:.1}% of the budget): job records {}, log history {}\n",
        format_size(r.used_bytes),
        r.used_bytes as f64 * 100.0 / r.budget_bytes.max(1) as f64,
        format_size(r.record_bytes),
        format_size(r.log_bytes)
    );
    if r.resident_bytes > 0 {
        text += &format!(
            "resident  {} (the process)\n",
            format_size(r.resident_bytes)
        );
    }
    text += &format!(
        "max jobs  {} per session\n",
        if r.max_jobs == 0 {
            "no cap".to_owned()
        } else {
            r.max_jobs.to_string()
        }
    );
    text += &format!(
        "evicted   {} finished log{} ({}), {} finished job record{}\n",
        r.evicted_logs,
        plural(r.evicted_logs),
        format_size(r.evicted_log_bytes),
        r.evicted_records,
        plural(r.evicted_records)
    );
    text += &format!(
        "refused   {} RunJob call{}\n",
        r.refused_run_jobs,
        plural(r.refused_run_jobs)
    );
    let width = r
        .sessions
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0)
        .max(7);
    text += &format!(
        "{:width$}  {:>8}  {:>10}  {:>10}  {:>8}\n",
        "SESSION", "JOBS", "RECORDS", "LOGS", "EVICTED"
    );
    for s in &r.sessions {
        text += &format!(
            "{:width$}  {:>8}  {:>10}  {:>10}  {:>8}\n",
            s.name,
            s.jobs,
            format_size(s.record_bytes),
            format_size(s.log_bytes),
            s.evicted_records
        );
    }
    text
}

/// GetMemory as `ctl memory --json` prints it.
pub fn memory_json(r: &pb::MemoryResponse) -> String {
    let sessions: Vec<serde_json::Value> = r
        .sessions
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name,
                "jobs": s.jobs,
                "record_bytes": s.record_bytes,
                "log_bytes": s.log_bytes,
                "evicted_records": s.evicted_records,
            })
        })
        .collect();
    serde_json::json!({
        "budget_bytes": r.budget_bytes,
        "used_bytes": r.used_bytes,
        "record_bytes": r.record_bytes,
        "log_bytes": r.log_bytes,
        "resident_bytes": r.resident_bytes,
        "max_jobs": r.max_jobs,
        "evicted_logs": r.evicted_logs,
        "evicted_log_bytes": r.evicted_log_bytes,
        "evicted_records": r.evicted_records,
        "refused_run_jobs": r.refused_run_jobs,
        "pressed": r.pressed,
        "sessions": sessions,
    })
    .to_string()
}

/// `s` unless `n` is 1.
pub(crate) fn plural<N: PartialEq + From<u8>>(n: N) -> &'static str {
    if n == N::from(1) { "" } else { "s" }
}
