//! Cost of one decision for a typical subject: the `user` role with its six permissions and
//! three attributes, reading an own task and a same-department task.

use std::hint::black_box;

use authz_engine::{ResourceRequest, Subject, SubjectRole, SubjectSnapshot, decide};
use criterion::{Criterion, criterion_group, criterion_main};
use domain::{Attribute, PermissionKey, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

fn typical_subject() -> Subject {
    let perms = [
        ("profile", "read"),
        ("profile", "update"),
        ("task", "create"),
        ("task", "read"),
        ("task", "update"),
        ("task", "delete"),
    ];
    Subject {
        user_id: UserId::from_uuid(Uuid::from_u128(1)),
        roles: vec![SubjectRole {
            name: "user".into(),
            expires_at: None,
            permissions: perms
                .iter()
                .map(|(r, a)| PermissionKey::new(*r, *a))
                .collect(),
        }],
        attributes: vec![
            Attribute::string("department", "Engineering"),
            Attribute::string("clearance_level", "2"),
            Attribute::string("location", "US-West"),
        ],
    }
}

fn bench_decide(c: &mut Criterion) {
    let subject = typical_subject();
    let snapshot = SubjectSnapshot::new(&subject, OffsetDateTime::now_utc());
    let own = ResourceRequest::task("read", Uuid::from_u128(10), subject.user_id, None);
    let department = ResourceRequest::task(
        "read",
        Uuid::from_u128(11),
        UserId::from_uuid(Uuid::from_u128(2)),
        Some("Engineering".into()),
    );
    c.bench_function("decide/own_task_read", |b| {
        b.iter(|| decide(black_box(&snapshot), black_box(&own)));
    });
    c.bench_function("decide/department_task_read", |b| {
        b.iter(|| decide(black_box(&snapshot), black_box(&department)));
    });
    c.bench_function("snapshot/new", |b| {
        b.iter(|| SubjectSnapshot::new(black_box(&subject), OffsetDateTime::UNIX_EPOCH));
    });
}

criterion_group!(benches, bench_decide);
criterion_main!(benches);
