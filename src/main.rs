fn main() -> std::process::ExitCode {
    tenantgen::cli::main()
}
