//! Stage 5: make every rendered file canonical and prove it is valid HCL.
//!
//! Formatting is `terraform fmt`'s layout ([`crate::tffmt`]); parsing with
//! hcl-rs catches a broken template before anything reaches the disk; the
//! header with the body's hash is added last.

use anyhow::{Result, bail};

use crate::header;
use crate::render::RenderedFile;
use crate::tffmt;

/// A file ready to be compared with the disk and written.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedFile {
    /// Relative to the output root, `/`-separated.
    pub path: String,
    pub contents: String,
}

/// Formats, parses and stamps each rendered file.
pub fn verify(files: Vec<RenderedFile>) -> Result<Vec<GeneratedFile>> {
    files
        .into_iter()
        .map(|file| {
            let body = tffmt::format(&file.text);
            if let Err(err) = hcl::parse(&body) {
                bail!(
                    "generated {} is not valid HCL: {err}\nthis is a template bug: if you override templates with --templates, fix that template, otherwise report it",
                    file.path
                );
            }
            Ok(GeneratedFile {
                contents: header::stamp(&body),
                path: file.path,
            })
        })
        .collect()
}
