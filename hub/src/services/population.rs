//! A generated population for measuring the hub at national scale
//! (`crossroads populate`): agencies, authorizations, persons with their
//! sector pseudonyms and citizen accounts, `file` references, consents, and
//! audit entries of lookups, all deterministic from a seed.
//!
//! Every row is made as the services make it (common IDs drawn with
//! [`CommonId::generate`], pseudonyms by the hub's pseudonym service,
//! consents through the consent lifecycle, authorizations published through
//! [`authorizations::publish`]) and audit entries are encoded, hashed and
//! signed as the sequencer does it, so that the hub serves the result as any
//! other database: `crossroads audit verify` passes, and agencies, persons
//! and entries added later through the API go after the generated ones.

use std::time::{Duration, Instant};

use audit::{Actor, ActorType, Outcome, Salt};
use chrono::{DateTime, NaiveDate, Utc};
use consent::{Consent, ConsentId, ConsentTerms, FetchFrequency, PurposeCode};
use identity::{ActivationCode, AgencyId, CommonId, PersonAttributes, Role, Sector, Sex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use schemas::RecordTypeRef;

use crate::app::clock::db_time;
use crate::app::progress::Progress;
use crate::app::state::AppState;
use crate::audit_log::NewEntry;
use crate::http::error::{ApiError, ResultExt};
use crate::services::authorizations::{self, NewAuthorization, NewPurpose};
use crate::services::consents;
use crate::store::agencies::AgencyRow;
use crate::store::consents::EventRow;
use crate::store::persons::{AccountRow, PersonRow};
use crate::store::population as store;
use crate::store::references::ReferenceRow;
use crate::store::{DbConnection, PooledConnection};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Persons.
    pub persons: u64,
    /// Agencies (consumers; the first few are also providers).
    pub agencies: u32,
    /// Authorizations, spread evenly over the agencies.
    pub authorizations: u32,
    /// The mean number of `file` references a person has (each person has
    /// from 1 to twice this, less one, uniformly).
    pub references_per_person: u32,
    /// The share of persons who gave one consent.
    pub consent_share: f64,
    /// Audit entries (lookups, permitted and refused).
    pub audit_entries: u64,
    /// How many of them concern one chosen person (for the access log).
    pub busy_person_entries: u64,
    /// The seed: the same seed gives the same population.
    pub seed: u64,
    /// Persons per transaction.
    pub person_batch: usize,
    /// Audit entries per transaction.
    pub entry_batch: usize,
    /// Page cache of the loading connection (SQLite), in MiB.
    pub cache_mib: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            persons: 10_000,
            agencies: 200,
            authorizations: 2_000,
            references_per_person: 3,
            consent_share: 0.05,
            audit_entries: 10_000,
            busy_person_entries: 10_000,
            seed: 1,
            person_batch: 20_000,
            entry_batch: 50_000,
            cache_mib: 1_024,
        }
    }
}

/// What was generated.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The person with `busy_person_entries` audit entries.
    pub busy_person: CommonId,
    /// Their entries.
    pub busy_person_entries: u64,
    /// Rows in the tables afterwards.
    pub counts: store::Counts,
    /// The audit log's size afterwards (the signed checkpoint's).
    pub tree_size: u64,
    /// Time spent on agencies, purposes and authorizations.
    pub setup_time: Duration,
    /// Time spent on persons, pseudonyms, accounts, references, consents.
    pub persons_time: Duration,
    /// Time spent on audit entries and the checkpoint.
    pub audit_time: Duration,
    /// Time spent on the final statistics and the WAL checkpoint.
    pub finish_time: Duration,
}

/// The tables loaded in bulk, whose secondary indexes are made after the
/// load.
const BULK_TABLES: &[&str] = &[
    "persons",
    "sector_pseudonyms",
    "citizen_accounts",
    "person_references",
    "consents",
    "consent_events",
    "audit_entries",
];

/// Sector pseudonyms per transaction.
const PSEUDONYM_BATCH: usize = 100_000;

/// The purposes a population's authorizations name.
const PURPOSES: &[(&str, &str)] = &[
    ("pension-calculation", "Calculating a pension"),
    ("family-allowance", "Paying a family allowance"),
    ("health-reimbursement", "Reimbursing health care"),
    ("tax-audit", "Auditing a tax return"),
    ("school-enrolment", "Enrolling a pupil"),
];

