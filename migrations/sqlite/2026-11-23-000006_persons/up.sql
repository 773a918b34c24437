CREATE TABLE persons (
    common_id TEXT PRIMARY KEY NOT NULL,
    given_names TEXT NOT NULL,
    family_name TEXT NOT NULL,
    birth_date DATE NOT NULL,
    birth_place TEXT,
    sex TEXT,
    match_key TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'deceased', 'inactive', 'replaced')),
    deceased_on DATE,
    replaced_by TEXT REFERENCES persons (common_id),
    registered_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX persons_by_match_key ON persons (match_key);

CREATE TABLE sector_pseudonyms (
    sector TEXT NOT NULL,
    pseudonym TEXT NOT NULL,
    common_id TEXT NOT NULL REFERENCES persons (common_id),
    PRIMARY KEY (sector, pseudonym)
);
CREATE INDEX sector_pseudonyms_by_person ON sector_pseudonyms (common_id);

CREATE TABLE citizen_accounts (
    common_id TEXT PRIMARY KEY NOT NULL REFERENCES persons (common_id),
    activation_digest TEXT,
    activation_expires_at TIMESTAMP,
    password_hash TEXT,
    totp_secret TEXT,
    totp_last_step BIGINT,
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMP,
    activated_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE citizen_sessions (
    id_digest TEXT PRIMARY KEY NOT NULL,
    common_id TEXT NOT NULL REFERENCES persons (common_id),
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX citizen_sessions_by_person ON citizen_sessions (common_id);
