//! Keeping every write inside the output root: a generated path must be
//! relative, made of plain names, and reach its target without crossing a
//! symlink (which could point anywhere).

use std::path::{Component, Path};

/// Why `relative` must not be written under `root`, or `None` when it may.
pub fn problem(root: &Path, relative: &str) -> Option<String> {
    let path = Path::new(relative);
    if relative.is_empty()
        || !path
            .components()
            .all(|part| matches!(part, Component::Normal(_)))
    {
        return Some("generated paths must be plain relative names inside the output root".into());
    }
    let mut current = root.to_path_buf();
    for part in path.components() {
        current.push(part);
        match current.symlink_metadata() {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Some(format!(
                    "{} is a symlink, and tenantgen never writes through symlinks; replace it with a real directory or file",
                    current.display()
                ));
            }
            Ok(_) => {}
            // Nothing further down exists yet, so nothing can be a symlink.
            Err(_) => break,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn escapes_are_refused() {
        let root = tempfile::tempdir().unwrap();
        for bad in ["", "../x.tf", "/etc/passwd", "a/../../x", "./a.tf"] {
            assert!(problem(root.path(), bad).is_some(), "{bad}");
        }
        assert!(problem(root.path(), "vault/tenant-a.tf").is_none());
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_directories_and_files_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("vault")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("x"), root.path().join("f.tf")).unwrap();
        assert!(
            problem(root.path(), "vault/tenant-a.tf")
                .unwrap()
                .contains("symlink")
        );
        assert!(problem(root.path(), "f.tf").unwrap().contains("symlink"));
    }
}
