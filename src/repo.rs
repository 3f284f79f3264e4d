//! "The repository": the directory holding tenantgen.hcl. On a pull request
//! everything in it is the author's, so a path the config names (the users
//! file, the output root, the AppRole secret-id file, add-on templates)
//! must stay inside it: relative, no `..` out of it, no symbolic link out
//! of it. The same holds for `vault.jwt_path`, whose default, the
//! in-cluster token, is built in. Paths given on the command line or in
//! the environment are the operator's and are not confined.

use std::path::{Component, Path, PathBuf};

/// `path` from the config, resolved against `base` (the config file's
/// directory) and checked to stay inside it; `Err` says why not.
pub fn inside(base: &Path, path: &Path) -> Result<PathBuf, String> {
    resolve(base, path, true)
}

/// [`inside`] for the output root, whose own last component is left to
/// `Session::open` (src/session.rs): it refuses a root that is a symbolic
/// link, naming the target to pass as `--out`.
pub fn root_inside(base: &Path, path: &Path) -> Result<PathBuf, String> {
    resolve(base, path, false)
}

fn resolve(base: &Path, path: &Path, last_too: bool) -> Result<PathBuf, String> {
    let shown = path.display();
    let mut relative = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => relative.push(part),
            Component::CurDir => {}
            Component::ParentDir if relative.pop() => {}
            Component::ParentDir => {
                return Err(format!(
                    "{shown:?} leads out of the directory holding tenantgen.hcl; name a path inside it (or pass the path on the command line)"
                ));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "{shown:?} is absolute; name a path relative to the directory holding tenantgen.hcl (or pass the path on the command line)"
                ));
            }
        }
    }
    let mut prefix = base.to_path_buf();
    let checked = relative
        .iter()
        .count()
        .saturating_sub(usize::from(!last_too));
    for part in relative.iter().take(checked) {
        prefix.push(part);
        match std::fs::symlink_metadata(&prefix) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                leads_inside(base, &prefix).map_err(|why| format!("{shown:?}: {why}"))?
            }
            Ok(_) => {}
            // Not there yet (an output root to create): nothing to follow.
            Err(_) => break,
        }
    }
    Ok(base.join(relative))
}

/// A file named on the command line may sit in the repository, which can
/// make it a symbolic link to any file: it may lead only within its own
/// directory (as Kubernetes' mounted secrets and config maps do).
pub fn link_stays_beside(path: &Path) -> Result<(), String> {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_symlink());
    if !is_link {
        return Ok(());
    }
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    leads_inside(parent, path)
}

/// Whether the symbolic link `link` resolves inside `base`.
fn leads_inside(base: &Path, link: &Path) -> Result<(), String> {
    let outside = || {
        format!(
            "{} is a symbolic link leading outside {}; replace it with the file itself, or name the file it leads to",
            link.display(),
            base.display()
        )
    };
    let target = link.canonicalize().map_err(|_| {
        format!(
            "{} is a symbolic link that leads nowhere; fix or remove it",
            link.display()
        )
    })?;
    let base = base.canonicalize().map_err(|_| outside())?;
    if target.starts_with(&base) {
        Ok(())
    } else {
        Err(outside())
    }
}

#[cfg(test)]
mod tests {
    use super::{inside, root_inside};
    use std::path::Path;

    #[test]
    fn only_paths_inside_the_repository_are_accepted() {
        let repo = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let base = repo.path();
        std::fs::create_dir(base.join("dir")).unwrap();
        std::os::unix::fs::symlink(outside.path(), base.join("out-link")).unwrap();
        std::os::unix::fs::symlink(base.join("dir"), base.join("in-link")).unwrap();
        std::os::unix::fs::symlink(base.join("missing"), base.join("dangling")).unwrap();
        for ok in [
            "a.j2",
            "./dir/a.j2",
            "dir/../a.j2",
            "in-link/a.j2",
            "new/stacks",
        ] {
            assert!(inside(base, Path::new(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "/etc/passwd",
            "../x",
            "dir/../../x",
            "out-link/x",
            "out-link",
            "dangling",
        ] {
            assert!(inside(base, Path::new(bad)).is_err(), "{bad}");
        }
        assert_eq!(
            inside(base, Path::new("dir/../a.j2")).unwrap(),
            base.join("a.j2")
        );
        // The root's own link is Session::open's to refuse; its parents are not.
        assert!(root_inside(base, Path::new("out-link")).is_ok());
        assert!(root_inside(base, Path::new("out-link/stacks")).is_err());
        assert_eq!(root_inside(base, Path::new(".")).unwrap(), base);
    }
}
