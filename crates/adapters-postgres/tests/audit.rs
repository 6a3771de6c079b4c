//! `PgAuditLog` against a real PostgreSQL database: batched writes with every column of
//! contract 11.5, and the filtered, paginated listing.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use adapters_postgres::PgAuditLog;
use adapters_postgres::schema::audit_logs;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::UserId;
use ports::{AuditDecision, AuditQuery, AuditReader, AuditRecord, AuditSink};
use testkit::TestDatabase;
use time::{Duration, OffsetDateTime, macros::datetime};
use uuid::Uuid;

const ADMIN_USER: UserId = UserId(Uuid::from_u128(0x10));
const JOHN: UserId = UserId(Uuid::from_u128(0x2000_0000_0000_0000_0000_0000_0000_0001));
const T0: OffsetDateTime = datetime!(2026-06-01 12:00:00.123456 UTC);

fn record(user: UserId, resource: &str, allowed: bool, at: OffsetDateTime) -> AuditRecord {
    AuditRecord {
        user_id: user,
        action: format!("read_{resource}"),
        resource: resource.to_owned(),
        resource_id: Some(Uuid::now_v7()),
        decision: AuditDecision::from_allowed(allowed),
        reason: if allowed {
            "Access granted by RBAC and ABAC policies".to_owned()
        } else {
            "User can only access own tasks".to_owned()
        },
        ip_address: Some("203.0.113.7".parse::<IpAddr>().unwrap()),
        user_agent: Some("curl/8".to_owned()),
        request_id: format!("req-{}", Uuid::now_v7()),
        request_method: Some("GET".to_owned()),
        request_path: Some(format!("/api/v1/{resource}s/1")),
        context: serde_json::json!({"policy_type": if allowed { "combined" } else { "abac" }}),
        timestamp: at,
    }
}

async fn setup() -> (TestDatabase, PgAuditLog) {
    let database = TestDatabase::new().await;
    let log = PgAuditLog::new(database.pool().await);
    (database, log)
}

#[tokio::test]
async fn a_batch_is_written_with_every_column_and_read_back_unchanged() {
    let (db, log) = setup().await;
    let mut ipv6 = record(JOHN, "task", false, T0 + Duration::seconds(1));
    ipv6.ip_address = Some("2001:db8::1".parse().unwrap());
    ipv6.user_agent = None;
    ipv6.resource_id = None;
    let batch = vec![record(JOHN, "task", true, T0), ipv6];
    log.write_batch(&batch).await.unwrap();

    let page = log.list(&AuditQuery::default()).await.unwrap();
    assert_eq!(page.total, 2);
    let read: Vec<AuditRecord> = page.records.into_iter().map(|s| s.record).collect();
    assert_eq!(
        read,
        vec![batch[1].clone(), batch[0].clone()],
        "newest first"
    );

    // The raw row: inet column, jsonb context, UTC wall-clock timestamp.
    let mut connection = db.connect().await;
    let (ip, decision, context): (Option<ipnet::IpNet>, String, Option<serde_json::Value>) =
        audit_logs::table
            .filter(audit_logs::request_id.eq(&batch[0].request_id))
            .select((
                audit_logs::ip_address,
                audit_logs::decision,
                audit_logs::context,
            ))
            .first(&mut connection)
            .await
            .unwrap();
    assert_eq!(ip.unwrap().addr(), batch[0].ip_address.unwrap());
    assert_eq!(decision, "allowed");
    assert_eq!(context.unwrap()["policy_type"], "combined");
}

#[tokio::test]
async fn an_empty_batch_writes_nothing() {
    let (_db, log) = setup().await;
    log.write_batch(&[]).await.unwrap();
    assert_eq!(log.list(&AuditQuery::default()).await.unwrap().total, 0);
}

#[tokio::test]
async fn records_of_unknown_users_do_not_cost_the_rest_of_the_batch() {
    let (_db, log) = setup().await;
    let batch = vec![
        record(JOHN, "task", true, T0),
        record(UserId::new_v7(), "task", true, T0),
        record(ADMIN_USER, "user", true, T0),
    ];
    log.write_batch(&batch).await.unwrap();
    let page = log.list(&AuditQuery::default()).await.unwrap();
    assert_eq!(page.total, 2);
    let mut users: Vec<UserId> = page.records.iter().map(|s| s.record.user_id).collect();
    users.sort();
    assert_eq!(users, [ADMIN_USER, JOHN]);
}

#[tokio::test]
async fn listings_filter_by_user_resource_decision_and_time_and_paginate() {
    let (_db, log) = setup().await;
    let mut batch = Vec::new();
    for minute in 0..10 {
        let at = T0 + Duration::minutes(minute);
        batch.push(record(JOHN, "task", minute % 2 == 0, at));
        batch.push(record(ADMIN_USER, "user", true, at));
    }
    log.write_batch(&batch).await.unwrap();

    let johns = AuditQuery {
        user_id: Some(JOHN),
        ..AuditQuery::default()
    };
    assert_eq!(log.list(&johns).await.unwrap().total, 10);

    let denied_tasks = AuditQuery {
        resource: Some("task".to_owned()),
        decision: Some(AuditDecision::Denied),
        ..AuditQuery::default()
    };
    let page = log.list(&denied_tasks).await.unwrap();
    assert_eq!(page.total, 5);
    assert!(
        page.records
            .iter()
            .all(|s| s.record.decision == AuditDecision::Denied && s.record.user_id == JOHN)
    );

    let window = AuditQuery {
        since: Some(T0 + Duration::minutes(2)),
        until: Some(T0 + Duration::minutes(5)),
        ..AuditQuery::default()
    };
    assert_eq!(log.list(&window).await.unwrap().total, 6, "minutes 2, 3, 4");

    let first = AuditQuery {
        user_id: Some(ADMIN_USER),
        page: 1,
        page_size: 4,
        ..AuditQuery::default()
    };
    let page1 = log.list(&first).await.unwrap();
    assert_eq!(page1.total, 10);
    assert_eq!(page1.records.len(), 4);
    assert_eq!(page1.records[0].record.timestamp, T0 + Duration::minutes(9));
    let page3 = log
        .list(&AuditQuery {
            page: 3,
            ..first.clone()
        })
        .await
        .unwrap();
    assert_eq!(page3.records.len(), 2);
    assert_eq!(page3.records[1].record.timestamp, T0);
    let timestamps: Vec<OffsetDateTime> = page1
        .records
        .iter()
        .chain(&page3.records)
        .map(|s| s.record.timestamp)
        .collect();
    assert!(timestamps.windows(2).all(|w| w[0] > w[1]));
}

#[tokio::test]
async fn over_long_client_values_are_clipped_rather_than_failing_the_batch() {
    let (_db, log) = setup().await;
    let mut long = record(JOHN, "task", true, T0);
    long.request_id = "r".repeat(1_000);
    long.request_method = Some("X".repeat(40));
    log.write_batch(&[long, record(ADMIN_USER, "user", true, T0)])
        .await
        .unwrap();
    let page = log.list(&AuditQuery::default()).await.unwrap();
    assert_eq!(page.total, 2);
    let clipped = page
        .records
        .iter()
        .find(|s| s.record.user_id == JOHN)
        .unwrap();
    assert_eq!(clipped.record.request_id, "r".repeat(255));
    assert_eq!(
        clipped.record.request_method.as_deref(),
        Some("X".repeat(16).as_str())
    );
}
