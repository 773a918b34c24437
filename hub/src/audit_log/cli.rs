//! `crossroads audit …`: verify the log (from the database, or from the
//! public endpoints as an outside auditor) and print its checkpoint.

use std::path::PathBuf;

use anyhow::bail;
use clap::Subcommand;

use super::verify::{Verdict, verify_stored};
use crate::app::clock::Clock;
use crate::app::config::Config;
use crate::app::state::AppState;

/// The `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the log: from the database (recompute the whole tree, check
    /// every stored hash and checkpoint), or with --url from a hub's public
    /// endpoints as an outside auditor.
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
        AuditCommand::Verify { key, .. } => {
            let state = open(config)?;
            let key = match key {
                Some(key) => audit::VerifierKey::parse(key.trim())?,
                None => state.audit.signer()?.verifier_key(),
            };
            match verify_stored(&state.pool, &key, key.name())? {
                Verdict::Verified {
                    size,
                    root,
                    checkpoints,
                } => {
                    println!(
                        "verified: {size} entries, root {}, {checkpoints} checkpoints",
                        root.to_base64()
                    );
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

fn open(config: Config) -> anyhow::Result<AppState> {
    let state = AppState::new(config, Clock::System)?;
    crate::app::server::migrate(&state)?;
    Ok(state)
}
