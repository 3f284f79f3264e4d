//! `tf-harness validate|plan|apply DIR` (usually via `scripts/tf-harness`).

use std::path::Path;
use std::process::ExitCode;

use tf_stub_provider::harness::{self, Mode, Setup};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(mode), Some(dir)) = (args.first().and_then(|mode| Mode::parse(mode)), args.get(1))
    else {
        eprintln!("usage: tf-harness validate|plan|apply DIR");
        return ExitCode::from(2);
    };
    let outcomes =
        Setup::from_environment().and_then(|setup| harness::run(&setup, mode, Path::new(dir)));
    match outcomes {
        Ok(outcomes) => {
            let (text, passed) = harness::report(mode, &outcomes);
            print!("{text}");
            if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("tf-harness: {err:#}");
            ExitCode::FAILURE
        }
    }
}
