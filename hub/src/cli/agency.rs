//! `crossroads agency …`: onboard and manage agencies from the command line.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use crate::app::state::AppState;
use crate::http::error::ApiError;
use crate::services::DbConnection;
use crate::services::agencies::{self, NewAgency};

/// Agency subcommands.
#[derive(Debug, Subcommand)]
pub enum AgencyCommand {
    /// Onboard an agency with one or more PEM certificates.
    Add {
        /// Identifier, e.g. BE-0123456789.
        #[arg(long)]
        id: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// Sector: civil, social, tax, health, employment, education, justice, other.
        #[arg(long)]
        sector: String,
        /// Roles, comma-separated: consumer, provider, registrar.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// For providers: the base URL the hub calls.
        #[arg(long)]
        endpoint_url: Option<String>,
        /// common_id or sector_pseudonym.
        #[arg(long, default_value = "common_id")]
        identifier_policy: String,
        /// PEM certificate file(s).
        #[arg(long = "cert", required = true)]
        certs: Vec<PathBuf>,
    },
    /// List agencies.
    List,
    /// Suspend an agency: its tokens stop working.
    Suspend {
        /// Identifier.
        id: String,
    },
    /// Reactivate a suspended agency.
    Reactivate {
        /// Identifier.
        id: String,
    },
    /// Add a certificate to an agency (rotation).
    CertAdd {
        /// Identifier.
        id: String,
        /// PEM certificate file.
        cert: PathBuf,
    },
    /// Revoke an agency certificate by its x5t#S256 thumbprint.
    CertRevoke {
        /// Identifier.
        id: String,
        /// Thumbprint (base64url: it may start with `-`).
        #[arg(allow_hyphen_values = true)]
        thumbprint: String,
    },
}

fn read(path: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Runs `change` (which returns its result and the details of its event)
/// and records its `kind` event in the same transaction.
fn record<T>(
    state: &AppState,
    conn: &mut DbConnection,
    kind: &str,
    mut change: impl FnMut(&mut DbConnection) -> Result<(T, serde_json::Value), ApiError>,
) -> anyhow::Result<T> {
    let value = state.change_blocking(conn, |conn| {
        let (value, details) = change(conn)?;
        let event = crate::audit_log::actions::by_console(kind)?.with_details(details);
        Ok((value, vec![event]))
    })?;
    Ok(value)
}

/// Runs an agency subcommand against the database of `state`.
pub fn run(command: AgencyCommand, state: &AppState) -> anyhow::Result<()> {
    let mut conn = state.pool.get()?;
    let now = state.clock.now();
    let anchors = state.trust_anchors.as_deref();
    match command {
        AgencyCommand::Add {
            id,
            name,
            sector,
            roles,
            endpoint_url,
            identifier_policy,
            certs,
        } => {
            let certificates = certs.iter().map(read).collect::<anyhow::Result<Vec<_>>>()?;
            let input = NewAgency {
                id,
                name,
                sector,
                roles,
                endpoint_url,
                identifier_policy,
                certificates,
            };
            let view = record(state, &mut conn, "agency.onboarded", |conn| {
                let view = agencies::onboard(
                    conn,
                    anchors,
                    &input,
                    state.config.allow_insecure_providers,
                    now,
                )?;
                let details = serde_json::json!({"agency": view.id});
                Ok((view, details))
            })?;
            println!("{}", serde_json::to_string_pretty(&view)?);
        }
        AgencyCommand::List => {
            for a in agencies::list(&mut conn)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    a.id,
                    a.status,
                    a.sector,
                    a.roles.join(","),
                    a.name
                );
            }
        }
        AgencyCommand::Suspend { id } => {
            let view = record(state, &mut conn, "agency.suspended", |conn| {
                let view = agencies::set_active(conn, &id, false, now)?;
                let details = serde_json::json!({"agency": view.id});
                Ok((view, details))
            })?;
            println!("{} {}", view.id, view.status);
        }
        AgencyCommand::Reactivate { id } => {
            let view = record(state, &mut conn, "agency.reactivated", |conn| {
                let view = agencies::set_active(conn, &id, true, now)?;
                let details = serde_json::json!({"agency": view.id});
                Ok((view, details))
            })?;
            println!("{} {}", view.id, view.status);
        }
        AgencyCommand::CertAdd { id, cert } => {
            let pem = read(&cert)?;
            let view = record(state, &mut conn, "agency.certificate_added", |conn| {
                let view = agencies::add_certificate(conn, anchors, &id, &pem, now)?;
                let details = serde_json::json!({"agency": id, "certificate": view.thumbprint});
                Ok((view, details))
            })?;
            println!(
                "{}\t{}\t{}",
                view.thumbprint, view.key_algorithm, view.subject
            );
        }
        AgencyCommand::CertRevoke { id, thumbprint } => {
            record(state, &mut conn, "agency.certificate_revoked", |conn| {
                agencies::revoke_certificate(conn, &id, &thumbprint, now)?;
                let details = serde_json::json!({"agency": id, "certificate": thumbprint});
                Ok(((), details))
            })?;
            println!("revoked {thumbprint}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::AgencyCommand;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: AgencyCommand,
    }

    #[test]
    fn a_thumbprint_may_start_with_a_hyphen() {
        let parsed = Cli::try_parse_from(["agency", "cert-revoke", "BE-0400000001", "-lXUlq3Y"])
            .unwrap_or_else(|e| panic!("{e}"));
        match parsed.command {
            AgencyCommand::CertRevoke { id, thumbprint } => {
                assert_eq!(id, "BE-0400000001");
                assert_eq!(thumbprint, "-lXUlq3Y");
            }
            other => panic!("parsed as {other:?}"),
        }
    }
}
