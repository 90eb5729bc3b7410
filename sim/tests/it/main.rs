//! Integration tests of joblet-sim's public API: the contract between the
//! simulator and the [`Output`](joblet_sim::Output) and
//! [`Clock`](joblet_sim::Clock) a host implements, and what an
//! [`Observer`](joblet_sim::Observer) sees.

mod host;
mod observe;
