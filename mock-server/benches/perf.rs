//! Performance report of the `joblet-mock` binary (run with `ci/bench`, or
//! `cargo bench -p joblet-mock --bench perf`).
//!
//! Every figure is taken against the release binary started as a child process on
//! an ephemeral loopback port, driven by tonic clients from this process:
//!
//! - `startup`: time from exec to the first answered RPC (ListNetworks), median of runs;
//! - `unary`: RunJob requests/s with 64 in flight (in the v1 message, and in the
//!   v2 message with a `timeout` through a v2 client), against the same server's
//!   cheapest unary RPC (ListNetworks on an empty state) as the framework baseline;
//! - `logs`: GetJobLogs MB/s for one reader of `head -c 1073741824 /dev/zero`,
//!   and the server's peak memory meanwhile;
//! - `slow_readers`: the server's peak memory with 100 slow readers of that job;
//! - `finished_jobs`: memory held per finished job, over 100k jobs;
//! - `virtual_clock`: wall time, under `--clock virtual`, for a job scheduled an
//!   hour ahead plus a workflow of long sleeps (10 min, then 5 min) to complete.
//! - `budget_runjob`: resident memory (VmRSS of the child) after 1,000,000
//!   RunJob calls at 64 in flight with the default flags (2 GiB budget,
//!   `--max-jobs 100000`), and their throughput (issue #11);
//! - `budget_records`: the same with `--max-jobs 0 --memory-budget 256MiB`,
//!   so that the budget alone evicts finished records;
//! - `budget_logs`: resident memory after 200 jobs each writing 64 MiB of
//!   non-repeating text (`seq` of distinct 10-digit numbers), each log read
//!   once through GetJobLogs (issue #11: below the budget plus 10 %).
//!
//! `JOBLET_BENCH_BIN=/path/to/joblet-mock` measures another build of the
//! binary (for before/after comparisons); `JOBLET_BENCH_ARGS` adds flags to
//! every mock started.
//!
//! Goals (issue #3): RunJob >= 0.8 × baseline; >= 1 GB/s; < 2 KiB per finished
//! job; ready in < 20 ms; and (issue #2) < 200 MiB while streaming 1 GiB.
//! Pass `quick` to run smaller counts (used by `ci/bench --quick`).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use joblet_testkit::pb;
use joblet_testkit::pb::job_service_client::JobServiceClient;
use joblet_testkit::pb::network_service_client::NetworkServiceClient;
use tonic::transport::Channel;

const BIN: &str = env!("CARGO_BIN_EXE_joblet-mock");
const GIB: u64 = 1 << 30;

/// The binary measured: `JOBLET_BENCH_BIN`, else this build's.
fn bin() -> String {
    std::env::var("JOBLET_BENCH_BIN").unwrap_or_else(|_| BIN.to_owned())
}

/// A `joblet-mock` child process, killed on drop.
struct Mock {
    child: Child,
    addr: SocketAddr,
    spawned: Instant,
}

impl Mock {
    fn start(extra: &[&str]) -> Mock {
        let spawned = Instant::now();
        let more = std::env::var("JOBLET_BENCH_ARGS").unwrap_or_default();
        let mut child = Command::new(bin())
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .args(more.split_whitespace())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("joblet-mock starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("ready line");
        let addr = line
            .trim()
            .rsplit(' ')
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected ready line {line:?}"));
        Mock {
            child,
            addr,
            spawned,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// (VmRSS, VmHWM) of the server in bytes.
    fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .map(|kb| kb * 1024)
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// CPU time (user + system) the server has used so far.
    fn cpu_time(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may contain spaces) start at ") ".
        let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // utime and stime are fields 14 and 15 of /proc/PID/stat (11 and 12 here).
        let hz = 100; // USER_HZ on Linux
        Duration::from_millis((ticks(11) + ticks(12)) * 1000 / hz)
    }

    async fn channels(&self, n: usize) -> Vec<Channel> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(
                Channel::from_shared(self.url())
                    .expect("valid url")
                    .tcp_nodelay(true)
                    .connect()
                    .await
                    .expect("connects"),
            );
        }
        out
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Runs `total` calls of `call` with `in_flight` concurrent workers; returns
/// (requests/s, latency histogram in µs).
async fn drive<F, Fut>(total: usize, in_flight: usize, call: F) -> (f64, Histogram<u64>)
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..in_flight {
        let next = Arc::clone(&next);
        let call = call.clone();
        workers.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).expect("histogram");
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t = Instant::now();
                call(i).await;
                let _ = hist.record(t.elapsed().as_micros() as u64);
            }
            hist
        }));
    }
    let mut hist = Histogram::<u64>::new(3).expect("histogram");
    for w in workers {
        hist.add(w.await.expect("worker")).expect("same bounds");
    }
    (total as f64 / started.elapsed().as_secs_f64(), hist)
}

