// The pipeline allocates many short-lived strings per tenant; mimalloc
// halves what glibc malloc spends on them. `Budgeted` bounds what template
// renderings may hold (src/budget.rs).
#[global_allocator]
static ALLOCATOR: tenantgen::budget::Budgeted<mimalloc::MiMalloc> =
    tenantgen::budget::Budgeted(mimalloc::MiMalloc);

fn main() -> std::process::ExitCode {
    tenantgen::cli::main()
}
