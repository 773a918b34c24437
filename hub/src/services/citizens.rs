//! Citizen accounts: activation with the code from the registration letter,
//! password sign-in (Argon2id) with optional TOTP, lockout with backoff, a
//! web session and a short-lived citizen access token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use identity::CommonId;
use identity::citizen::{
    ActivationCode, ActivationCodeDigest, LockoutPolicy, LockoutState, PasswordHashParams,
    PasswordPolicy, StoredPassword, Totp, TotpSecret, hash_password, verify_password,
};
use identity::jwt::{ACCESS_TOKEN_TYPE, AccessTokenClaims, Audience, sign_token};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::clock::{db_time, from_db};
use crate::app::config::Config;
use crate::app::state::AppState;
use crate::audit_log;
use crate::http::callers::sha256_hex;
use crate::http::error::{ApiError, ResultExt};
use crate::store::persons::{self as store, AccountRow, SessionRow};
use crate::store::{DbConnection, StoreError};

/// How long a web session lasts.
pub const SESSION_MINUTES: i64 = 30;
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "crossroads_session";

/// The audience of citizen access tokens.
pub fn citizen_audience(config: &Config) -> String {
    format!("{}/citizen", config.public_base())
}

/// The password hashing cost configured.
pub fn hash_params(config: &Config) -> PasswordHashParams {
    PasswordHashParams {
        memory_kib: config.argon2_memory_kib,
        iterations: config.argon2_iterations,
        parallelism: 1,
    }
}

/// Activation: the code from the letter and a chosen password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Activation {
    /// The person's common ID (any written form).
    #[schema(value_type = crate::api::ids::CommonId)]
    pub common_id: String,
    /// The activation code from the letter.
    pub activation_code: String,
    /// The password to sign in with from now on (12 characters or more).
    pub password: String,
}

/// Sign-in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The person's common ID (any written form).
    #[schema(value_type = crate::api::ids::CommonId)]
    pub common_id: String,
    /// The password.
    pub password: String,
    /// The current TOTP code, when the citizen enrolled one.
    #[serde(default)]
    pub totp: Option<String>,
}

/// A successful sign-in. The web session travels in a cookie.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignedIn {
    /// A citizen access token for the citizen API (`sub` = the common ID).
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The token that the session's form posts must carry (CSRF).
    pub csrf_token: String,
    /// Failed sign-in attempts on this account since its last sign-in (also
    /// in the `citizen.signed_in` entry of the access log).
    pub failed_attempts: u32,
}

fn invalid_credentials() -> ApiError {
    ApiError::InvalidCredentials("the common ID, password or code is not right")
}

fn lockout_of(account: &AccountRow) -> LockoutState {
    LockoutState {
        failures: u32::try_from(account.failures).unwrap_or(0),
        locked_until: account.locked_until.map(from_db),
    }
}

fn store_lockout(account: &mut AccountRow, state: LockoutState, now: DateTime<Utc>) {
    account.failures = i32::try_from(state.failures).unwrap_or(i32::MAX);
    account.locked_until = state.locked_until.map(db_time);
    account.updated_at = db_time(now);
}

fn check_lock(account: &AccountRow, now: DateTime<Utc>) -> Result<(), ApiError> {
    lockout_of(account)
        .check(now)
        .map_err(|locked| ApiError::Locked {
            until: locked.until,
        })
}

/// Records a failure (and perhaps a lock, audited as `citizen.locked` in
/// the same transaction) and answers with `error`.
fn fail(
    conn: &mut DbConnection,
    account: &mut AccountRow,
    now: DateTime<Utc>,
    error: ApiError,
) -> ApiError {
    let saved = crate::store::write(conn, |conn| {
        count_failure(conn, account, &LockoutPolicy::default(), now)
    });
    match saved {
        Ok(()) => error,
        Err(e) => e,
    }
}

/// An account, its row locked until the caller's transaction ends, so that
/// concurrent attempts on it are counted one after another.
fn load_account(
    conn: &mut DbConnection,
    common_id: &str,
) -> Result<(CommonId, AccountRow), ApiError> {
    let id: CommonId = common_id.parse().map_err(|_| invalid_credentials())?;
    let account =
        store::account_for_update(conn, id.as_digits())?.ok_or_else(invalid_credentials)?;
    Ok((id, account))
}

