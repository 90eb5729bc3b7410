//! Compiles the two Joblet wire contracts with protox (no system `protoc`) into
//! prost messages and tonic clients and servers, each into its own directory
//! because both use the protobuf package `joblet`:
//!
//! - v1.0.6, `proto/joblet.proto` → `OUT_DIR/v1/joblet.rs`, descriptor set
//!   `OUT_DIR/joblet_descriptor.bin`;
//! - v2.5.9, `proto/v2/joblet.proto` → `OUT_DIR/v2/joblet.rs`, descriptor set
//!   `OUT_DIR/joblet_v2_descriptor.bin`.
//!
//! - the union of both (`build/union.rs`), for a server that answers clients
//!   of either contract on the same port → `OUT_DIR/union/joblet.rs`,
//!   descriptor set `OUT_DIR/joblet_union_descriptor.bin`.
//!
//! The descriptor sets serve reflection and the wire-contract tests. Then the
//! mock's control API, `proto/mock_control.proto` (package `jobletmock.v1`,
//! `OUT_DIR/mock_control_descriptor.bin`).

use std::path::Path;

use prost::Message;

#[path = "build/union.rs"]
mod union;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    println!("cargo:rerun-if-changed=build");
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let v1 = contract(&out_dir, "proto", "v1", "joblet_descriptor.bin")?;
    let v2 = contract(&out_dir, "proto/v2", "v2", "joblet_v2_descriptor.bin")?;
    let both = union::union(&v1, &v2);
    std::fs::write(
        out_dir.join("joblet_union_descriptor.bin"),
        both.encode_to_vec(),
    )?;
    generate(&out_dir, "union", both)?;
    // The mock's own control API (package `jobletmock.v1`): a separate module
    // and descriptor set, so the contracts' sets hold package `joblet` only.
    let control = protox::compile(["mock_control.proto"], ["proto"])?;
    std::fs::write(
        out_dir.join("mock_control_descriptor.bin"),
        control.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(control)?;
    Ok(())
}

/// Compiles `<include>/joblet.proto` into `OUT_DIR/<module>/joblet.rs` and
/// writes its encoded descriptor set to `OUT_DIR/<descriptor>`; the set.
fn contract(
    out_dir: &Path,
    include: &str,
    module: &str,
    descriptor: &str,
) -> Result<prost_types::FileDescriptorSet, Box<dyn std::error::Error>> {
    let fds = protox::compile(["joblet.proto"], [include])?;
    std::fs::write(out_dir.join(descriptor), fds.encode_to_vec())?;
    generate(out_dir, module, fds.clone())?;
    Ok(fds)
}

/// Generates messages, clients and servers of `fds` into `OUT_DIR/<module>/joblet.rs`.
fn generate(
    out_dir: &Path,
    module: &str,
    fds: prost_types::FileDescriptorSet,
) -> Result<(), Box<dyn std::error::Error>> {
    let code_dir = out_dir.join(module);
    std::fs::create_dir_all(&code_dir)?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .bytes(".joblet.DataChunk.payload")
        .out_dir(&code_dir)
        .compile_fds(fds)?;
    Ok(())
}
