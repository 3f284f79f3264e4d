// The pipeline allocates many short-lived strings per tenant; mimalloc
// halves what glibc malloc spends on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tenantgen::cli::main()
}
