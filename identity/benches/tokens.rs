//! Hub access tokens: issued per second and verified per second (full
//! verification: header, key lookup, EdDSA signature, claims).

use std::hint::black_box;

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use identity::jwt::{
    AccessTokenClaims, Audience, Confirmation, HubTokenExpectations, issue_access_token,
    verify_hub_token,
};
use identity::keys::{KeyRing, SigningKey};

const HUB: &str = "https://hub.example.gov";
const API: &str = "https://hub.example.gov/api";

fn claims(now: DateTime<Utc>) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: HUB.into(),
        sub: "BE-0123456789".into(),
        aud: Audience::One(API.into()),
        exp: now.timestamp() + 300,
        iat: now.timestamp(),
        nbf: None,
        jti: "b0e5b1f6-9f57-4a55-9cf3-0bb8f4f0a0c1".into(),
        scope: "lookup:person.address@1 lookup:person.household@1".into(),
        client_id: Some("BE-0123456789".into()),
        cnf: Some(Confirmation {
            x5t_s256: "nwRPd9ETHz7oYuB2riyobQGKvXXQPaCiak8DOrZc6ag".into(),
        }),
    }
}

fn tokens(c: &mut Criterion) {
    if identity::jose::install_crypto().is_err() {
        return;
    }
    let Ok((key, _)) = SigningKey::generate() else {
        return;
    };
    let mut ring = KeyRing::new(key);
    // One retired key still published, as after a rotation.
    let now = DateTime::from_timestamp(1_900_000_000, 0).unwrap_or_default();
    if let Ok((next, _)) = SigningKey::generate() {
        let _ = ring.rotate(next, now, Duration::minutes(10));
    }
    let claims = claims(now);
    let expected = HubTokenExpectations {
        issuer: HUB,
        audience: API,
        typ: "at+jwt",
    };

    let mut group = c.benchmark_group("access_token");
    group.throughput(Throughput::Elements(1));
    group.bench_function("issue", |b| {
        b.iter(|| issue_access_token(black_box(&claims), &ring))
    });
    let Ok(token) = issue_access_token(&claims, &ring) else {
        return;
    };
    group.bench_function("verify", |b| {
        b.iter(|| {
            verify_hub_token::<AccessTokenClaims>(
                black_box(&token),
                &ring,
                &expected,
                now,
                Duration::seconds(30),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, tokens);
criterion_main!(benches);
