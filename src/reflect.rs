//! The contracts' descriptors at run time (feature `transcript`), decoded
//! once each: v1, v2, and their union (v1 names, every v2 field and method),
//! and a method's descriptor in one of them, for rendering messages as proto3
//! JSON and reading them back. A transcript is rendered in the contract of
//! the node it recorded, so that a v1 recording compares what a v1 client
//! sees.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, MethodDescriptor};

use crate::contract::Api;

fn decode(set: &[u8], what: &str) -> DescriptorPool {
    DescriptorPool::decode(set).unwrap_or_else(|e| {
        tracing::error!("cannot decode the {what} descriptor set: {e}");
        DescriptorPool::new()
    })
}

/// The descriptors of a node speaking `contract`: `None` (a recording that
/// did not know it: every one before contracts were recorded spoke v1) and
/// v1 give v1's, v2 v2's, both the union.
pub fn pool_of(contract: Option<Api>) -> &'static DescriptorPool {
    static V1: OnceLock<DescriptorPool> = OnceLock::new();
    static V2: OnceLock<DescriptorPool> = OnceLock::new();
    static BOTH: OnceLock<DescriptorPool> = OnceLock::new();
    match contract {
        None | Some(Api::V1) => V1.get_or_init(|| decode(crate::pb::FILE_DESCRIPTOR_SET, "v1")),
        Some(Api::V2) => V2.get_or_init(|| decode(crate::pb::FILE_DESCRIPTOR_SET_V2, "v2")),
        Some(Api::Both) => {
            BOTH.get_or_init(|| decode(crate::pb::FILE_DESCRIPTOR_SET_UNION, "union"))
        }
    }
}

/// Both contracts' descriptors ([`FILE_DESCRIPTOR_SET_UNION`](crate::pb::FILE_DESCRIPTOR_SET_UNION)),
/// decoded once: a v1 or a v2 call renders with every field its contract has.
pub fn descriptor_pool() -> &'static DescriptorPool {
    pool_of(Some(Api::Both))
}

/// The descriptor of `service`/`method` in `contract` (see [`pool_of`]).
pub fn method_descriptor_in(
    contract: Option<Api>,
    service: &str,
    method: &str,
) -> Option<MethodDescriptor> {
    pool_of(contract)
        .get_service_by_name(service)?
        .methods()
        .find(|m| m.name() == method)
}

/// The descriptor of `service`/`method` in either contract (the union).
pub fn method_descriptor(service: &str, method: &str) -> Option<MethodDescriptor> {
    method_descriptor_in(Some(Api::Both), service, method)
}
