//! The contracts' descriptors at run time (feature `transcript`): the union
//! of both ([`FILE_DESCRIPTOR_SET_UNION`](crate::pb::FILE_DESCRIPTOR_SET_UNION):
//! v1 names, every v2 field and method) decoded once, and a
//! method's descriptor by service and name, for rendering messages as proto3
//! JSON and reading them back.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, MethodDescriptor};

/// Both contracts' descriptors ([`FILE_DESCRIPTOR_SET_UNION`](crate::pb::FILE_DESCRIPTOR_SET_UNION)),
/// decoded once: a v1 or a v2 call renders with every field its contract has.
pub fn descriptor_pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(crate::pb::FILE_DESCRIPTOR_SET_UNION).unwrap_or_else(|e| {
            tracing::error!("cannot decode the contract's descriptor set: {e}");
            DescriptorPool::new()
        })
    })
}

/// The descriptor of `service`/`method` of the contract.
pub fn method_descriptor(service: &str, method: &str) -> Option<MethodDescriptor> {
    descriptor_pool()
        .get_service_by_name(service)?
        .methods()
        .find(|m| m.name() == method)
}
