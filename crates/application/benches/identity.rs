//! Identity hot paths: signing and verifying access tokens, and bcrypt at the default cost
//! (one verification, and 20 concurrent verifications through the bounded hasher, which is
//! what a burst of 20 logins costs).

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use application::identity::{JwtSettings, PasswordHasher, TokenCodec, TokenUse};
use criterion::{Criterion, criterion_group, criterion_main};
use domain::UserId;
use ports::AccessGrants;
use time::OffsetDateTime;

fn codec() -> TokenCodec {
    TokenCodec::new(&JwtSettings {
        secret: "bench-secret-of-a-realistic-length-0123456789".into(),
        access_ttl: Duration::from_secs(3600),
        refresh_ttl: Duration::from_secs(7 * 24 * 3600),
    })
    .unwrap()
}

fn admin_grants() -> AccessGrants {
    AccessGrants {
        roles: vec!["admin".into(), "user".into()],
        permissions: [
            "audit:read",
            "profile:delete",
            "profile:read",
            "profile:update",
            "role:manage",
            "system:admin",
            "task:assign",
            "task:create",
            "task:delete",
            "task:read",
            "task:update",
            "user:assign_role",
            "user:create",
            "user:delete",
            "user:read",
            "user:revoke_role",
            "user:update",
        ]
        .map(String::from)
        .to_vec(),
    }
}

fn jwt(c: &mut Criterion) {
    let codec = codec();
    let grants = admin_grants();
    let user = UserId::new_v7();
    let mut group = c.benchmark_group("jwt");
    group.bench_function("sign_access_token", |b| {
        b.iter(|| {
            codec
                .issue_access(black_box(user), &grants, OffsetDateTime::now_utc())
                .unwrap()
        });
    });
    let token = codec
        .issue_access(user, &grants, OffsetDateTime::now_utc())
        .unwrap()
        .token;
    group.bench_function("verify_access_token", |b| {
        b.iter(|| {
            codec
                .verify(
                    black_box(&token),
                    TokenUse::Access,
                    OffsetDateTime::now_utc(),
                )
                .unwrap()
                .access_identity()
                .unwrap()
        });
    });
    group.finish();
}

fn bcrypt_cost_10(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let hasher = PasswordHasher::new(10);
    let hash = runtime.block_on(hasher.hash("Secure@123")).unwrap();
    let mut group = c.benchmark_group("bcrypt_cost_10");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("verify_one", |b| {
        b.iter(|| assert!(runtime.block_on(hasher.verify("Secure@123", &hash))));
    });
    group.bench_function("verify_20_concurrent", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut tasks = tokio::task::JoinSet::new();
                for _ in 0..20 {
                    let hasher = hasher.clone();
                    let hash = hash.clone();
                    tasks.spawn(async move { hasher.verify("Secure@123", &hash).await });
                }
                while let Some(ok) = tasks.join_next().await {
                    assert!(ok.unwrap());
                }
            });
        });
    });
    group.finish();
}

criterion_group!(benches, jwt, bcrypt_cost_10);
criterion_main!(benches);
