//! Monitoring figures of the simulated node (MON-STATUS-1, MON-STREAM-1, MON-STREAM-2).
//!
//! The host facts are real and read once ([`host_facts`]: hostname, OS release,
//! kernel, total memory, boot time); everything else is synthetic but consistent
//! and moves with the running jobs:
//!
//! - CPU: usage = a node base (1.5–6 %) + about 6 points per running job + a little
//!   noise, capped at 97 %. `userTime`, `systemTime`, `ioWaitTime`, `stealTime` and
//!   `idleTime` are the *percentages* of CPU time in those states (they add up to
//!   100); `perCoreUsage` has one entry per core and averages to `usagePercent`;
//!   `loadAverage` is `[1m, 5m, 15m]`.
//! - Memory: `usedBytes + freeBytes = totalBytes` (the host's real `MemTotal`);
//!   cached and buffered pages are counted in `usedBytes`, and
//!   `availableBytes = free + cached + buffered`. Each running job adds 48–144 MiB
//!   (at most 90 % of its `maxMemory`).
//! - One disk (`/dev/sda1` on `/`, ext4) whose used space grows 16 MiB per running
//!   job; inodes add up the same way.
//! - One interface (`eth0`) and one block device (`sda`): cumulative counters that
//!   never decrease (they advance by `rate × elapsed time` at each sample, shared by
//!   every caller) and rates in bytes per second.
//! - Processes: every running job is one process in state `R`; `topByCPU` and
//!   `topByMemory` hold the server itself (`joblet`, pid 1) and every running job
//!   (pid 1000 + the job's sequence number, name = the job's command, command =
//!   command and arguments), sorted. A process's `cpuPercent` is its share of the
//!   whole node (0–100), so the processes listed never add up to more than
//!   `usagePercent`. A job whose scenario sets `resources` (`cpu_percent`,
//!   `memory_mb`) shows those figures instead of synthetic ones (see
//!   [`crate::sim::scenario`]).
//! - `cloud` is left unset, as the real server does on a host where it detects no
//!   cloud provider.
//!
//! With a seed ([`MockConfig::seed`](crate::config::MockConfig::seed)) the figures
//! are reproducible: the node's base figures derive from the seed alone, and each
//! sample's noise from the seed and the sample's index (GetSystemStatus counts its
//! calls, each metrics stream counts its own samples from 0). The same seed, jobs
//! and index give the same CPU, memory, disk and process figures; cumulative
//! counters, uptime and timestamps also follow the clock. Without a seed, a fresh
//! random node and fresh noise per sample.

//!
//! A job's own metrics samples (contract v2, JOB-METRICS-1) are computed the
//! same way, one job at a time, by [`job_figures`] (module `job`).
//!
//! Modules: `host` reads the real host facts; `figures` computes one sample as
//! a pure function of its inputs ([`generate`]); `job` a job's sample; `monitor` keeps a node's seed
//! and counters ([`Monitor`]). A session turns its running jobs into inputs
//! ([`Shared::metrics_sample`](crate::session::Shared::metrics_sample)).

mod figures;
pub(crate) mod host;
mod job;
mod monitor;
mod num;

pub use figures::{RunningJob, Sample, Sections, interval};
pub use job::{JobLoad, job_figures};
pub use monitor::Monitor;

#[cfg(test)]
pub(crate) mod tests;
