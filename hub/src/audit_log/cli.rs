//! `crossroads audit …`: verify the log (from the database, or from the
//! public endpoints as an outside auditor) and print its checkpoint.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Subcommand;

use super::verify::{Verdict, verify_stored_from};
use crate::app::clock::Clock;
use crate::app::config::Config;
use crate::app::progress;
use crate::app::state::AppState;

/// The `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the log: from the database (recompute the whole tree, check
    /// every stored hash and checkpoint; with --since only what was
    /// appended after the checkpoint verified last time), or with --url
    /// from a hub's public endpoints as an outside auditor.
    Verify {
        /// A hub's base URL, e.g. https://hub.example.gov.
        #[arg(long, value_name = "URL", requires = "key")]
        url: Option<String>,
        /// The log's verifier key (`name+hash+base64key`).
        #[arg(long, value_name = "VERIFIER_KEY")]
        key: Option<String>,
        /// With --url: the checkpoint seen last time; the new one must be
        /// consistent with it, and replaces it.
        #[arg(long, value_name = "FILE", requires = "url")]
        state: Option<PathBuf>,
        /// From the database: the signed checkpoint verified last time;
        /// only the entries after it are verified (the whole log when the
        /// file does not exist yet), and on success the file is replaced
        /// by the latest checkpoint verified.
        #[arg(long, value_name = "FILE", conflicts_with = "url")]
        since: Option<PathBuf>,
    },
    /// Print the latest signed checkpoint.
    Checkpoint,
    /// Print the log's verifier key.
    VerifierKey,
    /// Accept the database's audit log as it is, after `serve` refused it
    /// as older than a checkpoint this hub signed (a restored backup): the
    /// kept checkpoint is replaced and the decision audited.
    AcceptDatabase,
}

/// Runs an `audit` subcommand; fails (exit 1) when verification fails.
pub fn run(command: AuditCommand, config: Config) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify {
            url: Some(url),
            key: Some(key),
            state,
            since: _,
        } => {
            let report = actix_web::rt::System::new().block_on(super::remote::verify_remote(
                &url,
                &key,
                state.as_deref(),
            ))?;
            match report.previous {
                Some(old) => println!(
                    "verified: {url} size {} root {} ({} tiles), consistent with size {old}",
                    report.size,
                    report.root.to_base64(),
                    report.tiles
                ),
                None => println!(
                    "verified: {url} size {} root {} ({} tiles)",
                    report.size,
                    report.root.to_base64(),
                    report.tiles
                ),
            }
            Ok(())
        }
        AuditCommand::Verify { key, since, .. } => {
            let state = open(config)?;
            let key = match key {
                Some(key) => audit::VerifierKey::parse(key.trim())?,
                None => state.audit.signer()?.verifier_key(),
            };
            let from = match &since {
                Some(path) if path.exists() => Some(remembered(path, &key)?),
                _ => None,
            };
            let bar = progress::bar(0, "verifying");
            let verdict = verify_stored_from(&state.pool, &key, key.name(), from.as_ref(), &bar);
            bar.finish_and_clear();
            match verdict? {
                Verdict::Verified {
                    size,
                    root,
                    checkpoints,
                    from,
                    latest,
                } => {
                    let root = root.to_base64();
                    let Some(path) = since else {
                        println!(
                            "verified: {size} entries, root {root}, {checkpoints} checkpoints"
                        );
                        return Ok(());
                    };
                    println!(
                        "verified: {size} entries, root {root}, {checkpoints} checkpoints; entries {from} to {size} since the checkpoint in {}",
                        path.display()
                    );
                    match latest {
                        Some(note) => {
                            let tmp = path.with_extension("tmp");
                            std::fs::write(&tmp, note)
                                .with_context(|| format!("cannot write {}", tmp.display()))?;
                            std::fs::rename(&tmp, &path)
                                .with_context(|| format!("cannot write {}", path.display()))?;
                        }
                        None => println!(
                            "no signed checkpoint yet: {} is left as it was",
                            path.display()
                        ),
                    }
                    Ok(())
                }
                Verdict::Mismatch {
                    first_bad_seq,
                    reason,
                } => bail!("audit log mismatch at sequence number {first_bad_seq}: {reason}"),
                Verdict::BadCheckpoint { size, reason } => {
                    bail!("stored checkpoint of size {size} is not valid: {reason}")
                }
            }
        }
        AuditCommand::Checkpoint => {
            let state = open(config)?;
            let mut conn = state.pool.get()?;
            print!("{}", state.audit.latest_checkpoint(&mut conn)?.note);
            Ok(())
        }
        AuditCommand::VerifierKey => {
            let state = open(config)?;
            println!("{}", state.audit.verifier_key()?);
            Ok(())
        }
        AuditCommand::AcceptDatabase => {
            let state = open(config)?;
            let mut conn = state.pool.get()?;
            let (before, size) = state.audit.accept_database(&mut conn)?;
            match before {
                Some(before) => println!(
                    "accepted: the log goes on from the database's {size} entries (the kept checkpoint had {before})"
                ),
                None => println!("accepted: the log goes on from the database's {size} entries"),
            }
            Ok(())
        }
    }
}

/// The checkpoint kept in `path` by an earlier `audit verify --since`: its
/// signature by `key` checked, of the log `key` names.
fn remembered(
    path: &std::path::Path,
    key: &audit::VerifierKey,
) -> anyhow::Result<audit::Checkpoint> {
    let note =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let checkpoint = audit::Checkpoint::parse_and_verify_with(&note, key).with_context(|| {
        format!(
            "the checkpoint remembered in {} does not verify",
            path.display()
        )
    })?;
    if checkpoint.origin != key.name() {
        bail!(
            "the checkpoint remembered in {} is of the log {:?}, not {:?}",
            path.display(),
            checkpoint.origin,
            key.name()
        );
    }
    Ok(checkpoint)
}

fn open(config: Config) -> anyhow::Result<AppState> {
    let state = AppState::new(config, Clock::System)?;
    crate::app::server::migrate(&state)?;
    Ok(state)
}
