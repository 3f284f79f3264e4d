fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The vendored protoc, so building needs no system protobuf-compiler;
    // PROTOC still wins when set.
    if std::env::var_os("PROTOC").is_none() {
        // SAFETY: build scripts are single-threaded until tonic_build runs.
        unsafe { std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?) };
    }
    tonic_build::configure()
        .build_client(false)
        .protoc_arg("--experimental_allow_proto3_optional")
        .compile_protos(
            &["proto/tfplugin6.5.proto", "proto/controller.proto"],
            &["proto"],
        )?;
    Ok(())
}
