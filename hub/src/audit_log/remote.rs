//! `crossroads audit verify --url URL --key KEY`: verification from the
//! public endpoints alone, as an outside auditor (or a witness) does it.
//!
//! It fetches the latest checkpoint and checks its signature, fetches every
//! tile of the tree to recompute the root and every stored hash, and checks
//! that the tree extends the checkpoint it saw last time (kept in a state
//! file), with the hub's consistency proof and by recomputation.

use std::path::Path;

use anyhow::{Context as _, bail};
use audit::{Checkpoint, Hash, MemoryLog, VerifierKey};

/// What an outside verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteReport {
    /// The verified checkpoint's size.
    pub size: u64,
    /// Its root.
    pub root: Hash,
    /// The size of the checkpoint remembered from the last run, if any.
    pub previous: Option<u64>,
    /// Number of tiles fetched and checked.
    pub tiles: usize,
}

/// The body of `GET /log/proof/consistency`.
#[derive(Debug, serde::Deserialize)]
struct ConsistencyBody {
    proof: Vec<String>,
}

async fn fetch(client: &reqwest::Client, url: &str) -> anyhow::Result<reqwest::Response> {
    let res = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    if !res.status().is_success() {
        bail!("GET {url}: {}", res.status());
    }
    Ok(res)
}

/// Verifies the log published at `base_url` with `verifier_key`; with
/// `state`, checks consistency with the checkpoint remembered there and
/// then remembers the new one.
pub async fn verify_remote(
    base_url: &str,
    verifier_key: &str,
    state: Option<&Path>,
) -> anyhow::Result<RemoteReport> {
    let base = base_url.trim_end_matches('/');
    let key = VerifierKey::parse(verifier_key.trim()).context("--key")?;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let note = fetch(&client, &format!("{base}/log/checkpoint"))
        .await?
        .text()
        .await?;
    let checkpoint =
        Checkpoint::parse_and_verify_with(&note, &key).context("the checkpoint does not verify")?;

    // Every leaf hash, from the level-0 tiles; then the tree.
    let tiles = audit::tiles_for_size(checkpoint.size);
    let mut log = MemoryLog::new();
    let mut leaves = Vec::with_capacity(usize::try_from(checkpoint.size).unwrap_or(0));
    for tile in tiles.iter().filter(|t| t.level == 0) {
        let data = fetch(&client, &format!("{base}/log/{}", tile.path()))
            .await?
            .bytes()
            .await?;
        if data.len() != usize::from(tile.width) * Hash::LEN {
            bail!(
                "{tile}: {} bytes, expected {}",
                data.len(),
                usize::from(tile.width) * Hash::LEN
            );
        }
        leaves.extend(data.chunks_exact(Hash::LEN).filter_map(Hash::from_slice));
    }
    log.append_leaves(&leaves)?;
    let root = log.root()?;
    if root != checkpoint.root_hash {
        bail!(
            "the tiles give root {} but the checkpoint of size {} says {}",
            root.to_base64(),
            checkpoint.size,
            checkpoint.root_hash.to_base64()
        );
    }
    // The higher tiles must hold the hashes the leaves imply.
    for tile in tiles.iter().filter(|t| t.level > 0) {
        let data = fetch(&client, &format!("{base}/log/{}", tile.path()))
            .await?
            .bytes()
            .await?;
        if data.as_ref() != audit::tile::read_tile_data(tile, &log)?.as_slice() {
            bail!("{tile} does not hold the hashes of the tree");
        }
    }

    // The witness: the new tree extends the one seen last time.
    let mut previous = None;
    if let Some(state) = state
        && state.exists()
    {
        let old_note = std::fs::read_to_string(state)
            .with_context(|| format!("cannot read {}", state.display()))?;
        let old = Checkpoint::parse_and_verify_with(&old_note, &key).with_context(|| {
            format!(
                "the checkpoint remembered in {} does not verify",
                state.display()
            )
        })?;
        if old.size > checkpoint.size {
            bail!(
                "the log shrank: {} remembers size {}, the hub now shows {}",
                state.display(),
                old.size,
                checkpoint.size
            );
        }
        if log.root_at(old.size)? != old.root_hash {
            bail!(
                "the log was rewritten: the first {} entries no longer have the remembered root",
                old.size
            );
        }
        if old.size > 0 {
            let body: ConsistencyBody = fetch(
                &client,
                &format!(
                    "{base}/log/proof/consistency?from={}&to={}",
                    old.size, checkpoint.size
                ),
            )
            .await?
            .json()
            .await?;
            let proof = body
                .proof
                .iter()
                .map(|h| Hash::from_base64(h))
                .collect::<Result<Vec<_>, _>>()?;
            audit::verify_consistency(
                old.size,
                checkpoint.size,
                &old.root_hash,
                &checkpoint.root_hash,
                &proof,
            )
            .context("the hub's consistency proof does not verify")?;
        }
        previous = Some(old.size);
    }
    if let Some(state) = state {
        let tmp = state.with_extension("tmp");
        std::fs::write(&tmp, &note).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, state)
            .with_context(|| format!("cannot write {}", state.display()))?;
    }
    Ok(RemoteReport {
        size: checkpoint.size,
        root,
        previous,
        tiles: tiles.len(),
    })
}
