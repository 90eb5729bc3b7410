//! Compiles `proto/joblet.proto` with protox (no system `protoc`) into prost
//! messages and tonic clients and servers, and writes the encoded descriptor set
//! to `OUT_DIR/joblet_descriptor.bin` for reflection and the wire-contract test;
//! then the same for the mock's control API, `proto/mock_control.proto`
//! (`OUT_DIR/mock_control_descriptor.bin`).

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(["joblet.proto"], ["proto"])?;
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("joblet_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .bytes(".joblet.DataChunk.payload")
        .compile_fds(fds)?;
    // The mock's own control API (package `jobletmock.v1`): a separate module
    // and descriptor set, so `FILE_DESCRIPTOR_SET` stays the Joblet contract only.
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
