//! Stage 5: make every rendered file canonical and check it is valid HCL.
//!
//! Formatting is `terraform fmt`'s layout ([`crate::tffmt`]), whose scan
//! also checks every string, heredoc and bracket is closed. Files from
//! overridden templates are parsed in full with hcl-rs as well; the built-in
//! templates are proven to parse by the test suite and the fuzz targets, and
//! a full parse of every file would cost more than the rest of the pipeline
//! together. The header with the body's hash is added last.

use anyhow::{Result, anyhow};

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

/// Formats, checks and stamps one rendered file.
pub fn verify(file: RenderedFile) -> Result<GeneratedFile> {
    let mut contents = header::begin(file.text.len() + file.text.len() / 8);
    let header_len = contents.len();
    tffmt::format_into(&file.text, &mut contents).map_err(|problem| broken(&file, &problem))?;
    if file.from_override
        && let Err(err) = hcl::parse(&contents[header_len..])
    {
        return Err(broken(&file, &err.to_string()));
    }
    header::seal(&mut contents);
    Ok(GeneratedFile {
        contents,
        path: file.path,
    })
}

fn broken(file: &RenderedFile, problem: &str) -> anyhow::Error {
    anyhow!(
        "generated {} is not valid HCL: {problem}\nthis is a template bug: if you override templates with --templates, fix that template ({}), otherwise report it",
        file.path,
        file.template
    )
}