const GIVEN: &[&str] = &[
    "Anna", "Lucas", "Emma", "Noah", "Olivia", "Liam", "Mila", "Adam", "Louise", "Arthur", "Elena",
    "Victor", "Sofia", "Jules", "Marie", "Finn", "Lena", "Matteo", "Nora", "Samuel",
];
const FAMILY: &[&str] = &[
    "Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters",
    "Dubois", "Lambert", "Dupont", "Martin", "Simon", "Laurent", "Leroy", "Renard", "Fontaine",
    "Nowak", "Rossi", "Garcia", "Schmidt", "Novak", "Horvat",
];
const PLACES: &[&str] = &[
    "Brussels",
    "Antwerp",
    "Ghent",
    "Charleroi",
    "Liège",
    "Bruges",
    "Namur",
    "Leuven",
    "Mons",
    "Tallinn",
];
const CAPACITIES: &[&str] = &[
    "insured",
    "resident",
    "taxpayer",
    "employee",
    "pupil",
    "beneficiary",
    "patient",
];

/// The identifier of generated agency `n` (from 0): `XP-POP000001`, … —
/// the `XP` country code is outside the ones agencies are registered
/// under, so none collides with an agency onboarded later.
pub fn agency_id(n: u32) -> String {
    format!("XP-POP{:06}", n + 1)
}

/// Agencies among the first that are also providers (one per record type).
fn is_provider(n: u32, record_types: usize) -> bool {
    (n as usize) < record_types
}

/// An authorization a generated agency holds, as entries name it.
#[derive(Debug, Clone)]
struct Grant {
    id: String,
    record_type: String,
    /// `name@major`, as consents name record types.
    reference: String,
    purpose: String,
    consent_required: bool,
    provider: String,
}

/// Generates a population on the configured database.
pub fn populate(state: &AppState, options: &Options) -> Result<Summary, ApiError> {
    if options.persons == 0 || options.agencies == 0 || options.authorizations == 0 {
        return Err(ApiError::invalid(
            "invalid_population",
            "a population has at least one person, agency and authorization",
        ));
    }
    let mut conn = state.pool.get().map_err(crate::store::StoreError::from)?;
    if store::counts(&mut conn)?.persons > 0 {
        return Err(ApiError::Conflict {
            code: "population_exists",
            detail: "the database holds persons already; populate an empty one".to_owned(),
        });
    }
    store::begin_bulk_load(&mut conn, options.cache_mib)?;
    let now = state.clock.now();
    let mut rng = StdRng::seed_from_u64(options.seed);

    let started = Instant::now();
    let grants = setup(&mut conn, state, options, &mut rng, now)?;
    let setup_time = started.elapsed();

    let started = Instant::now();
    // Rows go in the order of each table's key; the other indexes are made
    // again at the end, each from all its rows at once.
    let dropped = crate::store::write(&mut conn, |conn| {
        store::drop_secondary_indexes(conn, BULK_TABLES)
    })?;
    let ids = draw_ids(&mut rng, options.persons);
    persons(&mut conn, options, &ids, &grants, &mut rng, now)?;
    pseudonyms(&mut conn, state, &ids)?;
    let persons_time = started.elapsed();

    let started = Instant::now();
    let busy = ids[rng.random_range(0..ids.len())];
    let busy_entries = options.busy_person_entries.min(options.audit_entries);
    let tree_size = entries(
        &mut conn,
        options,
        &ids,
        &grants,
        (busy, busy_entries),
        &mut rng,
        now,
    )?;
    let checkpoint = state.audit.checkpoint_covering(&mut conn, tree_size)?;
    let audit_time = started.elapsed();

    let started = Instant::now();
    let progress = Progress::new("indexes", dropped.len() as u64);
    for index in &dropped {
        crate::store::write(&mut conn, |conn| {
            store::create_indexes(conn, std::slice::from_ref(index))
        })?;
        progress.inc(1);
    }
    progress.finish();
    store::end_bulk_load(&mut conn)?;
    let finish_time = started.elapsed();
    Ok(Summary {
        busy_person: busy,
        busy_person_entries: busy_entries,
        counts: store::counts(&mut conn)?,
        tree_size: checkpoint.size,
        setup_time,
        persons_time,
        audit_time,
        finish_time,
    })
}

