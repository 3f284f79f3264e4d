fn main() -> Result<(), Box<dyn std::error::Error>> {
    tonic_build::configure()
        .build_client(false)
        .protoc_arg("--experimental_allow_proto3_optional")
        .compile_protos(
            &["proto/tfplugin6.5.proto", "proto/controller.proto"],
            &["proto"],
        )?;
    Ok(())
}
