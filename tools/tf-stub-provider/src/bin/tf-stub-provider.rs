//! A Terraform provider plugin serving one schema file: launched by
//! terraform, never by hand (`tf-harness` installs it).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

fn schema_path() -> Result<PathBuf> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (Some("--schema"), Some(path)) => Ok(PathBuf::from(path)),
        _ => match std::env::var_os("TF_STUB_SCHEMA") {
            Some(path) => Ok(PathBuf::from(path)),
            None => bail!("usage: tf-stub-provider --schema FILE (or TF_STUB_SCHEMA=FILE)"),
        },
    }
}

fn main() -> ExitCode {
    let run = || -> Result<()> {
        if std::env::var_os("TF_PLUGIN_MAGIC_COOKIE").is_none() {
            bail!(
                "this is a Terraform provider plugin: terraform starts it; use tf-harness to run terraform with it"
            );
        }
        let schema = tf_stub_provider::schema::ProviderSchema::load(&schema_path()?)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        runtime.block_on(tf_stub_provider::server::serve(schema))
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tf-stub-provider: {err:#}");
            ExitCode::FAILURE
        }
    }
}
