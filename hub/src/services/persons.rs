//! Persons: registering them and issuing their common IDs,
//! finding duplicates, merging, status changes, and naming persons to each
//! agency as its identifier policy wants (common ID or sector pseudonym).

use chrono::{DateTime, NaiveDate, Utc};
use identity::citizen::ActivationCode;
use identity::person::{PersonAttributes, PersonStatus, Sex, StatusKind};
use identity::{CommonId, IdentifierPolicy, PseudonymService, Sector, SectorPseudonym};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::clock::{db_time, from_db};
use crate::http::error::{ApiError, ResultExt};
use crate::store::DbConnection;
use crate::store::persons::{self as store, AccountRow, PersonRow};

/// How long a registration's activation code stays valid.
pub const ACTIVATION_VALID_DAYS: i64 = 30;

/// Who is asking, as far as naming persons goes.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    /// The agency's sector.
    pub sector: Sector,
    /// Whether it sees common IDs or sector pseudonyms.
    pub policy: IdentifierPolicy,
}

impl Viewer {
    /// An operator or the person themself: sees common IDs.
    pub const PLAIN: Viewer = Viewer {
        sector: Sector::Civil,
        policy: IdentifierPolicy::CommonId,
    };
}

/// A registration, as a registrar submits it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPerson {
    /// All given names, in order.
    pub given_names: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth (YYYY-MM-DD).
    pub birth_date: NaiveDate,
    /// Place of birth.
    #[serde(default)]
    pub birth_place: Option<String>,
    /// `female`, `male` or `other`.
    #[serde(default)]
    #[schema(value_type = Option<crate::api::ids::Sex>)]
    pub sex: Option<Sex>,
    /// Persons the registrar has checked are someone else: a match with
    /// them does not stop the registration.
    #[serde(default)]
    #[schema(value_type = Vec<crate::api::ids::PersonRef>)]
    pub distinct_from: Vec<String>,
}

/// A freshly registered person.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Registered {
    /// The person as the registrar names them.
    pub id: String,
    /// The person's record.
    pub person: PersonView,
    /// The one-time activation code, to be sent to the person by letter.
    pub activation_code: String,
    /// When the activation code expires.
    pub activation_expires_at: DateTime<Utc>,
}

/// A person as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PersonView {
    /// The person as the caller names them (common ID or sector pseudonym).
    pub id: String,
    /// Given names.
    pub given_names: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth.
    pub birth_date: NaiveDate,
    /// Place of birth.
    pub birth_place: Option<String>,
    /// Sex.
    #[schema(value_type = Option<crate::api::ids::Sex>)]
    pub sex: Option<String>,
    /// `active`, `deceased`, `inactive` or `replaced`.
    pub status: String,
    /// Date of death.
    pub deceased_on: Option<NaiveDate>,
    /// When a merged identifier was asked for: the identifier asked for,
    /// which now resolves to this person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_from: Option<String>,
}

/// The identifier the caller uses for a person.
pub fn name_for(viewer: Viewer, pseudonyms: &PseudonymService, id: &CommonId) -> String {
    match viewer.policy {
        IdentifierPolicy::CommonId => id.as_digits().to_owned(),
        IdentifierPolicy::SectorPseudonym => pseudonyms.pseudonym(viewer.sector, id).to_string(),
    }
}

fn unknown(reference: &str) -> ApiError {
    ApiError::NotFound {
        code: "unknown_person",
        detail: format!("no person {reference}"),
    }
}

/// Turns a person reference (a common ID in any written form, or the
/// caller's own sector pseudonym) into a common ID that exists.
pub fn parse_reference(
    conn: &mut DbConnection,
    viewer: Viewer,
    reference: &str,
) -> Result<CommonId, ApiError> {
    if let Ok(pseudonym) = reference.parse::<SectorPseudonym>() {
        if pseudonym.sector() != viewer.sector {
            return Err(ApiError::Invalid {
                code: "foreign_pseudonym",
                detail: format!(
                    "a pseudonym of the {} sector cannot be used by an agency of the {} sector",
                    pseudonym.sector(),
                    viewer.sector
                ),
            });
        }
        let id = store::by_pseudonym(conn, pseudonym.sector().as_str(), pseudonym.as_str())?
            .ok_or_else(|| unknown(reference))?;
        return id.parse().map_err(|_| {
            ApiError::internal(format!("stored pseudonym maps to a bad id for {reference}"))
        });
    }
    if viewer.policy == IdentifierPolicy::SectorPseudonym && reference.parse::<CommonId>().is_ok() {
        // Agencies that see pseudonyms may still name a person by common ID
        // (e.g. from a document the person handed over); it is accepted.
    }
    let id: CommonId =
        reference
            .parse()
            .map_err(|e: identity::CommonIdError| ApiError::Invalid {
                code: e.code(),
                detail: format!("`{reference}` is neither a common ID nor a sector pseudonym: {e}"),
            })?;
    if store::get(conn, id.as_digits())?.is_none() {
        return Err(unknown(reference));
    }
    Ok(id)
}