/// Checks an activation code, inside a write transaction that locks the
/// account's row (parallel guesses are counted one by one): the code must
/// match and be unexpired. Returns the person and the code's digest.
///
/// An unknown ID, an account activated already and a wrong code all get the
/// same `401 invalid_credentials`, so the answer does not tell an account's
/// state; a wrong code on a real account counts as a failed attempt.
fn check_activation_code(
    conn: &mut DbConnection,
    input: &Activation,
    now: DateTime<Utc>,
) -> Result<(CommonId, String), ApiError> {
    let (id, mut account) = load_account(conn, &input.common_id)?;
    check_lock(&account, now)?;
    let Some(digest) = account.activation_digest.clone() else {
        return Err(invalid_credentials());
    };
    let code: Option<ActivationCode> = input.activation_code.parse().ok();
    let matches = ActivationCodeDigest::from_hex(&digest)
        .ok()
        .zip(code)
        .is_some_and(|(digest, code)| digest.verify(&code));
    if !matches {
        return Err(fail(conn, &mut account, now, invalid_credentials()));
    }
    if account
        .activation_expires_at
        .map(from_db)
        .is_none_or(|until| until <= now)
    {
        return Err(ApiError::Invalid {
            code: "activation_code_expired",
            detail: "the activation code has expired; ask the registry for a new letter".to_owned(),
        });
    }
    Ok((id, digest))
}

/// Activates an account with the code from its letter and sets its
/// password, audited as `citizen.activated`.
///
/// Three steps, none holding a connection while Argon2 runs: the code is
/// checked (and a wrong one counted) in one transaction; the password is
/// hashed off the database, at most [`ARGON2_SLOTS`] at once; the account is
/// activated in a second transaction only if its code is still the one
/// checked (a parallel activation with the same code wins once).
pub async fn activate(
    state: &AppState,
    input: Activation,
    now: DateTime<Utc>,
) -> Result<CommonId, ApiError> {
    PasswordPolicy::default()
        .check(&input.password)
        .map_err(|e| ApiError::Invalid {
            code: e.code(),
            detail: e.to_string(),
        })?;
    let password = input.password.clone();
    // A refusal still commits the failure it counted.
    let (id, digest) = state
        .db(move |conn| {
            crate::store::write(conn, |conn| Ok(check_activation_code(conn, &input, now)))
        })
        .await??;
    let hash = {
        let _slot = ARGON2_SLOTS
            .acquire()
            .await
            .internal("password checks closed")?;
        let params = hash_params(&state.config);
        actix_web::web::block(move || {
            hash_password(&password, &params, &mut rand::rng())
                .map(|h| h.as_phc().to_owned())
                .internal("a password cannot be hashed")
        })
        .await??
    };
    state
        .change(move |conn| {
            if !store::complete_activation(conn, id.as_digits(), &digest, &hash, now)? {
                return Err(invalid_credentials());
            }
            Ok((
                id,
                vec![crate::audit_log::actions::by_citizen(
                    &id,
                    "citizen.activated",
                )?],
            ))
        })
        .await
}

