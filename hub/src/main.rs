//! `crossroads`: the hub's one binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hub::app::clock::Clock;
use hub::app::config::Config;
use hub::app::server;
use hub::app::state::AppState;

/// Crossroads: an identity and data-exchange hub.
#[derive(Debug, Parser)]
#[command(name = "crossroads", version, about)]
struct Cli {
    /// A TOML configuration file.
    #[arg(long, global = true, env = "CROSSROADS_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Overrides `database_url` (sqlite://PATH or postgres://…).
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    /// Overrides `data_dir`.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the hub's HTTP server.
    Serve {
        /// Overrides `listen` (e.g. 127.0.0.1:8080; port 0 picks a free one).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Do not apply pending migrations at start.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Print the effective configuration, secrets redacted.
    Config,
    /// Manage operator credentials.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Verify the audit log and print its checkpoint.
    #[command(subcommand)]
    Audit(hub::audit_log::cli::AuditCommand),
    /// Onboard and manage agencies.
    #[command(subcommand)]
    Agency(hub::cli::agency::AgencyCommand),
    /// The hub's signing keys.
    #[command(subcommand)]
    Keys(hub::cli::keys::KeysCommand),
    /// The person registry.
    #[command(subcommand)]
    Person(hub::cli::person::PersonCommand),
    /// Run a simulated provider agency that answers the hub from a file.
    AgencySim(hub::dev::sim::SimOptions),
    /// The hub and three agencies on loopback, and a short story.
    Demo(hub::dev::demo::DemoOptions),
    /// Read, check and publish interoperability schemas.
    #[command(subcommand)]
    Schema(hub::cli::schema::SchemaCommand),
    /// Fill the database with a generated population (for benchmarks).
    #[command(hide = true)]
    Populate(hub::cli::populate::PopulateOptions),
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Make a new operator token and print it once.
    Token {
        /// Who will hold it.
        #[arg(long)]
        name: String,
    },
    /// List operator credentials (never the tokens).
    List,
    /// Revoke an operator credential by id.
    Revoke {
        /// The credential's id (`op-…`).
        id: String,
    },
}

fn main() -> ExitCode {
    // ring is the process's only crypto: for TLS and for every JWS.
    if let Err(e) = provider::install_crypto() {
        eprintln!("crossroads: {e}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    let mut overrides: Vec<(&str, String)> = Vec::new();
    if let Some(url) = &cli.database_url {
        overrides.push(("database_url", url.clone()));
    }
    if let Some(dir) = &cli.data_dir {
        overrides.push(("data_dir", dir.clone()));
    }
    let mut skip_migrations = false;
    if let Command::Serve { listen, no_migrate } = &cli.command {
        if let Some(listen) = listen {
            overrides.push(("listen", listen.clone()));
        }
        // A flag, set on the loaded configuration: a text override would
        // reach the boolean key as the string "false".
        skip_migrations = *no_migrate;
    }
    if matches!(cli.command, Command::Demo(_)) && std::env::var_os("CROSSROADS_LOG_LEVEL").is_none()
    {
        // The demo tells its story on standard output; keep the log quiet.
        overrides.push(("log_level", "warn".to_owned()));
    }
    let mut config = match Config::load(cli.config.as_deref(), &overrides) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("crossroads: {e}");
            return ExitCode::from(2);
        }
    };
    if skip_migrations {
        config.migrate_on_start = false;
    }
    server::init_logging(&config);
    match run(cli.command, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crossroads: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { .. } => actix_web::rt::System::new().block_on(server::serve(config)),
        Command::Migrate => {
            let database = config.database();
            let state = AppState::new(config, Clock::System)?;
            let applied = server::migrate(&state)?;
            if applied.is_empty() {
                println!("{database}: up to date");
            }
            for version in applied {
                println!("{database}: applied {version}");
            }
            Ok(())
        }
        Command::Config => {
            print!("{}", config.to_redacted_toml());
            Ok(())
        }
        Command::Operator(command) => operator(command, config),
        Command::Audit(command) => hub::audit_log::cli::run(command, config),
        Command::Agency(command) => hub::cli::agency::run(command, &open(config)?),
        Command::Keys(command) => hub::cli::keys::run(command, &open(config)?),
        Command::Person(command) => hub::cli::person::run(command, &open(config)?),
        Command::Demo(options) => {
            actix_web::rt::System::new().block_on(hub::dev::demo::run(config, options))
        }
        Command::AgencySim(options) => {
            actix_web::rt::System::new().block_on(hub::dev::sim::run(options))
        }
        Command::Schema(command) => hub::cli::schema::run(command, &open(config)?),
        Command::Populate(options) => hub::cli::populate::run(options, &open(config)?),
    }
}

/// Opens the database for a one-off command, applying pending migrations.
fn open(config: Config) -> anyhow::Result<AppState> {
    let state = AppState::new(config, Clock::System)?;
    server::migrate(&state)?;
    Ok(state)
}

fn operator(command: OperatorCommand, config: Config) -> anyhow::Result<()> {
    let state = open(config)?;
    let mut conn = state.pool.get()?;
    let now = state.clock.now();
    match command {
        OperatorCommand::Token { name } => {
            let issued = state.change_blocking(&mut conn, |conn| {
                let issued = hub::services::operators::issue(conn, &name, now)?;
                let event = hub::audit_log::NewEntry::new(
                    "operator.token_issued",
                    audit::Actor::new(audit::ActorType::Operator, issued.id.clone()),
                    audit::Outcome::Recorded,
                )?;
                Ok((issued, vec![event]))
            })?;
            eprintln!(
                "operator credential {} made for {name}; the token is shown once:",
                issued.id
            );
            println!("{}", issued.token);
        }
        OperatorCommand::List => {
            for row in hub::services::operators::list(&mut conn)? {
                let state = if row.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}\t{}",
                    row.id,
                    row.name,
                    row.created().to_rfc3339(),
                    state
                );
            }
        }
        OperatorCommand::Revoke { id } => {
            let revoked = state.change_blocking(&mut conn, |conn| {
                if !hub::services::operators::revoke(conn, &id, now)? {
                    return Ok((false, Vec::new()));
                }
                let event = hub::audit_log::NewEntry::new(
                    "operator.token_revoked",
                    audit::Actor::new(audit::ActorType::Operator, id.clone()),
                    audit::Outcome::Recorded,
                )?;
                Ok((true, vec![event]))
            })?;
            if !revoked {
                anyhow::bail!("no active operator credential {id}");
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}
