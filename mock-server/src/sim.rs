//! Job simulation: the [`joblet_sim`] crate (builtins, `sh -c` scripts,
//! scenario files) wired to the mock. A job's output goes to its
//! [`LogWriter`] and its waits and `date` go through the session's [`Clock`],
//! both statically dispatched through the [`joblet_sim::Output`] and
//! [`joblet_sim::Clock`] impls below. The rest of the mock names the
//! simulator's types through this module.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use crate::clock::Clock;
use crate::logs::LogWriter;

pub use joblet_sim::{
    FileOperation, FileWrite, Observer, Plan, ProcessStart, Resources, Scenario, ScenarioError,
    Simulator, UnknownCommand, UploadedFile, job_environment, load_scenarios, parse_scenarios,
    program_binary,
};

/// What a simulated job sees of its node, on the session's [`Clock`].
pub type ExecContext = joblet_sim::ExecContext<Clock>;

impl joblet_sim::Output for LogWriter {
    fn write(&mut self, data: Bytes) -> impl Future<Output = ()> + Send {
        LogWriter::write(self, data)
    }

    fn is_closed(&self) -> bool {
        self.buffer().is_closed()
    }
}

impl joblet_sim::Clock for Clock {
    fn now_ms(&self) -> i64 {
        Clock::now_ms(self)
    }

    fn monotonic_ms(&self) -> i64 {
        Clock::monotonic_ms(self)
    }

    fn job_sleep(&self, d: Duration) -> impl Future<Output = ()> + Send + use<> {
        Clock::job_sleep(self, d)
    }

    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send + use<> {
        Clock::sleep(self, d)
    }
}

#[cfg(test)]
mod tests {
    // The simulator writing to the mock's job log and waiting on its clock:
    // live streaming, bounded memory with a slow reader, cancellation, and
    // virtual time.

    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::logs::LogBuffer;

    fn ctx() -> ExecContext {
        ExecContext {
            work_dir: "/work".into(),
            job_id: "job-1".into(),
            ..ExecContext::default()
        }
    }

    /// Runs with a concurrent reader; returns the total bytes read, a checksum of
    /// them (count of each byte value) and the exit code.
    async fn run_streamed(
        cmd: &str,
        args: &[&str],
        retention: usize,
    ) -> (u64, [u64; 256], i32, u64) {
        let log = LogBuffer::new(retention);
        let mut reader = log.reader();
        let reading = tokio::spawn(async move {
            let mut total = 0u64;
            let mut hist = [0u64; 256];
            let mut max_piece = 0u64;
            while let Some(b) = reader.next().await {
                total += b.len() as u64;
                max_piece = max_piece.max(b.len() as u64);
                if total <= 64 << 20 {
                    for &x in b.iter() {
                        hist[x as usize] += 1;
                    }
                }
            }
            (total, hist, max_piece)
        });
        let sim = Simulator::default();
        let mut w = log.writer();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let code = sim.run(cmd, &args, &ctx(), &mut w).await;
        assert!(log.retained_bytes() <= retention as u64 + 256 * 1024);
        log.close();
        let (total, hist, max_piece) = reading.await.unwrap();
        (total, hist, code, max_piece)
    }

    #[tokio::test]
    async fn gigabyte_of_zeros_streams_in_bounded_memory() {
        let (total, hist, code, max_piece) =
            run_streamed("head", &["-c", "1073741824", "/dev/zero"], 4 << 20).await;
        assert_eq!(code, 0);
        assert_eq!(total, 1 << 30);
        assert_eq!(hist[0], 64 << 20);
        assert!(max_piece <= 256 * 1024);
    }

    #[tokio::test]
    async fn ten_million_yes_lines_stream() {
        let (total, hist, code, _) =
            run_streamed("bash", &["-c", "yes | head -n 10000000"], 4 << 20).await;
        assert_eq!(code, 0);
        assert_eq!(total, 20_000_000);
        assert_eq!(hist[b'y' as usize], 10_000_000);
        assert_eq!(hist[b'\n' as usize], 10_000_000);
    }

