//! Renders `src/schema.rs` from the catalog of a migrated database, in the style of
//! `diesel print-schema`, so the `table!` definitions can never drift from the migrations
//! (the test `schema_rs_matches_the_migrations` regenerates and compares them).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use diesel::QueryableByName;
use diesel::sql_types::{Bool, Integer, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// Tables of migration tools, not of the service.
pub const SKIPPED_TABLES: &[&str] = &["__diesel_schema_migrations", "schema_migrations"];

/// Why the schema could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum SchemaGenError {
    /// A catalog query failed.
    #[error("catalog query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// A column type has no mapping here yet; add one to `diesel_type`.
    #[error("no diesel type for {table}.{column} of PostgreSQL type {pg_type}")]
    UnknownType {
        /// Table of the column.
        table: String,
        /// The column.
        column: String,
        /// Its PostgreSQL type name.
        pg_type: String,
    },
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    type_name: String,
    #[diesel(sql_type = Bool)]
    not_null: bool,
    #[diesel(sql_type = Nullable<Integer>)]
    max_length: Option<i32>,
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

#[derive(QueryableByName)]
struct ForeignKeyRow {
    #[diesel(sql_type = Text)]
    child: String,
    #[diesel(sql_type = Text)]
    child_column: String,
    #[diesel(sql_type = Text)]
    parent: String,
    #[diesel(sql_type = Bool)]
    references_primary_key: bool,
}

const COLUMNS_SQL: &str = "\
SELECT c.relname::text AS table_name, a.attname::text AS column_name,
       t.typname::text AS type_name, a.attnotnull AS not_null,
       CASE WHEN t.typname IN ('varchar', 'bpchar') AND a.atttypmod > 4
            THEN a.atttypmod - 4 END AS max_length
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum";

const PRIMARY_KEYS_SQL: &str = "\
SELECT c.relname::text AS table_name, a.attname::text AS column_name
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
WHERE i.indisprimary AND n.nspname = current_schema()
ORDER BY c.relname, k.position";

const FOREIGN_KEYS_SQL: &str = "\
SELECT child.relname::text AS child, ca.attname::text AS child_column,
       parent.relname::text AS parent,
       EXISTS (SELECT 1 FROM pg_index i
               WHERE i.indrelid = con.confrelid AND i.indisprimary
                 AND i.indnkeyatts = 1 AND i.indkey[0] = con.confkey[1])
         AS references_primary_key
FROM pg_constraint con
JOIN pg_class child ON child.oid = con.conrelid
JOIN pg_class parent ON parent.oid = con.confrelid
JOIN pg_namespace n ON n.oid = child.relnamespace
JOIN pg_attribute ca ON ca.attrelid = con.conrelid AND ca.attnum = con.conkey[1]
WHERE con.contype = 'f' AND n.nspname = current_schema()
  AND array_length(con.conkey, 1) = 1
ORDER BY child.relname, ca.attname";

/// The diesel SQL type name for a PostgreSQL type name (`pg_type.typname`).
#[must_use]
pub fn diesel_type(pg_type: &str) -> Option<&'static str> {
    Some(match pg_type {
        "uuid" => "Uuid",
        "varchar" => "Varchar",
        "text" => "Text",
        "bpchar" => "Bpchar",
        "bool" => "Bool",
        "int2" => "Int2",
        "int4" => "Int4",
        "int8" => "Int8",
        "float4" => "Float4",
        "float8" => "Float8",
        "numeric" => "Numeric",
        "date" => "Date",
        "timestamp" => "Timestamp",
        "timestamptz" => "Timestamptz",
        "json" => "Json",
        "jsonb" => "Jsonb",
        "inet" => "Inet",
        "bytea" => "Bytea",
        _ => return None,
    })
}

struct Table {
    columns: Vec<ColumnRow>,
    primary_key: Vec<String>,
}

/// Reads the catalog of the current schema and renders it as `schema.rs` text.
///
/// # Errors
/// [`SchemaGenError`] when a catalog query fails or a column type has no mapping.
pub async fn render_schema(connection: &mut AsyncPgConnection) -> Result<String, SchemaGenError> {
    let columns: Vec<ColumnRow> = diesel::sql_query(COLUMNS_SQL).load(connection).await?;
    let keys: Vec<KeyRow> = diesel::sql_query(PRIMARY_KEYS_SQL).load(connection).await?;
    let foreign_keys: Vec<ForeignKeyRow> =
        diesel::sql_query(FOREIGN_KEYS_SQL).load(connection).await?;

    let skipped = |name: &str| SKIPPED_TABLES.contains(&name);
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    for column in columns {
        if skipped(&column.table_name) {
            continue;
        }
        tables
            .entry(column.table_name.clone())
            .or_insert_with(|| Table {
                columns: Vec::new(),
                primary_key: Vec::new(),
            })
            .columns
            .push(column);
    }
    for key in keys {
        if let Some(table) = tables.get_mut(&key.table_name) {
            table.primary_key.push(key.column_name);
        }
    }

    let mut out = String::from("// @generated automatically from the migrations by schema_gen.\n");
    out.push_str(
        "// Regenerate with `UPDATE_SCHEMA=1 cargo test -p adapters-postgres --test schema`.\n",
    );
    for (name, table) in &tables {
        render_table(&mut out, name, table)?;
    }

    // Like diesel print-schema: joinable! only for an unambiguous single-column foreign key
    // to the parent's primary key (several keys to the same parent cannot pick one join).
    let mut pairs: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for key in foreign_keys {
        if key.references_primary_key
            && key.child != key.parent
            && tables.contains_key(&key.child)
            && tables.contains_key(&key.parent)
        {
            pairs
                .entry((key.child, key.parent))
                .or_default()
                .push(key.child_column);
        }
    }
    let joinables: BTreeSet<String> = pairs
        .into_iter()
        .filter(|(_, columns)| columns.len() == 1)
        .map(|((child, parent), columns)| {
            format!("diesel::joinable!({child} -> {parent} ({}));\n", columns[0])
        })
        .collect();
    if !joinables.is_empty() {
        out.push('\n');
        for line in &joinables {
            out.push_str(line);
        }
    }

    out.push_str("\ndiesel::allow_tables_to_appear_in_same_query!(\n");
    for name in tables.keys() {
        let _ = writeln!(out, "    {name},");
    }
    out.push_str(");\n");
    Ok(out)
}

fn render_table(out: &mut String, name: &str, table: &Table) -> Result<(), SchemaGenError> {
    let _ = writeln!(out, "\ndiesel::table! {{");
    let _ = writeln!(out, "    {name} ({}) {{", table.primary_key.join(", "));
    for column in &table.columns {
        let sql_type =
            diesel_type(&column.type_name).ok_or_else(|| SchemaGenError::UnknownType {
                table: name.to_owned(),
                column: column.column_name.clone(),
                pg_type: column.type_name.clone(),
            })?;
        if let Some(length) = column.max_length {
            let _ = writeln!(out, "        #[max_length = {length}]");
        }
        let rendered = if column.not_null {
            sql_type.to_owned()
        } else {
            format!("Nullable<{sql_type}>")
        };
        let _ = writeln!(out, "        {} -> {rendered},", column.column_name);
    }
    let _ = writeln!(out, "    }}");
    let _ = writeln!(out, "}}");
    Ok(())
}
