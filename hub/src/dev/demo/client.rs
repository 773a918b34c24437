//! A small HTTP client of the hub, as an agency or a citizen uses it.

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::certs::AgencyCredentials;

/// Talks to one hub.
#[derive(Clone)]
pub struct HubClient {
    base: String,
    http: reqwest::Client,
}

impl HubClient {
    /// A client of the hub at `base`.
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// The hub's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request; returns the status and the JSON body (or null).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req
            .send()
            .await
            .with_context(|| format!("calling {path}"))?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await?;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, value))
    }

    /// POSTs JSON and expects `expected`; returns the body.
    pub async fn post(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: &Value,
        expected: u16,
    ) -> anyhow::Result<Value> {
        let (status, value) = self
            .send(reqwest::Method::POST, path, bearer, Some(body))
            .await?;
        if status != expected {
            bail!("POST {path}: expected {expected}, got {status}: {value}");
        }
        Ok(value)
    }

    /// GETs JSON and expects 200.
    pub async fn get(&self, path: &str, bearer: Option<&str>) -> anyhow::Result<Value> {
        let (status, value) = self.send(reqwest::Method::GET, path, bearer, None).await?;
        if status != 200 {
            bail!("GET {path}: expected 200, got {status}: {value}");
        }
        Ok(value)
    }

    /// A citizen activates their account with the code from their letter,
    /// choosing `password`, then signs in; returns the citizen token.
    pub async fn activate_and_sign_in(
        &self,
        common_id: &str,
        activation_code: &str,
        password: &str,
    ) -> anyhow::Result<String> {
        self.post(
            "/v1/citizen/activate",
            None,
            &json!({"common_id": common_id, "activation_code": activation_code, "password": password}),
            204,
        )
        .await?;
        let signed_in = self
            .post(
                "/v1/citizen/sign-in",
                None,
                &json!({"common_id": common_id, "password": password}),
                200,
            )
            .await?;
        signed_in["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("sign-in without token")
    }

    /// An access token for an agency: a `private_key_jwt` client assertion
    /// signed with its key, exchanged at the token endpoint.
    pub async fn agency_token(
        &self,
        agency_id: &str,
        credentials: &AgencyCredentials,
    ) -> anyhow::Result<String> {
        let token_endpoint = format!("{}/oauth/token", self.base);
        let now = chrono::Utc::now().timestamp();
        let claims = json!({
            "iss": agency_id, "sub": agency_id, "aud": token_endpoint,
            "iat": now, "exp": now + 60, "jti": uuid::Uuid::new_v4().to_string(),
        });
        let assertion =
            crate::secrets::jose::try_sign_jws("ES256", &credentials.key_pem, &json!({}), &claims)?;
        let form = client_credentials_form(&assertion);
        let res = self
            .http
            .post(&token_endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await?;
        let status = res.status();
        let body: Value = res.json().await?;
        if !status.is_success() {
            bail!("token for {agency_id}: {status}: {body}");
        }
        body["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("token response without access_token")
    }
}

/// The form body of a client-credentials token request with a
/// `private_key_jwt` client assertion (RFC 7523).
pub fn client_credentials_form(assertion: &str) -> String {
    format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion={assertion}",
        "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
    )
}