fn random_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ApiError::internal("the system random generator failed"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// How sign-in attempts are slowed down: after 5 failures in a row each
/// further attempt waits a growing delay (5 s, doubling, at most a minute),
/// a soft lock that no one can turn into a long lock-out of someone else.
pub fn sign_in_policy() -> LockoutPolicy {
    LockoutPolicy {
        max_failures: 5,
        base_lock: chrono::Duration::seconds(5),
        max_lock: chrono::Duration::seconds(60),
    }
}

/// The most password hashes computed at once: Argon2id is memory-hard, and
/// unbounded sign-ins would starve everything else.
static ARGON2_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// What a sign-in attempt may do, decided before any password is checked.
enum Attempt {
    /// No such account, or not activated: a dummy hash is checked so that
    /// the refusal takes as long as for a real account.
    Nobody,
    /// The attempt was counted and may check the password.
    Allowed {
        id: CommonId,
        hash: String,
        totp: Option<(String, Option<i64>)>,
    },
}

/// Reserves a sign-in attempt on `common_id` at `now`, in one write
/// transaction that locks the account's row: the attempt is counted as a
/// failure before anything is checked (a success then clears the count),
/// and while the account's delay runs it is refused without checking
/// anything. Concurrent attempts are counted one after another, so no more
/// than the policy's allowance are ever checked before the delay starts.
fn reserve_attempt(
    conn: &mut DbConnection,
    common_id: &str,
    now: DateTime<Utc>,
) -> Result<Attempt, ApiError> {
    let Ok(id) = common_id.parse::<CommonId>() else {
        return Ok(Attempt::Nobody);
    };
    crate::store::write(conn, |conn| {
        let Some(mut account) = store::account_for_update(conn, id.as_digits())? else {
            return Ok(Attempt::Nobody);
        };
        check_lock(&account, now)?;
        let Some(hash) = account.password_hash.clone() else {
            return Ok(Attempt::Nobody);
        };
        count_failure(conn, &mut account, &sign_in_policy(), now)?;
        Ok(Attempt::Allowed {
            id,
            hash,
            totp: account
                .totp_secret
                .clone()
                .map(|secret| (secret, account.totp_last_step)),
        })
    })
}

/// Counts a failure on `account` (and perhaps starts its delay, audited as
/// `citizen.locked`), inside the caller's transaction.
fn count_failure(
    conn: &mut DbConnection,
    account: &mut AccountRow,
    policy: &LockoutPolicy,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let mut state = lockout_of(account);
    let was_locked = state.locked_until.is_some_and(|until| until > now);
    state.record_failure(policy, now);
    let locked_until = state
        .locked_until
        .filter(|until| *until > now && !was_locked);
    store_lockout(account, state, now);
    store::save_account(conn, account)?;
    if let Some(until) = locked_until {
        let entry = audit_log::NewEntry::new(
            "citizen.locked",
            audit::Actor::new(audit::ActorType::Hub, "hub"),
            audit::Outcome::Recorded,
        )?
        .with_person(account.common_id.clone())
        .with_details(serde_json::json!({"locked_until": until.to_rfc3339()}));
        audit_log::stage(conn, &[entry], now)?;
    }
    Ok(())
}

/// Checks `password` against `hash`, or against a dummy hash when there is
/// none, on a blocking thread without a database connection, at most
/// [`ARGON2_SLOTS`] at once.
async fn check_password(
    config: &Config,
    password: String,
    hash: Option<String>,
) -> Result<bool, ApiError> {
    let _slot = ARGON2_SLOTS
        .acquire()
        .await
        .internal("password checks closed")?;
    let params = hash_params(config);
    actix_web::web::block(move || {
        let (stored, real) = match hash {
            Some(hash) => (StoredPassword::from_phc(hash), true),
            None => (dummy_hash(&params)?, false),
        };
        let ok = verify_password(&password, &stored).internal("a password cannot be checked")?;
        Ok(ok && real)
    })
    .await?
}

/// The typical time of a password check, a moving average (one part in
/// eight for each new check) kept across attempts, in microseconds.
static TYPICAL_CHECK_MICROS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Folds `took` into the typical check time and returns the new value.
fn typical_check_time(took: std::time::Duration) -> std::time::Duration {
    use std::sync::atomic::Ordering;
    let sample = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    let mut current = TYPICAL_CHECK_MICROS.load(Ordering::Relaxed);
    loop {
        let next = if current == 0 {
            sample
        } else {
            current - current / 8 + sample / 8
        };
        match TYPICAL_CHECK_MICROS.compare_exchange_weak(
            current,
            next,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => return std::time::Duration::from_micros(next),
            Err(seen) => current = seen,
        }
    }
}

/// A hash of nothing anyone knows, made once with the configured cost: what
/// an attempt on an unknown account is checked against.
fn dummy_hash(params: &PasswordHashParams) -> Result<StoredPassword, ApiError> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(phc) = DUMMY.get() {
        return Ok(StoredPassword::from_phc(phc.clone()));
    }
    let made = hash_password(&random_token()?, params, &mut rand::rng())
        .internal("the dummy password cannot be hashed")?;
    let phc = DUMMY.get_or_init(|| made.as_phc().to_owned());
    Ok(StoredPassword::from_phc(phc.clone()))
}

