//! `crossroads keys …`: the hub's signing keys.

use clap::Subcommand;

use crate::app::clock::from_db;
use crate::app::state::AppState;
use crate::secrets::keys::{self, KeyStoreError};
use crate::services::signing_keys;

/// Key subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new signing key; the old ones stay published until every token
    /// they signed has expired.
    Rotate,
    /// List the hub's keys.
    List,
}

/// Runs a key subcommand against the database of `state`.
pub fn run(command: KeysCommand, state: &AppState) -> anyhow::Result<()> {
    let mut conn = state.pool.get()?;
    let now = state.clock.now();
    match command {
        KeysCommand::Rotate => {
            // Make sure a first key exists, so that rotation retires it.
            keys::load(&mut conn, &state.config, now)?;
            // A database failure rolls the rotation back (and may be
            // retried); any other failure happens before the key is stored
            // and is reported as it is.
            let kid = state.change_blocking(&mut conn, |conn| {
                match keys::rotate(conn, &state.config, now) {
                    Ok(kid) => {
                        let event = crate::audit_log::actions::by_console("key.rotated")?
                            .with_details(serde_json::json!({"kid": kid}));
                        Ok((Ok(kid), vec![event]))
                    }
                    Err(KeyStoreError::Store(e)) => Err(e.into()),
                    Err(other) => Ok((Err(other), Vec::new())),
                }
            })??;
            println!("{kid}");
        }
        KeysCommand::List => {
            for row in signing_keys::list(&mut conn)? {
                let status = match (row.retired_at, row.publish_until) {
                    (None, _) => "current".to_owned(),
                    (Some(_), Some(until)) if from_db(until) >= now => {
                        format!("retired, published until {}", from_db(until).to_rfc3339())
                    }
                    _ => "retired".to_owned(),
                };
                println!(
                    "{}\t{}\t{status}",
                    row.kid,
                    from_db(row.created_at).to_rfc3339()
                );
            }
        }
    }
    Ok(())
}
