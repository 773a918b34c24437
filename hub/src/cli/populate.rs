//! `crossroads populate`: fills the configured database with a generated
//! population, for measuring the hub at national scale. Hidden from the
//! help: it is a benchmarking tool, not an operator's command.

use clap::Args;

use crate::app::state::AppState;
use crate::services::population::{self, Options};

/// What to generate (defaults: a small population).
#[derive(Debug, Args)]
pub struct PopulateOptions {
    /// Persons.
    #[arg(long, default_value_t = 10_000)]
    pub persons: u64,
    /// Agencies.
    #[arg(long, default_value_t = 200)]
    pub agencies: u32,
    /// Authorizations, spread evenly over the agencies.
    #[arg(long, default_value_t = 2_000)]
    pub authorizations: u32,
    /// Mean `file` references per person.
    #[arg(long, default_value_t = 3)]
    pub references_per_person: u32,
    /// Share of persons with a consent (0 to 1).
    #[arg(long, default_value_t = 0.05)]
    pub consent_share: f64,
    /// Audit entries (lookups).
    #[arg(long, default_value_t = 10_000)]
    pub audit_entries: u64,
    /// Audit entries about one chosen person, whose common ID is printed.
    #[arg(long, default_value_t = 10_000)]
    pub busy_person_entries: u64,
    /// The seed: the same seed gives the same population.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Page cache of the loading connection on SQLite, in MiB.
    #[arg(long, default_value_t = 1_024)]
    pub cache_mib: u32,
}

/// Generates the population and prints what it made.
pub fn run(options: PopulateOptions, state: &AppState) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&options.consent_share) {
        anyhow::bail!("--consent-share: a share from 0 to 1");
    }
    let options = Options {
        persons: options.persons,
        agencies: options.agencies,
        authorizations: options.authorizations,
        references_per_person: options.references_per_person,
        consent_share: options.consent_share,
        audit_entries: options.audit_entries,
        busy_person_entries: options.busy_person_entries,
        seed: options.seed,
        cache_mib: options.cache_mib,
        ..Options::default()
    };
    let summary = population::populate(state, &options)?;
    let c = summary.counts;
    println!("busy person:       {}", summary.busy_person.as_digits());
    println!("busy person's entries: {}", summary.busy_person_entries);
    println!("persons:           {}", c.persons);
    println!("sector pseudonyms: {}", c.pseudonyms);
    println!("citizen accounts:  {}", c.accounts);
    println!("references:        {}", c.references);
    println!("consents:          {}", c.consents);
    println!("audit entries:     {}", c.audit_entries);
    println!("checkpoint size:   {}", summary.tree_size);
    println!(
        "time: setup {:.1} s, persons {:.1} s, audit {:.1} s, finishing {:.1} s",
        summary.setup_time.as_secs_f64(),
        summary.persons_time.as_secs_f64(),
        summary.audit_time.as_secs_f64(),
        summary.finish_time.as_secs_f64()
    );
    Ok(())
}