/// The stored status as the domain type.
fn status_of(row: &PersonRow) -> Result<PersonStatus, ApiError> {
    let bad = || ApiError::internal(format!("person {} has a bad stored status", row.common_id));
    Ok(match row.status.as_str() {
        "active" => PersonStatus::Active,
        "inactive" => PersonStatus::Inactive,
        "deceased" => PersonStatus::Deceased {
            on: row.deceased_on.ok_or_else(bad)?,
        },
        "replaced" => PersonStatus::Replaced {
            by: row
                .replaced_by
                .as_deref()
                .ok_or_else(bad)?
                .parse()
                .map_err(|e: identity::CommonIdError| {
                    ApiError::internal_from(
                        format!("person {} has a bad stored status", row.common_id),
                        e,
                    )
                })?,
        },
        _ => return Err(bad()),
    })
}

fn set_status(row: &mut PersonRow, status: PersonStatus, now: DateTime<Utc>) {
    row.status = match status.kind() {
        StatusKind::Active => "active",
        StatusKind::Deceased => "deceased",
        StatusKind::Inactive => "inactive",
        StatusKind::Replaced => "replaced",
    }
    .to_owned();
    row.deceased_on = match status {
        PersonStatus::Deceased { on } => Some(on),
        _ => None,
    };
    row.replaced_by = match status {
        PersonStatus::Replaced { by } => Some(by.as_digits().to_owned()),
        _ => None,
    };
    row.updated_at = db_time(now);
}

fn view(
    row: &PersonRow,
    viewer: Viewer,
    pseudonyms: &PseudonymService,
) -> Result<PersonView, ApiError> {
    let id: CommonId = row
        .common_id
        .parse()
        .internal("stored person has a bad id")?;
    Ok(PersonView {
        id: name_for(viewer, pseudonyms, &id),
        given_names: row.given_names.clone(),
        family_name: row.family_name.clone(),
        birth_date: row.birth_date,
        birth_place: row.birth_place.clone(),
        sex: row.sex.clone(),
        status: row.status.clone(),
        deceased_on: row.deceased_on,
        resolved_from: None,
    })
}

/// Follows merges from `id` to the person who survives.
pub fn resolve(conn: &mut DbConnection, id: CommonId) -> Result<(CommonId, PersonRow), ApiError> {
    let mut current = id;
    for _ in 0..16 {
        let row =
            store::get(conn, current.as_digits())?.ok_or_else(|| unknown(current.as_digits()))?;
        match status_of(&row)? {
            PersonStatus::Replaced { by } => current = by,
            _ => return Ok((current, row)),
        }
    }
    Err(ApiError::internal(format!(
        "merge chain from {} is too long",
        id.as_digits()
    )))
}

/// Shows a person to `viewer`, following merges.
pub fn show(
    conn: &mut DbConnection,
    viewer: Viewer,
    pseudonyms: &PseudonymService,
    reference: &str,
) -> Result<PersonView, ApiError> {
    let asked = parse_reference(conn, viewer, reference)?;
    let (survivor, row) = resolve(conn, asked)?;
    let mut shown = view(&row, viewer, pseudonyms)?;
    if survivor != asked {
        shown.resolved_from = Some(name_for(viewer, pseudonyms, &asked));
    }
    Ok(shown)
}

fn sex_name(sex: Sex) -> String {
    match sex {
        Sex::Female => "female",
        Sex::Male => "male",
        Sex::Other => "other",
    }
    .to_owned()
}