fn run_request(command: &str, args: &[&str]) -> pb::RunJobRequest {
    pb::RunJobRequest {
        command: command.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

async fn startup(runs: usize) {
    let mut times = Vec::new();
    for _ in 0..runs {
        let mock = Mock::start(&[]);
        let mut client = NetworkServiceClient::connect(mock.url())
            .await
            .expect("connects");
        client
            .list_networks(pb::EmptyRequest {})
            .await
            .expect("answers");
        times.push(mock.spawned.elapsed());
    }
    times.sort();
    println!(
        "startup: exec to first answered RPC: median {:.1} ms (min {:.1}, max {:.1}, {runs} runs) [goal < 20 ms]",
        times[runs / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[runs - 1].as_secs_f64() * 1e3
    );
}

/// One unary RPC of the comparison.
#[derive(Clone, Copy)]
enum Unary {
    ListNetworks,
    RunJobTrue,
    /// RunJob in the v2 message (with a `timeout`), through a v2 client.
    RunJobV2,
}

async fn call_unary(ch: Channel, which: Unary) {
    match which {
        Unary::ListNetworks => {
            NetworkServiceClient::new(ch)
                .list_networks(pb::EmptyRequest {})
                .await
                .expect("ListNetworks");
        }
        Unary::RunJobTrue => {
            JobServiceClient::new(ch)
                .run_job(run_request("true", &[]))
                .await
                .expect("RunJob");
        }
        Unary::RunJobV2 => {
            joblet_testkit::pb::v2::job_service_client::JobServiceClient::new(ch)
                .run_job(joblet_testkit::pb::v2::RunJobRequest {
                    command: "true".into(),
                    timeout: "1m".into(),
                    ..Default::default()
                })
                .await
                .expect("RunJob (v2)");
        }
    }
}

/// RunJob against the ListNetworks baseline. The two alternate in rounds so
/// that drift in the machine's load affects both alike.
async fn unary(total: usize) {
    const ROUNDS: usize = 10;
    let mock = Mock::start(&[]);
    let channels = Arc::new(mock.channels(4).await);
    let phase = |n: usize, which: Unary| {
        let chs = Arc::clone(&channels);
        drive(n, 64, move |i| {
            call_unary(chs[i % chs.len()].clone(), which)
        })
    };
    // Warm up both paths.
    phase(2000, Unary::ListNetworks).await;
    phase(2000, Unary::RunJobTrue).await;
    phase(2000, Unary::RunJobV2).await;
    let mut stats: [(Duration, Duration, Histogram<u64>); 3] = std::array::from_fn(|_| {
        (
            Duration::ZERO,
            Duration::ZERO,
            Histogram::<u64>::new(3).expect("histogram"),
        )
    });
    let per_round = total / ROUNDS;
    for _ in 0..ROUNDS {
        for (k, which) in [Unary::ListNetworks, Unary::RunJobTrue, Unary::RunJobV2]
            .into_iter()
            .enumerate()
        {
            let cpu = mock.cpu_time();
            let started = Instant::now();
            let (_, hist) = phase(per_round, which).await;
            stats[k].0 += started.elapsed();
            stats[k].1 += mock.cpu_time() - cpu;
            stats[k].2.add(hist).expect("same bounds");
        }
    }
    let n = (per_round * ROUNDS) as f64;
    let rate = |k: usize| n / stats[k].0.as_secs_f64();
    let cpu = |k: usize| stats[k].1.as_secs_f64() * 1e6 / n;
    println!(
        "unary: ListNetworks baseline {:.0} req/s (p50 {} µs, p99 {} µs, server CPU {:.1} µs/req), 64 in flight, {} requests in {ROUNDS} rounds",
        rate(0),
        stats[0].2.value_at_quantile(0.5),
        stats[0].2.value_at_quantile(0.99),
        cpu(0),
        per_round * ROUNDS
    );
    println!(
        "unary: RunJob `true` {:.0} req/s (p50 {} µs, p99 {} µs, server CPU {:.1} µs/req), ratio to baseline {:.2} [goal >= 0.80]",
        rate(1),
        stats[1].2.value_at_quantile(0.5),
        stats[1].2.value_at_quantile(0.99),
        cpu(1),
        rate(1) / rate(0)
    );
    println!(
        "unary: RunJob `true` (v2 message, timeout 1m) {:.0} req/s (p50 {} µs, p99 {} µs, server CPU {:.1} µs/req), ratio to baseline {:.2} [goal >= 0.80]",
        rate(2),
        stats[2].2.value_at_quantile(0.5),
        stats[2].2.value_at_quantile(0.99),
        cpu(2),
        rate(2) / rate(0)
    );
}

async fn start_zero_job(ch: Channel, bytes: u64) -> String {
    JobServiceClient::new(ch)
        .run_job(run_request(
            "head",
            &["-c", &bytes.to_string(), "/dev/zero"],
        ))
        .await
        .expect("RunJob")
        .into_inner()
        .job_uuid
}

async fn logs(bytes: u64) {
    let mock = Mock::start(&[]);
    let ch = mock.channels(1).await.remove(0);
    let (rss_before, _) = mock.memory();
    let id = start_zero_job(ch.clone(), bytes).await;
    let started = Instant::now();
    let mut stream = JobServiceClient::new(ch)
        .max_decoding_message_size(usize::MAX)
        .get_job_logs(pb::GetJobLogsReq { uuid: id })
        .await
        .expect("GetJobLogs")
        .into_inner();
    let mut got = 0u64;
    while let Some(chunk) = stream.message().await.expect("stream") {
        got += chunk.payload.len() as u64;
    }
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(got, bytes, "the whole output arrives");
    let (_, peak) = mock.memory();
    println!(
        "logs: one reader of head -c {bytes} /dev/zero: {:.0} MB/s ({:.2} s) [goal >= 1000 MB/s]",
        got as f64 / secs / 1e6,
        secs
    );
    println!(
        "logs: server memory: {:.1} MiB before, peak {:.1} MiB while streaming [goal < 200 MiB]",
        mib(rss_before),
        mib(peak)
    );
}

async fn slow_readers(readers: usize, duration: Duration) {
    let mock = Mock::start(&[]);
    let channels = mock.channels(4).await;
    let (rss_before, _) = mock.memory();
    let id = start_zero_job(channels[0].clone(), GIB).await;
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for i in 0..readers {
        let ch = channels[i % channels.len()].clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            let mut stream = JobServiceClient::new(ch)
                .get_job_logs(pb::GetJobLogsReq { uuid: id })
                .await
                .expect("GetJobLogs")
                .into_inner();
            let mut got = 0u64;
            while Instant::now() < deadline {
                match stream.message().await {
                    Ok(Some(chunk)) => got += chunk.payload.len() as u64,
                    _ => break,
                }
                // A slow reader: 20 ms per message.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            got
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("reader");
    }
    let (_, peak) = mock.memory();
    println!(
        "slow_readers: {readers} readers for {:?} read {:.0} MiB in all; server memory {:.1} MiB before, peak {:.1} MiB",
        duration,
        mib(total),
        mib(rss_before),
        mib(peak)
    );
}

async fn finished_jobs(total: usize) {
    let mock = Mock::start(&[]);
    let channels = Arc::new(mock.channels(4).await);
    // Settle the allocator with a first small batch, then measure.
    let chs = Arc::clone(&channels);
    drive(1000, 64, move |i| {
        let ch = chs[i % chs.len()].clone();
        async move {
            JobServiceClient::new(ch)
                .run_job(run_request("true", &[]))
                .await
                .expect("ok");
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (before, _) = mock.memory();
    let chs = Arc::clone(&channels);
    drive(total, 64, move |i| {
        let ch = chs[i % chs.len()].clone();
        async move {
            JobServiceClient::new(ch)
                .run_job(run_request("true", &[]))
                .await
                .expect("ok");
        }
    })
    .await;
    // Every `true` job ends at once; give the tasks a moment to finish.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (after, _) = mock.memory();
    let per_job = after.saturating_sub(before) as f64 / total as f64;
    println!(
        "finished_jobs: {total} finished jobs hold {:.1} MiB: {per_job:.0} bytes per job [goal < 2048]",
        mib(after.saturating_sub(before))
    );
}

/// Wall time for an hour-ahead schedule and a workflow of long sleeps to finish
/// under the virtual clock (issue #4: well under a second).
async fn virtual_clock(runs: usize) {
    const WORKFLOW: &str = "jobs:\n  long:\n    command: sleep\n    args: [\"600\"]\n  after:\n    command: sh\n    args: [\"-c\", \"sleep 300; echo done\"]\n    requires:\n      - long: COMPLETED\n";
    let mut walls = Vec::with_capacity(runs);
    let mut virtual_secs = 0;
    for _ in 0..runs {
        let mock = Mock::start(&["--clock", "virtual"]);
        let ch = mock.channels(1).await.remove(0);
        let mut jobs = JobServiceClient::new(ch);
        let due = chrono::Local::now() + chrono::Duration::hours(1);
        let started = Instant::now();
        let job = jobs
            .run_job(pb::RunJobRequest {
                command: "echo".into(),
                args: vec!["scheduled".into()],
                schedule: due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ..Default::default()
            })
            .await
            .expect("RunJob")
            .into_inner()
            .job_uuid;
        let wf = jobs
            .run_workflow(pb::RunWorkflowRequest {
                workflow: "sleeps.yaml".into(),
                yaml_content: WORKFLOW.into(),
                ..Default::default()
            })
            .await
            .expect("RunWorkflow")
            .into_inner()
            .workflow_uuid;
        loop {
            let j = jobs
                .get_job_status(pb::GetJobStatusReq { uuid: job.clone() })
                .await
                .expect("GetJobStatus")
                .into_inner();
            let w = jobs
                .get_workflow_status(pb::GetWorkflowStatusRequest {
                    workflow_uuid: wf.clone(),
                })
                .await
                .expect("GetWorkflowStatus")
                .into_inner();
            let info = w.workflow.unwrap_or_default();
            if j.status == "COMPLETED" && info.status == "COMPLETED" {
                let secs = |t: Option<pb::Timestamp>| t.map(|t| t.seconds).unwrap_or(0);
                virtual_secs = secs(info.completed_at) - secs(info.started_at);
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "not done after 30 s: job {} workflow {}",
                j.status,
                info.status
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        walls.push(started.elapsed());
    }
    walls.sort();
    println!(
        "virtual_clock: 1 h schedule + workflow of 900 s sleeps ({virtual_secs} s of virtual time): \
         {:.1} ms wall median of {runs} (max {:.1} ms) [goal well under 1 s]",
        walls[runs / 2].as_secs_f64() * 1e3,
        walls[runs - 1].as_secs_f64() * 1e3
    );
}

/// The mock's own figures (control API GetMemory), when it has them.
async fn budget_figures(mock: &Mock) -> Option<joblet_testkit::control::MemoryResponse> {
    let mut control =
        joblet_testkit::control::mock_control_client::MockControlClient::connect(mock.url())
            .await
            .ok()?;
    control
        .get_memory(joblet_testkit::control::GetMemoryRequest::default())
        .await
        .ok()
        .map(tonic::Response::into_inner)
}

fn budget_line(section: &str, m: Option<joblet_testkit::control::MemoryResponse>) {
    match m {
        Some(m) => println!(
            "{section}: the mock counts {:.1} MiB of {:.0} MiB (records {:.1} MiB, logs {:.1} MiB); \
             evicted {} logs ({:.0} MiB) and {} records; {} jobs held",
            mib(m.used_bytes),
            mib(m.budget_bytes),
            mib(m.record_bytes),
            mib(m.log_bytes),
            m.evicted_logs,
            mib(m.evicted_log_bytes),
            m.evicted_records,
            m.sessions.iter().map(|s| u64::from(s.jobs)).sum::<u64>()
        ),
        None => println!("{section}: no GetMemory on this binary (a build before issue #11)"),
    }
}

/// RunJob `true` `total` times at 64 in flight over 4 connections; then the
/// server's resident memory.
async fn budget_runjob(section: &str, total: usize, extra: &[&str]) {
    let mock = Mock::start(extra);
    let channels = Arc::new(mock.channels(4).await);
    let chs = Arc::clone(&channels);
    let cpu = mock.cpu_time();
    let (rate, hist) = drive(total, 64, move |i| {
        let ch = chs[i % chs.len()].clone();
        async move {
            JobServiceClient::new(ch)
                .run_job(run_request("true", &[]))
                .await
                .expect("RunJob");
        }
    })
    .await;
    let cpu = (mock.cpu_time() - cpu).as_secs_f64() * 1e6 / total as f64;
    let (rss, peak) = mock.memory();
    println!(
        "{section}: {total} RunJob `true` at 64 in flight ({}): {rate:.0} req/s (p50 {} µs, p99 {} µs, \
         server CPU {cpu:.1} µs/req); resident after {:.1} MiB, peak {:.1} MiB \
         [goal: after < 2 GiB + 10 % = 2252.8 MiB]",
        if extra.is_empty() {
            "default flags".to_owned()
        } else {
            extra.join(" ")
        },
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.99),
        mib(rss),
        mib(peak)
    );
    budget_line(section, budget_figures(&mock).await);
    // ListJobs still answers (or says clearly why not).
    let listed = JobServiceClient::new(channels[0].clone())
        .max_decoding_message_size(usize::MAX)
        .list_jobs(pb::EmptyRequest {})
        .await;
    match listed {
        Ok(r) => println!(
            "{section}: ListJobs answers {} jobs",
            r.into_inner().jobs.len()
        ),
        Err(e) => println!("{section}: ListJobs: {:?}: {}", e.code(), e.message()),
    }
}

/// `jobs` jobs each writing `lines` distinct 10-digit numbers (11 bytes a
/// line), each log read once to its end; then the server's resident memory.
async fn budget_logs(jobs: u64, lines: u64) {
    let mock = Mock::start(&[]);
    let ch = mock.channels(1).await.remove(0);
    let bytes_per_job = lines * 11;
    let started = Instant::now();
    let mut peak_seen = 0;
    for i in 0..jobs {
        let first = 1_000_000_000 + i * 10_000_000;
        let last = first + lines - 1;
        let id = JobServiceClient::new(ch.clone())
            .run_job(run_request("seq", &[&first.to_string(), &last.to_string()]))
            .await
            .expect("RunJob")
            .into_inner()
            .job_uuid;
        let mut stream = JobServiceClient::new(ch.clone())
            .max_decoding_message_size(usize::MAX)
            .get_job_logs(pb::GetJobLogsReq { uuid: id })
            .await
            .expect("GetJobLogs")
            .into_inner();
        let mut got = 0u64;
        let mut tail = Vec::new();
        while let Some(chunk) = stream.message().await.expect("stream") {
            got += chunk.payload.len() as u64;
            tail = chunk.payload.to_vec();
        }
        assert_eq!(got, bytes_per_job, "job {i}: the whole log arrives");
        assert!(
            tail.ends_with(format!("{last}\n").as_bytes()),
            "job {i}: the log ends with its last number"
        );
        peak_seen = peak_seen.max(mock.memory().0);
    }
    let secs = started.elapsed().as_secs_f64();
    // Let the last stream's buffers go.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (rss, peak) = mock.memory();
    println!(
        "budget_logs: {jobs} jobs × {bytes_per_job} bytes of `seq` text ({:.0} MiB in all), each read \
         once, in {secs:.1} s: resident after {:.1} MiB, peak {:.1} MiB (highest seen between jobs \
         {:.1} MiB) [goal: after < 2 GiB + 10 % = 2252.8 MiB]",
        mib(jobs * bytes_per_job),
        mib(rss),
        mib(peak),
        mib(peak_seen)
    );
    budget_line("budget_logs", budget_figures(&mock).await);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "quick");
    let only: Vec<&String> = args
        .iter()
        .filter(|a| !a.starts_with('-') && *a != "quick")
        .collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o.as_str() == name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!(
            "joblet-mock performance ({} cores; {})",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            if quick { "quick run" } else { "full run" }
        );
        if wanted("startup") {
            startup(if quick { 5 } else { 21 }).await;
        }
        if wanted("unary") {
            // JOBLET_BENCH_UNARY_TOTAL: more requests, e.g. to attach a profiler.
            let total = std::env::var("JOBLET_BENCH_UNARY_TOTAL")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(if quick { 5_000 } else { 50_000 });
            unary(total).await;
        }
        if wanted("logs") {
            logs(if quick { GIB / 8 } else { GIB }).await;
        }
        if wanted("slow_readers") {
            slow_readers(100, Duration::from_secs(if quick { 2 } else { 5 })).await;
        }
        if wanted("finished_jobs") {
            finished_jobs(if quick { 10_000 } else { 100_000 }).await;
        }
        if wanted("virtual_clock") {
            virtual_clock(if quick { 3 } else { 11 }).await;
        }
        // The memory budget's sections run only when named (they take minutes):
        // `ci/bench budget_runjob budget_records budget_logs`.
        let named = |name: &str| only.iter().any(|o| o.as_str() == name);
        if named("budget_runjob") {
            budget_runjob(
                "budget_runjob",
                if quick { 100_000 } else { 1_000_000 },
                &[],
            )
            .await;
        }
        if named("budget_records") {
            budget_runjob(
                "budget_records",
                if quick { 100_000 } else { 1_000_000 },
                &["--max-jobs", "0", "--memory-budget", "256MiB"],
            )
            .await;
        }
        if named("budget_logs") {
            // 6 100 805 lines of 11 bytes: 67 108 855 bytes, just under 64 MiB.
            budget_logs(if quick { 40 } else { 200 }, 6_100_805).await;
        }
    });
}