/// Signs a citizen in; returns the response and the session cookie's value.
///
/// Three steps: the attempt is reserved (counted) in one transaction;
/// the password is checked without a database connection; a success clears
/// the count, accepts the TOTP code once (an atomic update of the last
/// step), opens the session and is audited (`citizen.signed_in`), in one
/// transaction. Every refusal is the same `401 invalid_credentials`, as
/// slow for an unknown or unactivated account as for a wrong password.
pub async fn sign_in(
    state: &actix_web::web::Data<AppState>,
    input: SignIn,
    now: DateTime<Utc>,
) -> Result<(SignedIn, String), ApiError> {
    let (id, step) = check_credentials(state, input, now).await?;
    let inner = state.clone();
    state
        .change(move |conn| {
            let failed = accept_success(conn, &id, step, now)?;
            let mut signed_in = open_session(conn, &inner, &id, now)?;
            signed_in.0.failed_attempts = failed;
            let entry = crate::audit_log::actions::by_citizen(&id, "citizen.signed_in")?
                .with_details(serde_json::json!({"failed_attempts": failed}));
            Ok((signed_in, vec![entry]))
        })
        .await
}

/// After [`check_credentials`] succeeded, inside the write transaction that
/// acts on it: accepts the TOTP step once (an atomic update of the last
/// step; the same code used meanwhile is refused) and clears the account's
/// failures. Returns how many attempts failed before this one since the
/// last success (this one was counted as a failure when it was reserved).
fn accept_success(
    conn: &mut DbConnection,
    id: &CommonId,
    step: Option<i64>,
    now: DateTime<Utc>,
) -> Result<u32, ApiError> {
    if let Some(step) = step
        && !store::accept_totp_step(conn, id.as_digits(), step)?
    {
        return Err(invalid_credentials());
    }
    let counted = store::account(conn, id.as_digits())?.map_or(0, |a| a.failures);
    store::clear_failures(conn, id.as_digits(), now)?;
    Ok(u32::try_from(counted.saturating_sub(1)).unwrap_or(0))
}

/// Checks a common ID, password and (when enrolled) TOTP code: the attempt
/// is reserved (counted) first, the password is checked without a database
/// connection, and every refusal is the same `401 invalid_credentials`, as
/// slow for an unknown account as for a wrong password. Returns the person
/// and the TOTP step to accept with [`accept_success`].
async fn check_credentials(
    state: &actix_web::web::Data<AppState>,
    input: SignIn,
    now: DateTime<Utc>,
) -> Result<(CommonId, Option<i64>), ApiError> {
    let started = std::time::Instant::now();
    let common_id = input.common_id.clone();
    let attempt = state
        .db(move |conn| reserve_attempt(conn, &common_id, now))
        .await?;
    let (id, hash, totp) = match attempt {
        Attempt::Nobody => (None, None, None),
        Attempt::Allowed { id, hash, totp } => (Some(id), Some(hash), totp),
    };
    if hash.is_some() {
        state.hub_metrics.password_checked();
    }
    let checking = std::time::Instant::now();
    let password_ok = check_password(&state.config, input.password, hash).await?;
    let typical = typical_check_time(checking.elapsed());
    let Some(id) = id.filter(|_| password_ok) else {
        // A refusal leaves no earlier than twice the typical check's time
        // after the attempt began: the one database write that counts an
        // attempt on a real account is then hidden, and the answer does not
        // tell whether the account exists. (The typical time, not this
        // check's own, so that one slow hash does not show.)
        let floor = started + typical * 2;
        tokio::time::sleep_until(tokio::time::Instant::from_std(floor)).await;
        return Err(invalid_credentials());
    };
    let step = match totp {
        None => None,
        Some((sealed, last)) => {
            let secret = state
                .totp_key
                .open(id.as_digits(), &sealed)
                .map_err(|e| ApiError::internal_from("a TOTP secret cannot be opened", e))?;
            let secret =
                TotpSecret::from_base32(&secret).internal("a stored TOTP secret is malformed")?;
            let Some(code) = &input.totp else {
                return Err(ApiError::InvalidCredentials(
                    "this account needs the TOTP code too",
                ));
            };
            let last = last.and_then(|s| u64::try_from(s).ok());
            let step = Totp::default()
                .verify(&secret, code, now, last)
                .map_err(|_| invalid_credentials())?;
            Some(i64::try_from(step).map_err(|_| invalid_credentials())?)
        }
    };
    Ok((id, step))
}

