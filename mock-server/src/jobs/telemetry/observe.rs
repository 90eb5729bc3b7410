//! The simulator's observer of a job (JOB-TELEM-1): every process its
//! simulated command starts and every file it writes becomes an event of the
//! job's telematics history, timestamped on the session clock.

use std::sync::Arc;

use crate::clock::Clock;
use crate::job_telemetry::{EventKind, Telemetry};
use crate::sim::{FileWrite, Observer, ProcessStart};

/// Most processes whose exit is awaited at once; beyond it the oldest is
/// forgotten (its exec event keeps exit code 0). Processes cut short never
/// exit, so the list must not grow with them.
const MAX_OPEN: usize = 256;

/// Records a job's processes and file writes in its [`Telemetry`].
#[derive(Debug)]
pub struct TelemetryObserver {
    telemetry: Arc<Telemetry>,
    clock: Clock,
    /// The first start is the job's own command, which the record already
    /// knows from the job (see `crate::job_telemetry`).
    seen_own: bool,
    /// Processes started and not ended: (pid, position of their exec event).
    open: Vec<(u32, u64)>,
}

impl TelemetryObserver {
    /// An observer recording into `telemetry`, timestamping with `clock`.
    pub fn new(telemetry: Arc<Telemetry>, clock: Clock) -> Self {
        Self {
            telemetry,
            clock,
            seen_own: false,
            open: Vec::new(),
        }
    }
}

impl Observer for TelemetryObserver {
    fn process_started(&mut self, process: &ProcessStart<'_>) {
        if !std::mem::replace(&mut self.seen_own, true) {
            return;
        }
        let position = self.telemetry.record(
            self.clock.now_ms(),
            EventKind::Exec {
                pid: process.pid,
                ppid: process.ppid,
                binary: process.binary(),
                args: process.args().to_vec(),
                exit_code: 0,
            },
        );
        if self.open.len() >= MAX_OPEN {
            self.open.remove(0);
        }
        self.open.push((process.pid, position));
    }

    fn process_exited(&mut self, pid: u32, status: i32) {
        // A process replaced by `exec` has several exec events: each ends now.
        let telemetry = &self.telemetry;
        self.open.retain(|&(p, position)| {
            if p == pid {
                telemetry.set_exit_code(position, status);
            }
            p != pid
        });
    }

    fn file_written(&mut self, write: &FileWrite<'_>) {
        self.telemetry.record(
            self.clock.now_ms(),
            EventKind::File {
                pid: write.pid,
                path: write.path.to_owned(),
                operation: write.operation,
                bytes: write.bytes,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job_telemetry::Event;
    use crate::sim::FileOperation;

    #[test]
    fn events_follow_the_processes_and_files() {
        let clock = Clock::virtual_at(1_000, false);
        let telemetry = Telemetry::new();
        telemetry.running(1_000, 0);
        let mut o = TelemetryObserver::new(Arc::clone(&telemetry), clock);
        let argv = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let (sh, env, sleep) = (
            argv(&["sh", "-c", "x"]),
            argv(&["env", "sleep", "1"]),
            argv(&["sleep", "1"]),
        );
        fn start(pid: u32, ppid: u32, argv: &[String]) -> ProcessStart<'_> {
            ProcessStart {
                pid,
                ppid,
                argv,
                cwd: "/work",
            }
        }
        o.process_started(&start(1, 0, &sh));
        o.process_started(&start(2, 1, &env));
        o.process_started(&start(2, 1, &sleep));
        o.process_exited(2, 3);
        o.file_written(&FileWrite {
            pid: 1,
            path: "/work/out",
            operation: FileOperation::Write,
            bytes: 4,
        });
        o.process_exited(1, 0);
        let kinds: Vec<EventKind> = telemetry
            .events()
            .into_iter()
            .map(|e: Event| e.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                EventKind::Exec {
                    pid: 2,
                    ppid: 1,
                    binary: "/usr/bin/env".into(),
                    args: vec!["sleep".into(), "1".into()],
                    exit_code: 3
                },
                EventKind::Exec {
                    pid: 2,
                    ppid: 1,
                    binary: "/usr/bin/sleep".into(),
                    args: vec!["1".into()],
                    exit_code: 3
                },
                EventKind::File {
                    pid: 1,
                    path: "/work/out".into(),
                    operation: FileOperation::Write,
                    bytes: 4
                },
            ]
        );
        assert!(o.open.is_empty());
    }

    #[test]
    fn processes_that_never_exit_are_forgotten_past_a_bound() {
        let telemetry = Telemetry::new();
        let mut o = TelemetryObserver::new(telemetry, Clock::virtual_at(0, false));
        let argv = vec!["sleep".to_owned()];
        for pid in 1..=(MAX_OPEN as u32 + 10) {
            o.process_started(&ProcessStart {
                pid,
                ppid: 1,
                argv: &argv,
                cwd: "/",
            });
        }
        assert_eq!(o.open.len(), MAX_OPEN);
    }
}
