//! Rate limits per client address and per agency (GCRA, with `governor`):
//! sign-in, activation and the second factor; the token endpoint; consent
//! requests; lookups. Over a limit the answer is `429 too_many_requests`
//! with `Retry-After`.
//!
//! The client's address is the peer's, unless the peer is one of the
//! `trusted_proxies`: then the right-most address of `X-Forwarded-For` that
//! is not itself a trusted proxy.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web;
use governor::clock::{Clock as _, DefaultClock};
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::app::config::Config;
use crate::app::state::AppState;
use crate::http::error::ApiError;

type Keyed<K> = RateLimiter<K, HashMapStateStore<K>, DefaultClock>;

/// Keys kept before idle ones are swept.
const SWEEP_ABOVE: usize = 100_000;

/// What a request is limited as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Sign-in and activation.
    SignIn,
    /// `POST /oauth/token`.
    Token,
    /// `POST /v1/consents/requests`.
    ConsentRequest,
    /// `POST /v1/lookups` and `/v1/lookups/batch` (each person counts).
    Lookup,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::SignIn => "sign-in attempts",
            Class::Token => "token requests",
            Class::ConsentRequest => "consent requests",
            Class::Lookup => "lookups",
        }
    }

    /// The class of a request, from its method and path.
    pub fn of(method: &Method, path: &str) -> Option<Class> {
        match (method.as_str(), path) {
            // (Replacing or removing the second factor needs a citizen
            // token first; the password and code it checks are counted on
            // the account like any sign-in.)
            ("POST", "/v1/citizen/sign-in" | "/v1/citizen/activate")
            | ("POST", "/portal/sign-in" | "/portal/activate") => Some(Class::SignIn),
            ("POST", "/oauth/token") => Some(Class::Token),
            ("POST", "/v1/consents/requests") => Some(Class::ConsentRequest),
            ("POST", "/v1/lookups" | "/v1/lookups/batch") => Some(Class::Lookup),
            _ => None,
        }
    }
}

struct Limit {
    by_address: Keyed<IpAddr>,
    by_agency: Keyed<String>,
}

impl Limit {
    fn new(quota: Option<Quota>) -> Option<Self> {
        quota.map(|q| Self {
            by_address: RateLimiter::hashmap(q),
            by_agency: RateLimiter::hashmap(q),
        })
    }
}

/// The hub's rate limits (an unlimited class has none).
pub struct RateLimits {
    sign_in: Option<Limit>,
    token: Option<Limit>,
    consent_requests: Option<Limit>,
    lookups: Option<Limit>,
    trusted: Vec<ipnet::IpNet>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("trusted", &self.trusted)
            .finish_non_exhaustive()
    }
}

fn per_minute(n: u32) -> Option<Quota> {
    NonZeroU32::new(n).map(Quota::per_minute)
}

fn per_second(n: u32) -> Option<Quota> {
    NonZeroU32::new(n).map(Quota::per_second)
}

impl RateLimits {
    /// The limits of `config`.
    pub fn new(config: &Config) -> Self {
        Self {
            sign_in: Limit::new(per_minute(config.rate_limit_sign_in_per_minute)),
            token: Limit::new(per_minute(config.rate_limit_token_per_minute)),
            consent_requests: Limit::new(per_minute(config.rate_limit_consent_requests_per_minute)),
            lookups: Limit::new(per_second(config.rate_limit_lookups_per_second)),
            trusted: config.trusted_proxy_networks(),
        }
    }

    fn limit(&self, class: Class) -> Option<&Limit> {
        match class {
            Class::SignIn => self.sign_in.as_ref(),
            Class::Token => self.token.as_ref(),
            Class::ConsentRequest => self.consent_requests.as_ref(),
            Class::Lookup => self.lookups.as_ref(),
        }
    }

    /// The client's address: the peer's, or, from a trusted proxy, the
    /// right-most untrusted address of `X-Forwarded-For`.
    pub fn client_address(
        &self,
        peer: Option<IpAddr>,
        forwarded_for: Option<&str>,
    ) -> Option<IpAddr> {
        let peer = peer?;
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        let Some(header) = forwarded_for else {
            return Some(peer);
        };
        let mut last = peer;
        for hop in header.rsplit(',').map(str::trim) {
            let Ok(addr) = hop.parse::<IpAddr>() else {
                // A hop that is not an address: the last one believed.
                return Some(last);
            };
            if !self.is_trusted(addr) {
                return Some(addr);
            }
            last = addr;
        }
        Some(last)
    }

