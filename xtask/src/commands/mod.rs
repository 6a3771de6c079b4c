//! One module per `cargo xtask` subcommand.

pub mod bench;
pub mod db_reset;
pub mod dev;
pub mod migrate;
pub mod seed;
pub mod test;
