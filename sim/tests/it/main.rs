//! Integration tests of joblet-sim's public API: the contract between the
//! simulator and the [`Output`](joblet_sim::Output) and
//! [`Clock`](joblet_sim::Clock) a host implements.

mod host;