/// Purposes, agencies and authorizations; returns each agency's grants.
fn setup(
    conn: &mut PooledConnection,
    state: &AppState,
    options: &Options,
    rng: &mut StdRng,
    now: DateTime<Utc>,
) -> Result<Vec<Vec<Grant>>, ApiError> {
    let catalog = state.schemas.get_or_load(conn)?;
    // The newest version of each major of each record type, with its
    // top-level fields as the grant.
    let mut types: Vec<(String, u32, Vec<String>)> = Vec::new();
    for record_type in catalog.catalog().list() {
        let major = record_type.version.major;
        let Some(entry) = catalog.catalog().latest(&record_type.name, major) else {
            continue;
        };
        let full = entry.record_type().to_string();
        if types.iter().any(|(t, _, _)| *t == full) {
            continue;
        }
        let fields = entry
            .document()
            .get("properties")
            .and_then(|p| p.as_object())
            .map(|p| p.keys().map(|k| format!("/{k}")).collect())
            .unwrap_or_default();
        types.push((full, major, fields));
    }
    if types.is_empty() {
        return Err(ApiError::internal("the schema registry is empty"));
    }
    let progress = Progress::new(
        "agencies, authorizations",
        u64::from(options.agencies) + u64::from(options.authorizations),
    );
    crate::store::write(conn, |conn| {
        for (code, title) in PURPOSES {
            let input: NewPurpose = serde_json::from_value(serde_json::json!({
                "code": code,
                "title": title,
                "legal_reference": {"title": format!("{title} Act, art. 1"), "url": format!("https://law.example/{code}")},
            }))
            .internal("a purpose")?;
            match authorizations::create_purpose(conn, &input, "populate", now) {
                Ok(_) | Err(ApiError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        for n in 0..options.agencies {
            let id: AgencyId = agency_id(n).parse().internal("a generated agency id")?;
            let provider = is_provider(n, types.len());
            let mut roles = vec![Role::Consumer];
            if provider {
                roles.push(Role::Provider);
            }
            roles.sort();
            let sector = Sector::ALL[n as usize % Sector::ALL.len()];
            let row = AgencyRow {
                id: id.as_str().to_owned(),
                name: format!("Generated agency {}", n + 1),
                sector: sector.as_str().to_owned(),
                roles: roles.iter().map(Role::as_str).collect::<Vec<_>>().join(","),
                endpoint_url: provider.then(|| format!("https://provider-{}.example.org", n + 1)),
                identifier_policy: "common_id".to_owned(),
                status: "active".to_owned(),
                created_at: db_time(now),
                updated_at: db_time(now),
            };
            if !crate::store::agencies::insert(conn, &row)? {
                return Err(ApiError::Conflict {
                    code: "agency_exists",
                    detail: format!("agency {id} is already onboarded"),
                });
            }
            progress.inc(1);
        }
        Ok(())
    })?;
    let mut grants: Vec<Vec<Grant>> = vec![Vec::new(); options.agencies as usize];
    let mut published = Vec::with_capacity(options.authorizations as usize);
    for k in 0..options.authorizations {
        let agency = k % options.agencies;
        let (record_type, major, fields) = &types[(k / options.agencies) as usize % types.len()];
        let purpose = PURPOSES[rng.random_range(0..PURPOSES.len())].0;
        // Every other authorization of an agency needs the person's consent.
        let consent_required = (k / options.agencies) % 2 == 1;
        let id = format!("auth-{}", uuid_from(rng));
        let input: NewAuthorization = serde_json::from_value(serde_json::json!({
            "id": id,
            "consumer": {"agency": agency_id(agency)},
            "record_type": record_type.split('@').next().unwrap_or_default(),
            "major": major,
            "fields": fields,
            "purposes": [purpose],
            "legal_reference": {"title": format!("Generated legal basis {}", k + 1), "url": format!("https://law.example/basis/{}", k + 1)},
            "consent_required": consent_required,
            "valid_from": now - chrono::Duration::days(400),
        }))
        .internal("an authorization")?;
        let provider = agency_id(
            types
                .iter()
                .position(|(t, _, _)| t == record_type)
                .unwrap_or_default() as u32
                % options.agencies,
        );
        published.push(input);
        grants[agency as usize].push(Grant {
            id,
            record_type: record_type.clone(),
            reference: format!(
                "{}@{major}",
                record_type.split('@').next().unwrap_or_default()
            ),
            purpose: purpose.to_owned(),
            consent_required,
            provider,
        });
    }
    crate::store::write(conn, |conn| {
        for input in &published {
            authorizations::publish(conn, &state.schemas, input, "populate", now)?;
            progress.inc(1);
        }
        Ok::<_, ApiError>(())
    })?;
    progress.finish();
    // The hub's cached authorizations are reloaded from the store on their
    // next use.
    state.authorizations.invalidate();
    Ok(grants)
}

/// A version 4 UUID from the seeded generator (simple form).
fn uuid_from(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .simple()
        .to_string()
}

/// `n` distinct common IDs, drawn as the registry draws them, in order.
fn draw_ids(rng: &mut StdRng, n: u64) -> Vec<CommonId> {
    let n = n as usize;
    let mut ids: Vec<CommonId> = Vec::with_capacity(n);
    while ids.len() < n {
        let missing = n - ids.len();
        ids.extend((0..missing).map(|_| CommonId::generate(rng)));
        ids.sort_unstable();
        ids.dedup();
    }
    ids
}

/// Persons in order of common ID (so that the tables keyed by it grow at
/// their end), with their pseudonyms, accounts, references and consents.
fn persons(
    conn: &mut DbConnection,
    options: &Options,
    ids: &[CommonId],
    grants: &[Vec<Grant>],
    rng: &mut StdRng,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let today = now.date_naive();
    let max_refs = options.references_per_person.max(1) * 2 - 1;
    // How many references each person has, and their identifiers (random,
    // as the directory draws them) handed out in ascending order.
    let mut side = StdRng::seed_from_u64(options.seed ^ 0x7265_6665_7265_6e63);
    let per_person: Vec<u32> = ids
        .iter()
        .map(|_| side.random_range(1..=max_refs))
        .collect();
    let total: usize = per_person.iter().map(|&n| n as usize).sum();
    let mut reference_ids: Vec<u128> = (0..total).map(|_| side.random()).collect();
    reference_ids.sort_unstable();
    let mut reference_ids = reference_ids.into_iter();
    let progress = Progress::new("persons", ids.len() as u64);
    let mut next_event = store::last_consent_event(conn)? + 1;
    let agencies = grants.len();
    let mut counts = per_person.into_iter();
    for batch in ids.chunks(options.person_batch.max(1)) {
        let mut people = Vec::with_capacity(batch.len());
        let mut accounts = Vec::with_capacity(batch.len());
        let mut references = Vec::with_capacity(batch.len() * max_refs as usize);
        let mut consent_rows = Vec::new();
        let mut events = Vec::new();
        for id in batch {
            let digits = id.as_digits().to_owned();
            let attributes = PersonAttributes {
                given_names: GIVEN[rng.random_range(0..GIVEN.len())].to_owned(),
                family_name: FAMILY[rng.random_range(0..FAMILY.len())].to_owned(),
                birth_date: birth_date(rng),
                birth_place: Some(PLACES[rng.random_range(0..PLACES.len())].to_owned()),
                sex: Some(if rng.random_bool(0.5) {
                    Sex::Female
                } else {
                    Sex::Male
                }),
            };
            attributes.validate(today).map_err(|e| ApiError::Invalid {
                code: e.code(),
                detail: e.to_string(),
            })?;
            let registered = now - chrono::Duration::seconds(rng.random_range(0..86_400 * 365));
            people.push(PersonRow {
                common_id: digits.clone(),
                given_names: attributes.given_names.clone(),
                family_name: attributes.family_name.clone(),
                birth_date: attributes.birth_date,
                birth_place: attributes.birth_place.clone(),
                sex: attributes.sex.map(|s| sex_name(s).to_owned()),
                match_key: attributes.match_key().as_str().to_owned(),
                status: "active".to_owned(),
                deceased_on: None,
                replaced_by: None,
                registered_by: "populate".to_owned(),
                created_at: db_time(registered),
                updated_at: db_time(registered),
            });
            let code = ActivationCode::generate(rng);
            accounts.push(AccountRow {
                common_id: digits.clone(),
                activation_digest: Some(code.digest().to_hex()),
                activation_expires_at: Some(db_time(now + chrono::Duration::days(30))),
                password_hash: None,
                totp_secret: None,
                totp_last_step: None,
                failures: 0,
                locked_until: None,
                activated_at: None,
                created_at: db_time(registered),
                updated_at: db_time(registered),
            });
            let count = counts.next().unwrap_or(1) as usize;
            let mut held: Vec<usize> = Vec::with_capacity(count);
            while held.len() < count.min(agencies) {
                let a = rng.random_range(0..agencies);
                if !held.contains(&a) {
                    held.push(a);
                }
            }
            for &a in &held {
                let drawn = reference_ids.next().unwrap_or_else(|| rng.random());
                let uuid = uuid::Builder::from_random_bytes(drawn.to_be_bytes()).into_uuid();
                references.push(ReferenceRow {
                    id: format!("ref-{}", uuid.simple()),
                    agency_id: agency_id(a as u32),
                    common_id: digits.clone(),
                    capacity: CAPACITIES[rng.random_range(0..CAPACITIES.len())].to_owned(),
                    valid_from: registered.date_naive(),
                    valid_until: None,
                    created_at: db_time(registered),
                    ended_at: None,
                    kind: "file".to_owned(),
                    record_type: None,
                    major: None,
                });
            }
            if rng.random_bool(options.consent_share.clamp(0.0, 1.0)) {
                // A consent to one of the agencies holding a file on the
                // person, under one of its authorizations that needs it.
                let a = held[rng.random_range(0..held.len())];
                let needing: Vec<&Grant> =
                    grants[a].iter().filter(|g| g.consent_required).collect();
                if let Some(grant) = needing.get(rng.random_range(0..needing.len().max(1))) {
                    let c = consent(id, a, grant, rng, now)?;
                    let row = consents::to_row(&c, None)?;
                    events.push(EventRow {
                        seq: next_event,
                        consent_id: row.id.clone(),
                        agency: row.consumer.clone(),
                        person: digits.clone(),
                        kind: "granted".to_owned(),
                        revision: row.revision,
                        occurred_at: row.created_at,
                    });
                    next_event += 1;
                    consent_rows.push(row);
                }
            }
        }
        crate::store::write(conn, |conn| {
            store::insert_persons(conn, &people)?;
            store::insert_accounts(conn, &accounts)?;
            store::insert_references(conn, &references)?;
            store::insert_consents(conn, &consent_rows)?;
            store::insert_consent_events(conn, &events)?;
            Ok::<_, ApiError>(())
        })?;
        progress.inc(batch.len() as u64);
    }
    progress.finish();
    Ok(())
}

/// Every person's pseudonym in every sector, sector by sector in the
/// order of the pseudonyms (the table's key).
fn pseudonyms(conn: &mut DbConnection, state: &AppState, ids: &[CommonId]) -> Result<(), ApiError> {
    let progress = Progress::new("sector pseudonyms", (ids.len() * Sector::ALL.len()) as u64);
    for sector in Sector::ALL {
        let mut all: Vec<(String, &CommonId)> = ids
            .iter()
            .map(|id| {
                (
                    state.pseudonyms.pseudonym(*sector, id).as_str().to_owned(),
                    id,
                )
            })
            .collect();
        all.sort_unstable();
        for chunk in all.chunks(PSEUDONYM_BATCH) {
            let rows: Vec<(String, String, String)> = chunk
                .iter()
                .map(|(pseudonym, id)| {
                    (
                        sector.as_str().to_owned(),
                        pseudonym.clone(),
                        id.as_digits().to_owned(),
                    )
                })
                .collect();
            crate::store::write(conn, |conn| store::insert_pseudonyms(conn, &rows))?;
            progress.inc(chunk.len() as u64);
        }
    }
    progress.finish();
    Ok(())
}

fn birth_date(rng: &mut StdRng) -> NaiveDate {
    let days = rng.random_range(0..365 * 95);
    NaiveDate::from_ymd_opt(1930, 1, 1).unwrap_or_default() + chrono::Duration::days(days)
}

fn sex_name(sex: Sex) -> &'static str {
    match sex {
        Sex::Female => "female",
        Sex::Male => "male",
        Sex::Other => "other",
    }
}

/// An active consent of the person to agency `a` under `grant`, granted
/// through the consent lifecycle.
fn consent(
    person: &CommonId,
    a: usize,
    grant: &Grant,
    rng: &mut StdRng,
    now: DateTime<Utc>,
) -> Result<Consent, ApiError> {
    let granted = now - chrono::Duration::days(rng.random_range(1..300));
    let terms = ConsentTerms {
        person: *person,
        consumer: agency_id(a as u32)
            .parse()
            .internal("a generated agency id")?,
        record_types: vec![RecordTypeRef::parse(&grant.reference).internal("a record type")?],
        purpose: PurposeCode::parse(&grant.purpose).internal("a purpose")?,
        valid_from: granted,
        valid_until: granted + chrono::Duration::days(730),
        frequency: FetchFrequency::Once,
    };
    terms.validate().map_err(consents::refusal)?;
    let id = ConsentId::parse(&format!(
        "cns-{}",
        uuid::Builder::from_random_bytes(rng.random()).into_uuid()
    ))
    .internal("a consent id")?;
    Consent::grant(id, terms, granted).map_err(consents::refusal)
}

/// Audit entries of lookups by the agencies, about random persons and
/// `busy.1` of them about `busy.0`, at times spread over the past year;
/// returns the log's size.
fn entries(
    conn: &mut DbConnection,
    options: &Options,
    ids: &[CommonId],
    grants: &[Vec<Grant>],
    busy: (CommonId, u64),
    rng: &mut StdRng,
    now: DateTime<Utc>,
) -> Result<u64, ApiError> {
    let total = options.audit_entries;
    let start = now - chrono::Duration::days(365);
    let step_ms = (365 * 86_400_000 / total.max(1)).max(1) as i64;
    // The busy person's entries are evenly spread through the log.
    let every = total.checked_div(busy.1).unwrap_or(0);
    let progress = Progress::new("audit entries", total);
    let mut size = 0;
    let mut made = 0u64;
    let mut busy_made = 0u64;
    while made < total {
        let n = (total - made).min(options.entry_batch.max(1) as u64);
        let mut batch = Vec::with_capacity(n as usize);
        for i in made..made + n {
            let time = start + chrono::Duration::milliseconds(step_ms * i as i64);
            let person = if every > 0 && i % every == 0 && busy_made < busy.1 {
                busy_made += 1;
                busy.0
            } else {
                // Anyone else: the busy person has exactly their share.
                loop {
                    let other = ids[rng.random_range(0..ids.len())];
                    if other != busy.0 || ids.len() == 1 {
                        break other;
                    }
                }
            };
            let a = rng.random_range(0..grants.len());
            let Some(grant) = grants[a].get(rng.random_range(0..grants[a].len().max(1))) else {
                return Err(ApiError::internal("an agency without authorizations"));
            };
            let exchange = format!("exc-{}", uuid_from(rng));
            let refused = rng.random_bool(0.05);
            let mut entry = NewEntry::new(
                if refused {
                    "lookup.denied"
                } else {
                    "lookup.permitted"
                },
                Actor::new(ActorType::Agency, agency_id(a as u32)),
                if refused {
                    Outcome::Denied
                } else {
                    Outcome::Permitted
                },
            )?
            .with_exchange(exchange.clone())
            .with_record_type(grant.record_type.clone())
            .with_purpose(grant.purpose.clone())
            .with_person(person.as_digits());
            if refused {
                entry = entry.with_deny_code(if grant.consent_required {
                    "consent_missing"
                } else {
                    "person_inactive"
                });
            } else {
                let request = audit::sha256(exchange.as_bytes());
                let response = audit::sha256(&rng.random::<[u8; 32]>());
                entry = entry
                    .with_legal_basis(grant.id.clone(), 1)
                    .with_provider(grant.provider.clone())
                    .with_digests(Some(request), Some(response));
            }
            batch.push((entry, time, Some(Salt::from_bytes(rng.random()))));
        }
        size = crate::store::write(conn, |conn| crate::audit_log::bulk::append(conn, &batch))?;
        made += n;
        progress.inc(n);
    }
    progress.finish();
    Ok(size)
}
