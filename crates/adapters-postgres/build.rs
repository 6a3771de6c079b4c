//! `embed_migrations!` reads ../../migrations at compile time but cannot tell cargo about a
//! new migration folder; this makes any change there rebuild the crate.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
