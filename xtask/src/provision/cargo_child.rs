//! The services a cargo child process (`cargo test`, `cargo bench`) runs against: provisioned
//! once by xtask and handed over as `TEST_DATABASE_URL` and `TEST_REDIS_URL`.

use std::process::Command;

use anyhow::Result;

use super::postgres::{self, PgServer};
use super::redis::{self, RedisServer};
use crate::GlobalOpts;
use crate::workspace;

/// Provisioned PostgreSQL and, when there is one to be had, Redis.
#[derive(Debug, Clone)]
pub struct ChildServices {
    pub pg: PgServer,
    pub redis: Option<RedisServer>,
}

impl ChildServices {
    /// Finds or starts PostgreSQL, then Redis (each says what it picked).
    pub async fn provision(global: &GlobalOpts) -> Result<Self> {
        let pg = postgres::provision(global).await?;
        let redis = redis::provision(global);
        Ok(Self { pg, redis })
    }

    /// The variables the child gets; without Redis `TEST_REDIS_URL` stays unset so the child
    /// falls back to its own discovery.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![("TEST_DATABASE_URL", self.pg.admin_url.clone())];
        if let Some(redis) = &self.redis {
            env.push(("TEST_REDIS_URL", redis.url.clone()));
        }
        env
    }

    /// `cargo <args>` in the workspace root with [`Self::env`] set.
    pub fn cargo_command(&self, args: &[String]) -> Command {
        let mut command = Command::new(workspace::cargo());
        command
            .args(args)
            .current_dir(workspace::root())
            .envs(self.env());
        command
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::postgres::PgOrigin;

    fn services(redis: Option<&str>) -> ChildServices {
        ChildServices {
            pg: PgServer {
                app_url: "postgres://u@h/task_manager".to_owned(),
                admin_url: "postgres://u@h/postgres".to_owned(),
                origin: PgOrigin::SharedLocal,
            },
            redis: redis.map(|url| RedisServer {
                url: url.to_owned(),
            }),
        }
    }

    #[test]
    fn the_child_gets_the_admin_url_and_redis_only_when_there_is_one() {
        assert_eq!(
            services(None).env(),
            [("TEST_DATABASE_URL", "postgres://u@h/postgres".to_owned())]
        );
        assert_eq!(
            services(Some("redis://127.0.0.1:6379")).env(),
            [
                ("TEST_DATABASE_URL", "postgres://u@h/postgres".to_owned()),
                ("TEST_REDIS_URL", "redis://127.0.0.1:6379".to_owned())
            ]
        );
    }

    #[test]
    fn the_cargo_command_runs_in_the_workspace_root_with_the_env() {
        let command = services(Some("redis://r")).cargo_command(&["bench".to_owned()]);
        assert_eq!(command.get_args().collect::<Vec<_>>(), ["bench"]);
        assert_eq!(command.get_current_dir(), Some(workspace::root().as_path()));
        let env: Vec<_> = command.get_envs().collect();
        assert!(env.contains(&("TEST_REDIS_URL".as_ref(), Some("redis://r".as_ref()))));
    }
}
