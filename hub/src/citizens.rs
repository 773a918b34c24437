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

use crate::audit_log;
use crate::auth::sha256_hex;
use crate::config::Config;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::DbConnection;
use crate::store::persons::{self as store, AccountRow, SessionRow};
use crate::time::{db_time, from_db};

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
    let mut state = lockout_of(account);
    let was_locked = state.locked_until.is_some_and(|until| until > now);
    state.record_failure(&LockoutPolicy::default(), now);
    let locked_until = state
        .locked_until
        .filter(|until| *until > now && !was_locked);
    store_lockout(account, state, now);
    let saved = crate::store::write(conn, |conn| {
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
        Ok::<_, ApiError>(())
    });
    match saved {
        Ok(()) => error,
        Err(e) => e,
    }
}

fn load_account(
    conn: &mut DbConnection,
    common_id: &str,
) -> Result<(CommonId, AccountRow), ApiError> {
    let id: CommonId = common_id.parse().map_err(|_| invalid_credentials())?;
    let account = store::account(conn, id.as_digits())?.ok_or_else(invalid_credentials)?;
    Ok((id, account))
}

/// Activates an account: the code must match, be unexpired and unused.
pub fn activate(
    conn: &mut DbConnection,
    config: &Config,
    input: &Activation,
    now: DateTime<Utc>,
) -> Result<CommonId, ApiError> {
    let (id, mut account) = load_account(conn, &input.common_id)?;
    check_lock(&account, now)?;
    let Some(digest) = account.activation_digest.clone() else {
        return Err(ApiError::Conflict {
            code: "activation_code_used",
            detail: "this account is activated already; sign in instead".to_owned(),
        });
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
    PasswordPolicy::default()
        .check(&input.password)
        .map_err(|e| ApiError::Invalid {
            code: e.code(),
            detail: e.to_string(),
        })?;
    let hash = hash_password(&input.password, &hash_params(config), &mut rand::rng())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    account.password_hash = Some(hash.as_phc().to_owned());
    account.activation_digest = None;
    account.activation_expires_at = None;
    account.activated_at = Some(db_time(now));
    store_lockout(&mut account, LockoutState::default(), now);
    store::save_account(conn, &account)?;
    Ok(id)
}

fn random_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ApiError::Internal("the system random generator failed".to_owned()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Signs a citizen in; returns the response and the session cookie's value.
pub fn sign_in(
    conn: &mut DbConnection,
    state: &AppState,
    input: &SignIn,
    now: DateTime<Utc>,
) -> Result<(SignedIn, String), ApiError> {
    let (id, mut account) = load_account(conn, &input.common_id)?;
    check_lock(&account, now)?;
    let Some(hash) = account.password_hash.clone() else {
        return Err(ApiError::Forbidden {
            code: "account_not_activated",
            detail: "activate the account with the code from the letter first".to_owned(),
        });
    };
    let password_ok = verify_password(&input.password, &StoredPassword::from_phc(hash))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if !password_ok {
        return Err(fail(conn, &mut account, now, invalid_credentials()));
    }
    if let Some(secret) = &account.totp_secret {
        let secret =
            TotpSecret::from_base32(secret).map_err(|e| ApiError::Internal(e.to_string()))?;
        let Some(code) = &input.totp else {
            return Err(ApiError::InvalidCredentials(
                "this account needs the TOTP code too",
            ));
        };
        let last = account.totp_last_step.and_then(|s| u64::try_from(s).ok());
        match Totp::default().verify(&secret, code, now, last) {
            Ok(step) => account.totp_last_step = i64::try_from(step).ok(),
            Err(_) => return Err(fail(conn, &mut account, now, invalid_credentials())),
        }
    }
    store_lockout(&mut account, LockoutState::default(), now);
    store::save_account(conn, &account)?;

    let session = random_token()?;
    let csrf_token = random_token()?;
    store::insert_session(
        conn,
        &SessionRow {
            id_digest: sha256_hex(session.as_bytes()),
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
        jti: uuid::Uuid::new_v4().to_string(),
        scope: "citizen".to_owned(),
        client_id: None,
        cnf: None,
    };
    let ring = state
        .keys
        .ring(conn, now)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let access_token = sign_token(&claims, ring.current(), ACCESS_TOKEN_TYPE)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        SignedIn {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in: ttl,
            csrf_token,
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
    /// A current code from the authenticator.
    pub code: String,
}

/// Stores a TOTP secret once a current code proves the citizen holds it.
pub fn totp_confirm(
    conn: &mut DbConnection,
    id: &CommonId,
    input: &TotpConfirm,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let secret = TotpSecret::from_base32(&input.secret).map_err(|e| ApiError::Invalid {
        code: e.code(),
        detail: e.to_string(),
    })?;
    let step = Totp::default()
        .verify(&secret, &input.code, now, None)
        .map_err(|e| ApiError::Invalid {
            code: e.code(),
            detail: e.to_string(),
        })?;
    let mut account = store::account(conn, id.as_digits())?.ok_or_else(invalid_credentials)?;
    account.totp_secret = Some(secret.to_base32());
    account.totp_last_step = i64::try_from(step).ok();
    account.updated_at = db_time(now);
    store::save_account(conn, &account)?;
    Ok(())
}
