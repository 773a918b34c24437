//! `crossroads person …`: the person registry for operators.

use clap::Subcommand;

use crate::app::state::AppState;
use crate::services::notifications::{self, Lifecycle};
use crate::services::persons::{self, NewPerson, Viewer};

/// Person subcommands.
#[derive(Debug, Subcommand)]
pub enum PersonCommand {
    /// Register a person; prints the common ID and the activation code.
    Register {
        /// All given names.
        #[arg(long)]
        given_names: String,
        /// Family name.
        #[arg(long)]
        family_name: String,
        /// Date of birth, YYYY-MM-DD.
        #[arg(long)]
        birth_date: chrono::NaiveDate,
        /// Place of birth.
        #[arg(long)]
        birth_place: Option<String>,
        /// female, male or other.
        #[arg(long)]
        sex: Option<String>,
        /// Register even though it matches these persons.
        #[arg(long = "distinct-from")]
        distinct_from: Vec<String>,
    },
    /// Show a person (a merged ID shows the survivor).
    Show {
        /// Common ID in any written form.
        id: String,
    },
    /// Merge a duplicate into the surviving person.
    Merge {
        /// The person who survives.
        survivor: String,
        /// The duplicate, which will resolve to the survivor.
        replaced: String,
    },
}

/// Runs a person subcommand against the database of `state`.
pub fn run(command: PersonCommand, state: &AppState) -> anyhow::Result<()> {
    let mut conn = state.pool.get()?;
    let now = state.clock.now();
    let viewer = Viewer::PLAIN;
    match command {
        PersonCommand::Register {
            given_names,
            family_name,
            birth_date,
            birth_place,
            sex,
            distinct_from,
        } => {
            let sex = sex
                .map(|s| serde_json::from_value(serde_json::Value::String(s)))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--sex: {e}"))?;
            let input = NewPerson {
                given_names,
                family_name,
                birth_date,
                birth_place,
                sex,
                distinct_from,
            };
            let (id, registered) = state.change_blocking(&mut conn, |conn| {
                let (id, registered) =
                    persons::register(conn, viewer, &state.pseudonyms, "operator", &input, now)?;
                let event = crate::audit_log::actions::by_console("person.registered")?
                    .with_person(id.as_digits());
                Ok(((id, registered), vec![event]))
            })?;
            println!("common ID:       {id}");
            println!("activation code: {}", registered.activation_code);
            println!(
                "expires:         {}",
                registered.activation_expires_at.to_rfc3339()
            );
        }
        PersonCommand::Show { id } => {
            let person = persons::show(&mut conn, viewer, &state.pseudonyms, &id)?;
            println!("{}", serde_json::to_string_pretty(&person)?);
        }
        PersonCommand::Merge { survivor, replaced } => {
            let (survivor, replaced) = state.change_blocking(&mut conn, |conn| {
                let (survivor, replaced, _) =
                    persons::merge(conn, viewer, &state.pseudonyms, &survivor, &replaced, now)?;
                let event = crate::audit_log::actions::by_console("person.merged")?
                    .with_person(survivor.as_digits())
                    .with_linked_person("replaced", replaced.as_digits());
                let lifecycle = notifications::publish_lifecycle(
                    conn,
                    &replaced,
                    Lifecycle::Merged {
                        survivor: &survivor,
                    },
                    now.date_naive(),
                    now,
                )?;
                Ok(((survivor, replaced), vec![event, lifecycle]))
            })?;
            println!("{replaced} now resolves to {survivor}");
        }
    }
    Ok(())
}
