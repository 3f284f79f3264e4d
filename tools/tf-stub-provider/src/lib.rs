//! Schema-serving stub Terraform providers, and the harness that runs the
//! real `terraform` binary over generated stacks with them, offline.
//!
//! `tf-stub-provider --schema FILE` speaks the plugin protocol (version 6)
//! and serves one provider's schema from `provider-schemas/`; plan and apply
//! behave like a faithful in-memory API. `tf-harness validate|plan|apply DIR`
//! installs the stubs in a private filesystem mirror and runs terraform in
//! every stack directory under DIR.

pub mod harness;
pub mod schema;
pub mod server;
pub mod state;

#[allow(
    clippy::all,
    clippy::pedantic,
    dead_code,
    reason = "generated from the protocol definitions"
)]
mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}

#[allow(
    clippy::all,
    clippy::pedantic,
    dead_code,
    reason = "generated from the protocol definitions"
)]
mod controller {
    tonic::include_proto!("plugin");
}
