//! Keeping every write inside the output root: a generated path must be
//! relative, made of plain names, and reach its target without crossing a
//! symlink (which could point anywhere).

use std::collections::HashMap;
use std::path::{Component, Path};

/// Why `relative` can never name a path inside the root, or `None`.
pub fn syntax_problem(relative: &str) -> Option<String> {
    let path = Path::new(relative);
    if relative.is_empty()
        || !path
            .components()
            .all(|part| matches!(part, Component::Normal(_)))
    {
        return Some("generated paths must be plain relative names inside the output root".into());
    }
    None
}

/// Why `relative` must not be written under `root`, or `None` when it may.
pub fn problem(root: &Path, relative: &str) -> Option<String> {
    Confinement::new(root).problem(relative)
}

/// [`problem`] for many paths, looking at each directory on disk once.
pub struct Confinement<'a> {
    root: &'a Path,
    /// Directories already looked at: whether each exists (as a real directory).
    dirs: HashMap<String, bool>,
}

impl<'a> Confinement<'a> {
    pub fn new(root: &'a Path) -> Confinement<'a> {
        Confinement {
            root,
            dirs: HashMap::new(),
        }
    }

    /// Why `relative` must not be written under the root, or `None` when it may.
    pub fn problem(&mut self, relative: &str) -> Option<String> {
        if let Some(problem) = syntax_problem(relative) {
            return Some(problem);
        }
        let mut end = 0;
        while let Some(slash) = relative[end..].find('/') {
            end += slash;
            let dir = &relative[..end];
            let exists = match self.dirs.get(dir) {
                Some(&exists) => exists,
                None => {
                    let exists = match self.look(dir) {
                        Ok(exists) => exists,
                        Err(problem) => return Some(problem),
                    };
                    self.dirs.insert(dir.to_string(), exists);
                    exists
                }
            };
            // Nothing further down exists yet, so nothing can be a symlink.
            if !exists {
                return None;
            }
            end += 1;
        }
        self.look(relative).err()
    }

    /// Whether the path exists, or why it is not safe to write through.
    fn look(&self, relative: &str) -> Result<bool, String> {
        let path = self.root.join(relative);
        match path.symlink_metadata() {
            Ok(meta) if meta.file_type().is_symlink() => Err(format!(
                "{} is a symlink, and tenantgen never writes through symlinks; replace it with a real directory or file",
                path.display()
            )),
            Ok(_) => Ok(true),
            Err(_) => Ok(false),
        }
    }
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
