//! Tasks (contract section 7): create, read, update, soft-delete and list, with optimistic
//! concurrency (`If-Match`), keyset cursors and idempotent creation. The query-parameter
//! rules of 7.3 and the cache key of 13.1 are pure functions in [`query`].

pub mod cursor;
pub mod error;
pub mod query;
pub mod service;

#[cfg(test)]
mod tests;

pub use cursor::{decode_cursor, encode_cursor};
pub use error::TaskError;
pub use query::{
    NormalisedListQuery, TaskListParams, normalise_list_params, paginated_cache_key, scope_key,
};
pub use service::{CreateOutcome, TaskListing, TaskService};
