//! `crossroads demo --scenario-file <path>`: after the story, a second
//! person who has not signed in yet, with a pending consent request and a
//! file declared in the directory, and a JSON file that lets a test (the
//! portal's browser test) play that person and the consumer agency: the
//! hub's URL, the person's common ID and activation code, the consent id,
//! and where the agencies' private keys are. Only ever written on request,
//! into the demo's own data directory; nothing of it is served.

use std::path::Path;

use anyhow::Context;
use serde_json::json;

use super::client::HubClient;

/// What the scenario needs from the story.
pub struct Cast<'a> {
    /// The hub's base URL.
    pub hub_url: &'a str,
    /// The demo's data directory.
    pub data_dir: &'a Path,
    /// The consumer agency's id, access token and private key (PKCS#8 PEM).
    pub consumer: (&'a str, &'a str, &'a str),
    /// A registrar's id, access token (declares the file) and private key
    /// (PKCS#8 PEM).
    pub registrar: (&'a str, &'a str, &'a str),
    /// The person, and their activation code.
    pub person: (&'a str, &'a str),
}

/// Sets the scene and writes the scenario file.
pub async fn write(hub: &HubClient, cast: Cast<'_>, path: &Path) -> anyhow::Result<()> {
    let (consumer, consumer_token, key_pem) = cast.consumer;
    let (registrar, registrar_token, registrar_key_pem) = cast.registrar;
    let (person, activation_code) = cast.person;
    let until = (chrono::Utc::now() + chrono::Duration::days(180)).to_rfc3339();
    let request = hub
        .post(
            "/v1/consents/requests",
            Some(consumer_token),
            &json!({"person": person, "record_types": ["tax.income-statement@1"], "purpose": "benefit-eligibility",
                    "valid_until": until, "frequency": {"kind": "max_per", "count": 4, "period": "month"}}),
            201,
        )
        .await?;
    // The register is the authentic source of the person's address; the
    // benefits agency keeps a file on them. The citizen sees both.
    hub.post(
        "/v1/references",
        Some(registrar_token),
        &json!({"person": person, "kind": "source", "record_type": "person.address@1", "capacity": "resident"}),
        201,
    )
    .await?;
    hub.post(
        "/v1/references",
        Some(consumer_token),
        &json!({"person": person, "kind": "file", "capacity": "beneficiary"}),
        201,
    )
    .await?;
    let key_file = write_key(cast.data_dir, "consumer-key.pem", key_pem)?;
    let registrar_key_file = write_key(cast.data_dir, "registrar-key.pem", registrar_key_pem)?;
    let scenario = json!({
        "hub_url": cast.hub_url,
        "token_endpoint": format!("{}/oauth/token", cast.hub_url),
        "citizen": {"common_id": person, "activation_code": activation_code},
        "consent_id": request["id"],
        "consumer": {"id": consumer, "key_file": key_file, "alg": "ES256"},
        "registrar": {"id": registrar, "key_file": registrar_key_file, "alg": "ES256"},
        "lookup": {"record_type": "tax.income-statement@1", "purpose": "benefit-eligibility"},
    });
    let text = serde_json::to_string_pretty(&scenario)?;
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    println!("\nScenario for tests written to {}", path.display());
    Ok(())
}

/// Writes an agency's private key into the demo's data directory, as a
/// secret file (0600, never overwritten).
fn write_key(data_dir: &Path, name: &str, pem: &str) -> anyhow::Result<std::path::PathBuf> {
    let file = data_dir.join(name);
    let created = crate::secrets::write_new(&file, pem.as_bytes())
        .with_context(|| format!("cannot write {}", file.display()))?;
    anyhow::ensure!(created, "{} exists already", file.display());
    Ok(file)
}