    fn is_trusted(&self, addr: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&addr))
    }

    /// Counts `n` requests of `class` from `address`.
    pub fn check_address(&self, class: Class, address: IpAddr, n: u32) -> Result<(), ApiError> {
        let Some(limit) = self.limit(class) else {
            return Ok(());
        };
        if limit.by_address.len() > SWEEP_ABOVE {
            limit.by_address.retain_recent();
        }
        verdict(
            class,
            "address",
            limit.by_address.check_key_n(&address, nonzero(n)),
        )
    }

    /// Counts `n` requests of `class` by `agency` (once its credentials
    /// are verified).
    pub fn check_agency(&self, class: Class, agency: &str, n: u32) -> Result<(), ApiError> {
        let Some(limit) = self.limit(class) else {
            return Ok(());
        };
        if limit.by_agency.len() > SWEEP_ABOVE {
            limit.by_agency.retain_recent();
        }
        verdict(
            class,
            "agency",
            limit.by_agency.check_key_n(&agency.to_owned(), nonzero(n)),
        )
    }
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

fn verdict(
    class: Class,
    per: &'static str,
    result: Result<
        Result<(), governor::NotUntil<<DefaultClock as governor::clock::Clock>::Instant>>,
        governor::InsufficientCapacity,
    >,
) -> Result<(), ApiError> {
    let wait = match result {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(not_until)) => not_until.wait_time_from(DefaultClock::default().now()),
        // More at once than the limit allows at all (a batch larger than
        // the per-second lookups, say): a minute is a safe wait.
        Err(_) => Duration::from_secs(60),
    };
    Err(ApiError::RateLimited {
        detail: format!("too many {} from this {per}; slow down", class.name()),
        retry_after_secs: wait.as_secs().max(1),
    })
}

/// Limits requests per client address, before anything else is done for
/// them. (Per-agency limits are checked where the agency is known.)
pub async fn by_address(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Some(class) = Class::of(req.method(), req.path())
        && let Some(state) = req.app_data::<web::Data<AppState>>()
    {
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        let peer = req.peer_addr().map(|a| a.ip());
        if let Some(address) = state.rate_limits.client_address(peer, forwarded)
            && let Err(refused) = state.rate_limits.check_address(class, address, 1)
        {
            return Ok(req.error_response(refused).map_into_boxed_body());
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(trusted: &[&str]) -> RateLimits {
        let config = Config {
            trusted_proxies: trusted.iter().map(|s| (*s).to_owned()).collect(),
            rate_limit_sign_in_per_minute: 3,
            rate_limit_lookups_per_second: 0,
            ..Config::default()
        };
        RateLimits::new(&config)
    }

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        let untrusted = limits(&[]);
        assert_eq!(
            untrusted.client_address(Some(peer), Some("203.0.113.9")),
            Some(peer)
        );
        let trusting = limits(&["10.0.0.0/8"]);
        assert_eq!(
            trusting.client_address(Some(peer), Some("203.0.113.9")),
            Some("203.0.113.9".parse().unwrap())
        );
        // A client cannot hide behind an address it writes itself: the
        // right-most untrusted hop counts.
        assert_eq!(
            trusting.client_address(Some(peer), Some("198.51.100.1, 203.0.113.9, 10.0.0.7")),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(
            trusting.client_address(Some(peer), Some("junk, 10.0.0.7")),
            Some("10.0.0.7".parse().unwrap())
        );
        assert_eq!(trusting.client_address(Some(peer), None), Some(peer));
    }

    #[test]
    fn limits_count_per_key_and_unlimited_classes_pass() {
        let limits = limits(&[]);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            limits.check_address(Class::SignIn, a, 1).unwrap();
        }
        let refused = limits.check_address(Class::SignIn, a, 1).unwrap_err();
        assert!(matches!(
            refused,
            ApiError::RateLimited { retry_after_secs, .. } if (1..=20).contains(&retry_after_secs)
        ));
        limits.check_address(Class::SignIn, b, 1).unwrap();
        for _ in 0..1000 {
            limits.check_address(Class::Lookup, a, 1).unwrap();
        }
    }
}
