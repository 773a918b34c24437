//! The outbound side of webhooks: which URLs an agency may register, and
//! the HTTP client that posts batches to them.
//!
//! A webhook URL is `https://` (plain `http://` only with
//! `allow_insecure_webhooks`), and its target must be a public address
//! unless `webhook_allow_private` is set. The check is made on the address
//! connected to: the client resolves names itself and connects only to
//! the public addresses a name resolved to, so a name that resolves to a
//! public address when registered and to a private one later (DNS
//! rebinding) is refused at delivery. Redirects are never followed, and
//! every call is bounded in time.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ipnet::IpNet;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::app::config::Config;
use crate::http::error::ApiError;

/// The longest webhook URL.
const MAX_URL: usize = 2_000;
/// Most bytes of a webhook's answer that are read (and thrown away).
const MAX_ANSWER: usize = 64 * 1024;

/// Address ranges that are not public: loopback, private, shared, link-local,
/// multicast, documentation, benchmarking, reserved and the like.
static NOT_PUBLIC: LazyLock<Vec<IpNet>> = LazyLock::new(|| {
    [
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "2002::/16",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    ]
    .iter()
    .filter_map(|net| net.parse().ok())
    .collect()
});

/// Whether `ip` is a public address. IPv4 addresses inside IPv6 ones
/// (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64
/// `64:ff9b::a.b.c.d`) are judged as the IPv4 address they carry.
pub fn is_public(ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            let octets = v6.octets();
            let embedded = std::net::Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
            if let Some(v4) = v6.to_ipv4_mapped() {
                IpAddr::V4(v4)
            } else if (segments[..6] == [0, 0, 0, 0, 0, 0]
                && !v6.is_loopback()
                && !v6.is_unspecified())
                || segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
            {
                IpAddr::V4(embedded)
            } else {
                IpAddr::V6(v6)
            }
        }
        v4 => v4,
    };
    !NOT_PUBLIC.iter().any(|net| net.contains(&ip))
}

fn refused(detail: impl Into<String>) -> ApiError {
    ApiError::invalid("invalid_webhook_url", detail)
}

/// Checks a webhook URL as an agency registers it.
pub fn check_url(text: &str, config: &Config) -> Result<Url, ApiError> {
    if text.len() > MAX_URL {
        return Err(refused(format!(
            "webhook_url: at most {MAX_URL} characters"
        )));
    }
    let url = Url::parse(text).map_err(|e| refused(format!("webhook_url: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if config.allow_insecure_webhooks => {}
        _ => {
            return Err(refused("webhook_url: must be an https:// URL"));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused("webhook_url: must not carry credentials"));
    }
    if url.fragment().is_some() {
        return Err(refused("webhook_url: must not have a fragment"));
    }
    check_host(&url, config)?;
    Ok(url)
}

/// Refuses a URL whose host is a non-public address, or a name that is
/// always one (`localhost`), unless private targets are allowed. Names are
/// checked again, on their resolved addresses, at each delivery.
fn check_host(url: &Url, config: &Config) -> Result<(), ApiError> {
    if config.webhook_allow_private {
        return Ok(());
    }
    match url.host() {
        None => Err(refused("webhook_url: has no host")),
        Some(url::Host::Ipv4(ip)) if !is_public(IpAddr::V4(ip)) => Err(refused(format!(
            "webhook_url: {ip} is not a public address"
        ))),
        Some(url::Host::Ipv6(ip)) if !is_public(IpAddr::V6(ip)) => Err(refused(format!(
            "webhook_url: {ip} is not a public address"
        ))),
        Some(url::Host::Domain(name))
            if name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost") =>
        {
            Err(refused("webhook_url: localhost is not a public address"))
        }
        Some(_) => Ok(()),
    }
}

/// Resolves names and keeps only the addresses a webhook may reach.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// The client that posts webhook batches: no redirects, no proxies,
/// bounded in time, and (unless private targets are allowed) connecting
/// only to public addresses.
pub fn client(config: &Config) -> Result<reqwest::Client, ApiError> {
    let timeout = Duration::from_secs(u64::from(config.webhook_timeout_secs));
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("crossroads-hub/", env!("CARGO_PKG_VERSION")));
    if !config.webhook_allow_private {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    builder
        .build()
        .map_err(|e| ApiError::internal_from("webhook HTTP client", e))
}

/// Posts one signed batch; `Err` says why the webhook did not take it.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    config: &Config,
    body: String,
) -> Result<(), String> {
    // The URL was checked when registered; the configuration may have
    // changed since, and literal addresses never reach the resolver.
    let url = check_url(url, config).map_err(|e| e.to_string())?;
    let response = client
        .post(url)
        .header("content-type", "application/jwt")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "no answer in time".to_owned()
            } else if e.is_connect() {
                format!(
                    "cannot connect: {}",
                    std::error::Error::source(&e)
                        .map_or_else(|| e.to_string(), ToString::to_string)
                )
            } else {
                format!("request failed: {e}")
            }
        })?;
    let status = response.status();
    // Read (a bounded part of) the answer so the connection can be reused.
    let mut response = response;
    let mut read = 0;
    while let Ok(Some(chunk)) = response.chunk().await {
        read += chunk.len();
        if read > MAX_ANSWER {
            break;
        }
    }
    if status.is_success() {
        Ok(())
    } else if status.is_redirection() {
        Err(format!("answered {status}; redirects are not followed"))
    } else {
        Err(format!("answered {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_and_not_public_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "193.191.245.1",
            "2a02:1800::1",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_are_checked() {
        let strict = Config::default();
        for bad in [
            "http://agency.example/hook",
            "ftp://agency.example/hook",
            "https://127.0.0.1/hook",
            "https://[::1]/hook",
            "https://[::ffff:10.0.0.1]/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://localhost/hook",
            "https://hub.localhost/hook",
            "https://user:pw@agency.example/hook",
            "https://agency.example/hook#frag",
            "not a url",
            "https://0x7f000001/hook",
            "https://2130706433/hook",
        ] {
            assert!(check_url(bad, &strict).is_err(), "{bad}");
        }
        assert!(check_url("https://agency.example/hook?x=1", &strict).is_ok());
        let demo = Config {
            allow_insecure_webhooks: true,
            webhook_allow_private: true,
            ..Config::default()
        };
        assert!(check_url("http://127.0.0.1:9000/notifications", &demo).is_ok());
    }

    #[tokio::test]
    async fn names_that_resolve_to_private_addresses_are_not_reached() {
        provider::install_crypto().unwrap();
        let client = client(&Config::default()).unwrap();
        // `localhost` resolves to loopback only: refused at connection,
        // even though a name passes the registration check.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("https://localhost:{port}/hook");
        let sent = client.post(&url).body("x").send().await;
        let error = sent.unwrap_err();
        let chain = format!("{error:?}");
        assert!(chain.contains("no public address"), "{chain}");
    }
}
