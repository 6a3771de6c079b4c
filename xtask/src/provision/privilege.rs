//! Running PostgreSQL's programs as an unprivileged user when we are root.
//!
//! `initdb`, `pg_ctl` and `postgres` refuse to run as root. CI machines and containers often
//! run as root, so there we run them through `runuser -u <user> --` (or `su`) as `postgres`
//! (or `nobody` when no `postgres` account exists) and give that user the cluster directory.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Accounts tried, in order, to run PostgreSQL when we are root.
pub const CANDIDATE_USERS: [&str; 2] = ["postgres", "nobody"];

/// An account with its numeric ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// How to start a program: directly, or as another user.
#[derive(Debug, Clone)]
pub enum RunAs {
    /// We are not root: run programs as ourselves.
    Myself,
    /// We are root: run programs as this account.
    User(Account),
}

impl RunAs {
    /// `Myself` unless the effective user is root, then the first existing candidate account.
    pub fn for_postgres() -> Result<Self> {
        if !rustix::process::geteuid().is_root() {
            return Ok(Self::Myself);
        }
        for name in CANDIDATE_USERS {
            if let Some(account) = lookup(name) {
                return Ok(Self::User(account));
            }
        }
        bail!(
            "running as root, and none of the accounts {CANDIDATE_USERS:?} exists to run \
             PostgreSQL (it refuses to run as root); create one with `useradd --system postgres`"
        )
    }

    /// A command running `program args...` as the chosen user.
    pub fn command(&self, program: &Path, args: &[OsString]) -> Command {
        match self {
            Self::Myself => {
                let mut command = Command::new(program);
                command.args(args);
                command
            }
            Self::User(account) => {
                if let Some(runuser) = runuser() {
                    let mut command = Command::new(runuser);
                    command
                        .args(["-u", &account.name, "--"])
                        .arg(program)
                        .args(args);
                    command
                } else {
                    let mut line = shell_quote(program.as_os_str());
                    for arg in args {
                        line.push(' ');
                        line.push_str(&shell_quote(arg));
                    }
                    let mut command = Command::new("su");
                    command.args([&account.name, "-s", "/bin/sh", "-c", &line]);
                    command
                }
            }
        }
    }

    /// Gives `path` and everything below it to the chosen user (no-op for `Myself`).
    pub fn chown_tree(&self, path: &Path) -> Result<()> {
        let Self::User(account) = self else {
            return Ok(());
        };
        chown_recursive(path, account.uid, account.gid)
            .with_context(|| format!("cannot give {} to user {}", path.display(), account.name))
    }

    /// A short description for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Myself => "the current user".to_owned(),
            Self::User(account) => format!("user {} (we are root)", account.name),
        }
    }
}

/// `runuser` (util-linux), which switches user without a shell or a password prompt.
fn runuser() -> Option<std::path::PathBuf> {
    let extra = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(std::path::PathBuf::from);
    let dirs = super::binaries::search_dirs(std::env::var_os("PATH").as_deref(), &extra);
    super::binaries::find_program(&dirs, "runuser")
}

fn chown_recursive(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_recursive(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Looks an account up with `id`, which also honours NSS sources beyond /etc/passwd.
fn lookup(name: &str) -> Option<Account> {
    let id = |flag: &str| -> Option<u32> {
        let output = Command::new("id").args([flag, name]).output().ok()?;
        if !output.status.success() {
            return None;
        }
        String::from_utf8(output.stdout).ok()?.trim().parse().ok()
    };
    Some(Account {
        name: name.to_owned(),
        uid: id("-u")?,
        gid: id("-g")?,
    })
}

/// Quotes `text` for a POSIX shell command line.
pub fn shell_quote(text: &OsStr) -> String {
    let text = String::from_utf8_lossy(text.as_bytes());
    let safe = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if safe {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn shell_quoting_leaves_plain_words_and_quotes_the_rest() {
        assert_eq!(
            shell_quote(OsStr::new("/usr/bin/pg_ctl")),
            "/usr/bin/pg_ctl"
        );
        assert_eq!(
            shell_quote(OsStr::new("-p 5433 -k /tmp")),
            "'-p 5433 -k /tmp'"
        );
        assert_eq!(shell_quote(OsStr::new("it's")), r"'it'\''s'");
        assert_eq!(shell_quote(OsStr::new("")), "''");
    }

    #[test]
    fn quoted_words_survive_a_real_shell() {
        let words = ["plain", "with space", "it's", "$HOME", "a\"b"];
        let line = words
            .iter()
            .map(|w| shell_quote(OsStr::new(w)))
            .collect::<Vec<_>>()
            .join(" ");
        let output = Command::new("/bin/sh")
            .args(["-c", &format!("printf '%s\\n' {line}")])
            .output()
            .unwrap();
        let printed = String::from_utf8(output.stdout).unwrap();
        assert_eq!(printed.lines().collect::<Vec<_>>(), words);
    }

    #[test]
    fn running_as_myself_runs_the_program_directly() {
        let output = RunAs::Myself
            .command(Path::new("/bin/echo"), &["hello".into()])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(output.stdout).unwrap(), "hello\n");
    }

    #[test]
    fn existing_accounts_are_found_and_missing_ones_are_not() {
        let root = lookup("root").unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(lookup("no-such-user-xtask").is_none());
    }
}
