//! Integration tests of the conformance suite: the whole catalogue against
//! the embedded mock, the mutants (proof that every case can fail), the
//! server-v1 golden list, coverage of behaviours and RPCs, the report schema,
//! the binary end to end, record and replay, and the explorer.

mod cli;
mod compat;
mod contract;
mod coverage;
mod embedded;
mod explore;
mod explore_v2;
mod mutants;
mod replay;
mod schema;
mod server_v1;
mod server_v2;
mod support;
mod transport;
mod two_contracts;