/// Opens a web session and signs a citizen access token.
fn open_session(
    conn: &mut DbConnection,
    state: &AppState,
    id: &CommonId,
    now: DateTime<Utc>,
) -> Result<(SignedIn, String), ApiError> {
    let session = random_token()?;
    let csrf_token = random_token()?;
    let digest = sha256_hex(session.as_bytes());
    // Ended sessions are swept on the way.
    store::purge_sessions(conn, now)?;
    store::insert_session(
        conn,
        &SessionRow {
            id_digest: digest.clone(),
            common_id: id.as_digits().to_owned(),
            csrf_token: csrf_token.clone(),
            created_at: db_time(now),
            expires_at: db_time(now + chrono::Duration::minutes(SESSION_MINUTES)),
        },
    )?;
    let ttl = i64::from(state.config.access_token_ttl_secs);
    let claims = AccessTokenClaims {
        iss: state.config.public_base(),
        sub: id.as_digits().to_owned(),
        aud: Audience::One(citizen_audience(&state.config)),
        exp: now.timestamp() + ttl,
        iat: now.timestamp(),
        nbf: None,
        // The token belongs to the session: when it ends (sign-out,
        // expiry), the token is refused too.
        jti: digest,
        scope: "citizen".to_owned(),
        client_id: None,
        cnf: None,
    };
    let ring = state
        .keys
        .ring(conn, now)
        .internal("the hub's signing keys cannot be read")?;
    let access_token = sign_token(&claims, ring.current(), ACCESS_TOKEN_TYPE)
        .internal("a citizen's access token cannot be signed")?;
    Ok((
        SignedIn {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in: ttl,
            csrf_token,
            failed_attempts: 0,
        },
        session,
    ))
}

/// A TOTP secret offered for enrolment (not stored until confirmed).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TotpOffer {
    /// The secret, base32.
    pub secret: String,
    /// An `otpauth://` URI for authenticator apps.
    pub otpauth_uri: String,
}

/// Makes a TOTP secret to offer.
pub fn totp_offer(config: &Config, id: &CommonId) -> TotpOffer {
    let secret = TotpSecret::generate(&mut rand::rng());
    TotpOffer {
        otpauth_uri: Totp::default().otpauth_uri(&secret, &config.public_base(), id.as_digits()),
        secret: secret.to_base32(),
    }
}

/// Confirming a TOTP secret with a current code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpConfirm {
    /// The secret offered.
    pub secret: String,
    /// A current code from the authenticator, for the new secret.
    pub code: String,
    /// The password: needed to replace a second factor already enrolled.
    #[serde(default)]
    pub password: Option<String>,
    /// A current code of the second factor already enrolled: needed to
    /// replace it.
    #[serde(default)]
    pub current_code: Option<String>,
}

/// Removing the second factor: the password and a current code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpRemoval {
    /// The password.
    pub password: String,
    /// A current code of the enrolled second factor.
    pub code: String,
}

/// Whether `id` has a second factor enrolled (sign-in needs a TOTP code).
pub fn has_totp(conn: &mut DbConnection, id: &CommonId) -> Result<bool, ApiError> {
    Ok(store::account(conn, id.as_digits())?.is_some_and(|a| a.totp_secret.is_some()))
}

