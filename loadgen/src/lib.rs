//! # joblet-loadgen
//!
//! Measures what a Joblet node can take: how many jobs per second it accepts
//! and at what latency, how long jobs take to run, and how fast it streams
//! logs to how many readers, without the generator becoming the bottleneck.
//!
//! # Architecture
//!
//! Every scenario (`submit`, `lifecycle`, `logs`, a YAML `mix`, `metrics`)
//! becomes one [`plan::Plan`]: weighted actions and stages of load, each a
//! rate (open model) or a concurrency (closed model), with ramps. [`run::run`] starts one
//! single-threaded tokio runtime per generator thread; on each, a pool of
//! workers runs the one worker loop: a pacer says when the next action may
//! start (under a rate every action has an intended start time, and latency
//! counts from it, which corrects coordinated omission), the action runs
//! over the generator's own lean gRPC client ([`transport`]: HTTP/2 written
//! for the purpose and kept over the `h2` crate by measurement, mutual or
//! server-only TLS via rustls, responses walked frame by frame, streams a
//! server refused or never processed sent again),
//! and [`stats`] records it into HdrHistograms per operation, target and
//! stage, never keeping samples. Every interval each thread hands its
//! statistics to the collector, which keeps totals and time series, writes
//! the HDR interval log and the progress line, while a monitor reads each
//! target's StreamSystemMetrics. After the load, in-flight actions drain,
//! the jobs the run created are deleted, and a [`report::Report`] comes out:
//! a table, JSON (schema in `loadgen/schema/`), HTML, and [`threshold`]
//! verdicts. [`merge`] adds the reports of distributed workers exactly.
//! [`capacity::capacity`] runs one such run per rate to find the highest
//! arrival rate at which a node meets an SLO.
//! Before the load, the targets' contract (v1.0.6, v2.5.9 or both) is
//! detected (`joblet_testkit::detect`) or given (`--contract`); it sets the
//! messages sent and opens every report.
//! With no target, [`run::run`] starts an embedded `joblet-mock` (cargo
//! feature `embedded`, on by default; without it a run needs `--target`).
//!
//! # Layout
//!
//! In layers, top down: a module names modules of its own layer or below,
//! never above, and no two files name each other, even through others (a
//! directory's `mod.rs` only declares and re-exports its files).
//!
//! 1. [`cli`]: flags (clap) → validated [`run::RunConfig`] (or a
//!    [`capacity::CapacityConfig`]); outputs and exit code.
//! 2. [`capacity`]: the capacity search: the rates to try, one probe per
//!    run, the verdicts and the report.
//! 3. [`run`]: a run from setup to report: its settings and checks, the
//!    embedded mock, the driver (setup, drive, drain, report), the collector
//!    and the summary.
//! 4. Internal: `worker` (generator threads, the worker loop, drain and
//!    cleanup), `ops` (what each action does on the wire and records),
//!    `telemetry` (the `metrics` scenario's StreamJobMetrics and
//!    StreamJobTelematics readers), `contract` (which contract the targets
//!    speak, detected or given, and so which messages the run sends),
//!    `pacing` (intended start times, ramps, lanes of distributed runs),
//!    `pool` (a mix's jobs by what the run knows of their state), `cleanup`
//!    (the jobs a run created and their deletion), `monitor` (the targets'
//!    StreamSystemMetrics), `progress` (the progress line).
//! 5. [`merge`]: combining workers' reports; [`threshold`]: `--threshold`
//!    and `--slo` rules; [`report`]: the report and its JSON, HTML and table
//!    forms (and the HDR interval log written during a run), and the
//!    capacity search's report and page.
//! 6. [`plan`]: [`plan::Plan`], stages, actions, jobs; YAML mix plans.
//! 7. [`stats`]: histograms and counters per operation, target and stage.
//! 8. [`transport`]: the gRPC/HTTP/2 client and its TLS; `units` (internal):
//!    durations, sizes, fractions.
//!
//! # Getting started
//!
//! ```no_run
//! use joblet_loadgen::plan::{Action, JobSpec, Load, Plan};
//! use joblet_loadgen::run::{RunConfig, Stop, run};
//! use joblet_loadgen::transport::Rpc;
//!
//! // 200 RunJob calls of `true`, 8 in flight, against an embedded mock.
//! let plan = Plan::single("submit", Action::Call(Rpc::RunJob), JobSpec::true_job(),
//!                         Load::Concurrency(8), None, Some(200))?;
//! let report = run(&RunConfig::new(plan), &Stop::new())?;
//! assert_eq!(report.operations["submit"].count, 200);
//! println!("p99 {} ms", report.operations["submit"].latency_ms.p99);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod capacity;
pub mod cli;
pub mod merge;
pub mod plan;
pub mod report;
pub mod run;
pub mod stats;
pub mod threshold;
pub mod transport;

mod cleanup;
mod contract;
mod monitor;
mod ops;
mod pacing;
mod pool;
mod progress;
mod telemetry;
mod units;
mod worker;
