//! Hub access tokens: issued per second, verified per second in full, and
//! verified per second through the cache that agency requests use.

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use hub::http::callers::agency::{HubAccessClaims, TokenCache};
use identity::jwt::{
    ACCESS_TOKEN_TYPE, AccessTokenClaims, Audience, HubTokenExpectations, sign_token,
    verify_hub_token,
};
use identity::keys::{KeyRing, SigningKey};

fn claims(now: i64, n: u64) -> HubAccessClaims {
    HubAccessClaims {
        standard: AccessTokenClaims {
            iss: "https://hub.example".to_owned(),
            sub: "BE-0123456789".to_owned(),
            aud: Audience::One("https://hub.example".to_owned()),
            exp: now + 600,
            iat: now,
            nbf: None,
            jti: format!("token-{n}"),
            scope: "consumer".to_owned(),
            client_id: Some("BE-0123456789".to_owned()),
            cnf: None,
        },
        certificate: "4Oq9yqT1gFkK3xA1y7ZKc8f5mKxG7m4yQ2wR8mWq9tA".to_owned(),
    }
}

fn digest(token: &str) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn bench(c: &mut Criterion) {
    if provider::install_crypto().is_err() {
        return;
    }
    let Ok((key, _)) = SigningKey::generate() else {
        return;
    };
    let ring = KeyRing::new(key);
    let now = Utc::now();
    let mut n = 0u64;
    c.bench_function("access_token_issue", |b| {
        b.iter(|| {
            n += 1;
            sign_token(
                &claims(now.timestamp(), n),
                ring.current(),
                ACCESS_TOKEN_TYPE,
            )
        })
    });
    let token = sign_token(
        &claims(now.timestamp(), 0),
        ring.current(),
        ACCESS_TOKEN_TYPE,
    )
    .unwrap_or_default();
    let expected = HubTokenExpectations {
        issuer: "https://hub.example",
        audience: "https://hub.example",
        typ: ACCESS_TOKEN_TYPE,
    };
    c.bench_function("access_token_verify_uncached", |b| {
        b.iter(|| {
            verify_hub_token::<HubAccessClaims>(
                &token,
                &ring,
                &expected,
                now,
                chrono::Duration::seconds(30),
            )
        })
    });
    let cache = TokenCache::default();
    if let Ok(verified) = verify_hub_token::<HubAccessClaims>(
        &token,
        &ring,
        &expected,
        now,
        chrono::Duration::seconds(30),
    ) {
        cache.put_token(digest(&token), verified, now.timestamp());
    }
    c.bench_function("access_token_verify_cached", |b| {
        b.iter(|| cache.token(&digest(&token), now.timestamp()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
