//! Generates the CRI `runtime.v1` bindings from the vendored `proto/api.proto`
//! (k8s.io/cri-api's `pkg/apis/runtime/v1/api.proto`). protox parses the file
//! in Rust, so building needs no `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/api.proto");
    let fds = protox::compile(["api.proto"], ["proto"])?;
    tonic_build::configure()
        .build_client(true)
        .build_server(true)
        // RPCs pierd does not implement yet answer UNIMPLEMENTED.
        .generate_default_stubs(true)
        .compile_fds(fds)?;
    Ok(())
}
