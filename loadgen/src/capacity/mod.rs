//! `joblet-loadgen capacity`: the highest open-model arrival rate at which
//! a node meets every rule of an SLO, found by the generator itself.
//!
//! Each probe is a run of the plan's actions (submit, lifecycle, or a
//! mix's weighted operations) at one rate: a warm-up stage, then a measured
//! stage on which the SLO rules (the `--threshold` syntax) are evaluated.
//! The rate steps up geometrically until a rule fails, then the search
//! bisects between the highest passing and the lowest failing rate to the
//! precision. Noise is handled: probes near the boundary repeat until a
//! majority agrees, and the report says what the repeats showed. A probe
//! that fails while the generator's own start lag (with workers free; p90)
//! is above the limit stops the search: that rate is the generator's limit,
//! and nothing at or above it is reported as the node's capacity. (A probe
//! that passes despite the lag passes: its latency counts the lateness.)
//!
//! The files (this one only declares and re-exports them): `search` (the
//! rates to try and what the probes say, apart from running load), `step`
//! (one probe: a run, its SLO verdict, its generator check) and `driver`
//! ([`capacity`], the embedded mock and the report).

mod driver;
pub mod search;
mod step;

pub use driver::{CapacityConfig, capacity};
