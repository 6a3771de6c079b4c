//! `EXPLAIN (FORMAT JSON) <statement>` for any diesel statement, so tests and benchmarks
//! can inspect the plan of the exact query the repository runs.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::Json;

/// Wraps a statement in `EXPLAIN (FORMAT JSON)`; the result is one JSON value.
#[derive(Debug)]
pub(crate) struct Explain<Q>(pub(crate) Q);

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Explain<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        out.push_sql("EXPLAIN (FORMAT JSON) ");
        self.0.walk_ast(out.reborrow())
    }
}

impl<Q> QueryId for Explain<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for Explain<Q> {
    type SqlType = Json;
}

impl<Q> diesel::query_dsl::RunQueryDslSupport for Explain<Q> {}
