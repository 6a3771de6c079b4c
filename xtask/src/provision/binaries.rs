//! Finding installed server binaries (PostgreSQL, Redis) on PATH and in known directories.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where Debian and Ubuntu install versioned PostgreSQL server binaries.
pub const DEBIAN_PG_ROOT: &str = "/usr/lib/postgresql";

/// The PostgreSQL server programs a private cluster needs.
pub const PG_SERVER_PROGRAMS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// Whether `path` is a regular file someone may execute.
pub fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Directories to search: the entries of `path_var` (a PATH value), then `extra` in order.
pub fn search_dirs(path_var: Option<&OsStr>, extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = path_var
        .map(|value| {
            std::env::split_paths(value)
                .filter(|d| !d.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    for dir in extra {
        if !dirs.contains(dir) {
            dirs.push(dir.clone());
        }
    }
    dirs
}

/// The first directory of `dirs` holding an executable for every name in `programs`.
pub fn find_dir_with_all(dirs: &[PathBuf], programs: &[&str]) -> Option<PathBuf> {
    dirs.iter()
        .find(|dir| programs.iter().all(|p| is_executable(&dir.join(p))))
        .cloned()
}

/// The first executable called `program` in `dirs`.
pub fn find_program(dirs: &[PathBuf], program: &str) -> Option<PathBuf> {
    dirs.iter()
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

/// `<root>/<version>/bin` for every version directory under `root`, newest version first.
pub fn versioned_bin_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join("bin").is_dir())
        .map(|path| {
            let key = path
                .file_name()
                .and_then(OsStr::to_str)
                .map(version_key)
                .unwrap_or_default();
            (key, path.join("bin"))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

fn version_key(name: &str) -> Vec<u32> {
    name.split('.')
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`, searching PATH then
/// `/usr/lib/postgresql/*/bin` (newest first).
pub fn find_pg_server_dir() -> Option<PathBuf> {
    let extra = versioned_bin_dirs(Path::new(DEBIAN_PG_ROOT));
    let dirs = search_dirs(std::env::var_os("PATH").as_deref(), &extra);
    find_dir_with_all(&dirs, &PG_SERVER_PROGRAMS)
}

/// `redis-server` on PATH or in the usual system directories.
pub fn find_redis_server() -> Option<PathBuf> {
    let extra = ["/usr/bin", "/usr/sbin", "/usr/local/bin"].map(PathBuf::from);
    let dirs = search_dirs(std::env::var_os("PATH").as_deref(), &extra);
    find_program(&dirs, "redis-server")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::fs;

    /// A fresh scratch directory under target/ (removed at the start of each use).
    fn scratch(name: &str) -> PathBuf {
        let dir = crate::workspace::target_dir()
            .join("xtask-tests")
            .join(format!("{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn fake_program(dir: &Path, name: &str, mode: u32) {
        fs::create_dir_all(dir).unwrap();
        let path = dir.join(name);
        fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn programs_are_found_in_path_order_and_must_be_executable() {
        let root = scratch("find-program");
        let (a, b) = (root.join("a"), root.join("b"));
        fake_program(&a, "redis-server", 0o644);
        fake_program(&b, "redis-server", 0o755);
        let path_var = std::env::join_paths([&a, &b]).unwrap();
        let dirs = search_dirs(Some(&path_var), &[]);
        assert_eq!(
            find_program(&dirs, "redis-server"),
            Some(b.join("redis-server"))
        );
        assert_eq!(find_program(&dirs, "missing"), None);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn the_pg_server_dir_must_hold_all_three_programs() {
        let root = scratch("find-pg");
        let partial = root.join("partial");
        let full = root.join("full");
        fake_program(&partial, "pg_ctl", 0o755);
        fake_program(&partial, "postgres", 0o755);
        for program in PG_SERVER_PROGRAMS {
            fake_program(&full, program, 0o755);
        }
        let path_var = std::env::join_paths([&partial]).unwrap();
        let dirs = search_dirs(Some(&path_var), std::slice::from_ref(&full));
        assert_eq!(dirs, vec![partial.clone(), full.clone()]);
        assert_eq!(find_dir_with_all(&dirs, &PG_SERVER_PROGRAMS), Some(full));
        assert_eq!(find_dir_with_all(&dirs[..1], &PG_SERVER_PROGRAMS), None);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn versioned_dirs_are_listed_newest_first() {
        let root = scratch("versions");
        for version in ["9.6", "15", "16", "10"] {
            fs::create_dir_all(root.join(version).join("bin")).unwrap();
        }
        fs::create_dir_all(root.join("no-bin-here")).unwrap();
        let names: Vec<String> = versioned_bin_dirs(&root)
            .iter()
            .map(|d| {
                d.parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["16", "15", "10", "9.6"]);
        assert!(versioned_bin_dirs(&root.join("absent")).is_empty());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn empty_path_entries_and_duplicates_are_skipped() {
        let path_var = std::ffi::OsString::from("/x::/y");
        let dirs = search_dirs(Some(&path_var), &[PathBuf::from("/y"), PathBuf::from("/z")]);
        assert_eq!(dirs, ["/x", "/y", "/z"].map(PathBuf::from));
    }
}