    /// The Python SDK's streaming example: 601 lines, streamed live.
    #[tokio::test(start_paused = true)]
    async fn sdk_streaming_example() {
        let script = "\n    for i in $(seq 1 600); do\n        echo \"Counter: $i - Time: $(date +%H:%M:%S.%3N)\"\n        sleep 0.1\n    done\n    echo \"Completed 60 seconds of counting!\"\n    ";
        let log = LogBuffer::new(1 << 20);
        let mut reader = log.reader();
        let start = tokio::time::Instant::now();
        let reading = tokio::spawn(async move {
            let mut lines: Vec<(String, Duration)> = Vec::new();
            let mut partial = String::new();
            while let Some(b) = reader.next().await {
                let at = start.elapsed();
                partial.push_str(&String::from_utf8_lossy(&b));
                while let Some(pos) = partial.find('\n') {
                    let line: String = partial.drain(..=pos).collect();
                    lines.push((line.trim_end().to_owned(), at));
                }
            }
            lines
        });
        let sim = Simulator::default();
        let mut w = log.writer();
        let code = sim
            .run(
                "bash",
                &["-c".to_owned(), script.to_owned()],
                &ctx(),
                &mut w,
            )
            .await;
        log.close();
        let lines = reading.await.unwrap();
        assert_eq!(code, 0);
        assert_eq!(lines.len(), 601);
        for (i, (line, at)) in lines.iter().take(600).enumerate() {
            let prefix = format!("Counter: {} - Time: ", i + 1);
            assert!(line.starts_with(&prefix), "{line}");
            let t = &line[prefix.len()..];
            let b = t.as_bytes();
            assert_eq!(t.len(), 12, "{line}");
            assert!(
                b[2] == b':'
                    && b[5] == b':'
                    && b[8] == b'.'
                    && t.chars().filter(char::is_ascii_digit).count() == 9,
                "{line}"
            );
            // Produced at i * 100 ms; seen within 100 ms.
            let produced = Duration::from_millis(100 * i as u64);
            assert!(
                *at >= produced && *at < produced + Duration::from_millis(100),
                "line {i} at {at:?}"
            );
        }
        assert_eq!(lines[600].0, "Completed 60 seconds of counting!");
        assert_eq!(start.elapsed(), Duration::from_secs(60));
    }

    /// Output of a busy script (no sleeps) still streams while it runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn busy_scripts_stream() {
        let log = LogBuffer::new(1 << 20);
        let mut reader = log.reader();
        let watcher = Arc::clone(&log);
        let first = tokio::spawn(async move {
            let piece = reader.next().await;
            (piece, watcher.is_closed())
        });
        let sim = Simulator::default();
        let mut w = log.writer();
        let script = "echo start; i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; echo end";
        let started = std::time::Instant::now();
        let code = sim
            .run(
                "bash",
                &["-c".to_owned(), script.to_owned()],
                &ctx(),
                &mut w,
            )
            .await;
        let took = started.elapsed();
        log.close();
        let (piece, closed_then) = first.await.unwrap();
        assert_eq!(code, 0);
        assert_eq!(piece.as_deref(), Some(&b"start\n"[..]));
        if took > Duration::from_millis(200) {
            assert!(
                !closed_then,
                "`start` was only seen after the job ended ({took:?})"
            );
        }
    }

    #[tokio::test]
    async fn cancel_safe() {
        let log = LogBuffer::new(1 << 16);
        let sim = Simulator::default();
        let c = ctx();
        for (cmd, args) in [
            ("sleep", vec!["1000"]),
            ("yes", vec![]),
            ("bash", vec!["-c", "while true; do :; done"]),
            ("bash", vec!["-c", "yes > /dev/null"]),
            ("cat", vec!["/dev/zero"]),
        ] {
            let mut w = log.writer();
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            let r =
                tokio::time::timeout(Duration::from_millis(50), sim.run(cmd, &args, &c, &mut w))
                    .await;
            assert!(r.is_err(), "{cmd} should still run");
        }
    }

    #[test]
    fn run_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let sim = Simulator::default();
        let c = ctx();
        let log = LogBuffer::new(1024);
        let mut w = log.writer();
        let args = Vec::new();
        let fut = sim.run("echo", &args, &c, &mut w);
        assert_send(&fut);
    }

    /// `sleep` waits on a virtual clock (which skips ahead while the job sleeps)
    /// and `date` reads it; `timeout`'s limit is a timer of the same clock.
    #[tokio::test]
    async fn virtual_clock_sleeps_and_dates() {
        let clock = Clock::virtual_at(0, true);
        let ctx = ExecContext {
            clock: clock.clone(),
            ..ctx()
        };
        let sim = Simulator::default();
        let script = "sleep 3600; date -u +%s; timeout 5 sleep 10; echo $?; date -u +%s";
        let log = LogBuffer::new(1 << 20);
        let mut w = log.writer();
        let activity = clock.activity();
        let started = std::time::Instant::now();
        let code = sim
            .run("bash", &["-c".to_owned(), script.to_owned()], &ctx, &mut w)
            .await;
        drop(activity);
        log.close();
        assert_eq!(code, 0);
        assert_eq!(&log.snapshot()[..], b"3600\n124\n3605\n");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
