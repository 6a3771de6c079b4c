//! Finding or starting the services the API needs: PostgreSQL and (optionally) Redis.

pub mod binaries;
pub mod cargo_child;
pub mod postgres;
pub mod privilege;
pub mod redis;

/// Reads a non-empty environment variable.
pub fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// Reads a port number remembered in `path` (one line).
pub fn read_port_file(path: &std::path::Path) -> Option<u16> {
    std::fs::read_to_string(path)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|port| *port != 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn port_files_hold_one_port_and_anything_else_is_ignored() {
        let dir = crate::workspace::target_dir()
            .join("xtask-tests")
            .join(format!("port-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("port");
        std::fs::write(&file, "54321\n").unwrap();
        assert_eq!(read_port_file(&file), Some(54321));
        std::fs::write(&file, "0").unwrap();
        assert_eq!(read_port_file(&file), None);
        std::fs::write(&file, "not a port").unwrap();
        assert_eq!(read_port_file(&file), None);
        assert_eq!(read_port_file(&dir.join("absent")), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