/// Enrols, or replaces, a citizen's second factor. A first enrolment needs
/// the new secret and a current code of it; replacing an enrolled one needs
/// the password and a current code of the old one as well (checked like a
/// sign-in: counted, delayed after failures, one generic refusal). The
/// secret is stored sealed (see [`crate::secrets::TotpKey`]). Audited as
/// `citizen.totp_enabled` or `citizen.totp_changed`.
pub async fn totp_enrol(
    state: &actix_web::web::Data<AppState>,
    id: CommonId,
    input: TotpConfirm,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let secret = TotpSecret::from_base32(&input.secret).map_err(|e| ApiError::Invalid {
        code: e.code(),
        detail: e.to_string(),
    })?;
    let new_step = Totp::default()
        .verify(&secret, &input.code, now, None)
        .map_err(|e| ApiError::Invalid {
            code: e.code(),
            detail: e.to_string(),
        })?;
    let lookup = id;
    let enrolled = state.db(move |conn| has_totp(conn, &lookup)).await?;
    let proven = if enrolled {
        let (Some(password), Some(code)) = (input.password, input.current_code) else {
            return Err(ApiError::InvalidCredentials(
                "replacing the second factor needs the password and a current code",
            ));
        };
        let sign_in = SignIn {
            common_id: id.as_digits().to_owned(),
            password,
            totp: Some(code),
        };
        Some(check_credentials(state, sign_in, now).await?)
    } else {
        None
    };
    let sealed = state
        .totp_key
        .seal(id.as_digits(), &secret.to_base32())
        .map_err(|e| ApiError::internal_from("a TOTP secret cannot be sealed", e))?;
    let new_step = i64::try_from(new_step).ok();
    state
        .change(move |conn| {
            if let Some((_, step)) = &proven {
                accept_success(conn, &id, *step, now)?;
            }
            // Only the second factor's columns, and a first enrolment only
            // while none is enrolled: one enrolled meanwhile is not replaced
            // without the password and its code.
            if !store::set_totp(
                conn,
                id.as_digits(),
                Some(&sealed),
                new_step,
                proven.is_none(),
                now,
            )? {
                return Err(invalid_credentials());
            }
            let kind = if proven.is_some() {
                "citizen.totp_changed"
            } else {
                "citizen.totp_enabled"
            };
            Ok(((), vec![crate::audit_log::actions::by_citizen(&id, kind)?]))
        })
        .await
}

/// Removes a citizen's second factor, with the password and a current code
/// (checked like a sign-in). Audited as `citizen.totp_removed`.
pub async fn totp_remove(
    state: &actix_web::web::Data<AppState>,
    id: CommonId,
    input: TotpRemoval,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let lookup = id;
    if !state.db(move |conn| has_totp(conn, &lookup)).await? {
        return Err(ApiError::Conflict {
            code: "totp_not_enrolled",
            detail: "no second factor is enrolled".to_owned(),
        });
    }
    let sign_in = SignIn {
        common_id: id.as_digits().to_owned(),
        password: input.password,
        totp: Some(input.code),
    };
    let (_, step) = check_credentials(state, sign_in, now).await?;
    state
        .change(move |conn| {
            accept_success(conn, &id, step, now)?;
            store::set_totp(conn, id.as_digits(), None, None, false, now)?;
            Ok((
                (),
                vec![crate::audit_log::actions::by_citizen(
                    &id,
                    "citizen.totp_removed",
                )?],
            ))
        })
        .await
}

/// The session with digest `id_digest`, if it has not expired at `now`.
pub fn session(
    conn: &mut DbConnection,
    id_digest: &str,
    now: DateTime<Utc>,
) -> Result<Option<SessionRow>, StoreError> {
    store::session(conn, id_digest, db_time(now))
}

/// Ends the session with digest `id_digest` (signing out).
pub fn end_session(conn: &mut DbConnection, id_digest: &str) -> Result<(), StoreError> {
    store::delete_session(conn, id_digest)
}

/// Seals every TOTP secret stored in plaintext (before secrets were
/// sealed); returns how many. Run with the migrations.
pub fn seal_plain_totp_secrets(
    conn: &mut DbConnection,
    key: &crate::secrets::TotpKey,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let plain = store::plain_totp_secrets(conn)?;
    let mut sealed = 0;
    for (id, secret) in plain {
        if crate::secrets::TotpKey::is_sealed(&secret) {
            continue;
        }
        let value = key
            .seal(&id, &secret)
            .map_err(|e| ApiError::internal_from("a TOTP secret cannot be sealed", e))?;
        if store::reseal_totp(conn, &id, &secret, &value, now)? {
            sealed += 1;
        }
    }
    Ok(sealed)
}