/// Registers a person: a fresh common ID, their pseudonyms in every sector,
/// and a citizen account waiting for activation.
pub fn register(
    conn: &mut DbConnection,
    viewer: Viewer,
    pseudonyms: &PseudonymService,
    registrar: &str,
    input: &NewPerson,
    now: DateTime<Utc>,
) -> Result<(CommonId, Registered), ApiError> {
    let attributes = PersonAttributes {
        given_names: input.given_names.trim().to_owned(),
        family_name: input.family_name.trim().to_owned(),
        birth_date: input.birth_date,
        birth_place: input.birth_place.as_ref().map(|p| p.trim().to_owned()),
        sex: input.sex,
    };
    attributes
        .validate(now.date_naive())
        .map_err(|e| ApiError::Invalid {
            code: e.code(),
            detail: e.to_string(),
        })?;
    let match_key = attributes.match_key();
    let mut distinct = Vec::new();
    for reference in &input.distinct_from {
        distinct.push(parse_reference(conn, viewer, reference)?);
    }
    for candidate in store::by_match_key(conn, match_key.as_str())? {
        let id: CommonId = candidate
            .common_id
            .parse()
            .internal("stored person has a bad id")?;
        if !distinct.contains(&id) {
            return Err(ApiError::PossibleDuplicate {
                candidate: name_for(viewer, pseudonyms, &id),
            });
        }
    }
    let code = ActivationCode::generate(&mut rand::rng());
    let expires = now + chrono::Duration::days(ACTIVATION_VALID_DAYS);
    crate::store::write(conn, |conn| {
        // Nine random digits: draw again in the rare case the ID is taken,
        // so an ID is never issued twice.
        let mut issued = None;
        for _ in 0..32 {
            let id = CommonId::generate(&mut rand::rng());
            let row = PersonRow {
                common_id: id.as_digits().to_owned(),
                given_names: attributes.given_names.clone(),
                family_name: attributes.family_name.clone(),
                birth_date: attributes.birth_date,
                birth_place: attributes.birth_place.clone(),
                sex: attributes.sex.map(sex_name),
                match_key: match_key.as_str().to_owned(),
                status: "active".to_owned(),
                deceased_on: None,
                replaced_by: None,
                registered_by: registrar.to_owned(),
                created_at: db_time(now),
                updated_at: db_time(now),
            };
            if store::insert(conn, &row)? {
                issued = Some((id, row));
                break;
            }
        }
        let (id, row) =
            issued.ok_or_else(|| ApiError::internal("no free common ID after 32 draws"))?;
        for sector in Sector::ALL {
            let pseudonym = pseudonyms.pseudonym(*sector, &id);
            store::insert_pseudonym(conn, sector.as_str(), pseudonym.as_str(), id.as_digits())?;
        }
        store::insert_account(
            conn,
            &AccountRow {
                common_id: id.as_digits().to_owned(),
                activation_digest: Some(code.digest().to_hex()),
                activation_expires_at: Some(db_time(expires)),
                password_hash: None,
                totp_secret: None,
                totp_last_step: None,
                failures: 0,
                locked_until: None,
                activated_at: None,
                created_at: db_time(now),
                updated_at: db_time(now),
            },
        )?;
        Ok((
            id,
            Registered {
                id: name_for(viewer, pseudonyms, &id),
                person: view(&row, viewer, pseudonyms)?,
                activation_code: code.to_string(),
                activation_expires_at: from_db(db_time(expires)),
            },
        ))
    })
}

/// Merges the duplicate `replaced` into `survivor`.
pub fn merge(
    conn: &mut DbConnection,
    viewer: Viewer,
    pseudonyms: &PseudonymService,
    survivor: &str,
    replaced: &str,
    now: DateTime<Utc>,
) -> Result<(CommonId, CommonId, PersonView), ApiError> {
    let survivor_id = parse_reference(conn, viewer, survivor)?;
    let replaced_id = parse_reference(conn, viewer, replaced)?;
    crate::store::write(conn, |conn| {
        let survivor_row =
            store::get(conn, survivor_id.as_digits())?.ok_or_else(|| unknown(survivor))?;
        let mut replaced_row =
            store::get(conn, replaced_id.as_digits())?.ok_or_else(|| unknown(replaced))?;
        let (status, _event) = identity::person::merge(
            survivor_id,
            status_of(&survivor_row)?,
            replaced_id,
            status_of(&replaced_row)?,
        )
        .map_err(|e| ApiError::Conflict {
            code: e.code(),
            detail: e.to_string(),
        })?;
        set_status(&mut replaced_row, status, now);
        store::update_status(conn, &replaced_row)?;
        Ok((
            survivor_id,
            replaced_id,
            view(&survivor_row, viewer, pseudonyms)?,
        ))
    })
}

/// A status change a registrar may make.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum StatusChange {
    /// The person died on `on`.
    Deceased {
        /// Date of death.
        on: NaiveDate,
    },
    /// The person is no longer in the registry's scope (e.g. emigrated).
    // Written with braces so that, like the other variant, it refuses
    // members it does not name (serde lets a unit variant ignore them).
    Inactive {},
    /// Back to active (a death recorded in error, or a return).
    Active {},
}

/// Changes a person's status.
pub fn change_status(
    conn: &mut DbConnection,
    viewer: Viewer,
    pseudonyms: &PseudonymService,
    reference: &str,
    change: &StatusChange,
    now: DateTime<Utc>,
) -> Result<(CommonId, PersonView), ApiError> {
    let id = parse_reference(conn, viewer, reference)?;
    let mut row = store::get(conn, id.as_digits())?.ok_or_else(|| unknown(reference))?;
    let current = status_of(&row)?;
    let next = match change {
        StatusChange::Deceased { on } => current.mark_deceased_after_birth(*on, row.birth_date),
        StatusChange::Inactive {} => current.deactivate(),
        StatusChange::Active {} => match current {
            PersonStatus::Deceased { .. } => current.rescind_death(),
            _ => current.reactivate(),
        },
    }
    .map_err(|e| ApiError::Conflict {
        code: e.code(),
        detail: e.to_string(),
    })?;
    set_status(&mut row, next, now);
    store::update_status(conn, &row)?;
    Ok((id, view(&row, viewer, pseudonyms)?))
}
