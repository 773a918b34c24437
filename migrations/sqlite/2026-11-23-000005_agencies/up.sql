CREATE TABLE agencies (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    sector TEXT NOT NULL,
    roles TEXT NOT NULL,
    endpoint_url TEXT,
    identifier_policy TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE agency_certificates (
    thumbprint TEXT PRIMARY KEY NOT NULL,
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    pem TEXT NOT NULL,
    subject TEXT NOT NULL,
    serial TEXT NOT NULL,
    key_algorithm TEXT NOT NULL,
    not_before TIMESTAMP NOT NULL,
    not_after TIMESTAMP NOT NULL,
    added_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX agency_certificates_by_agency ON agency_certificates (agency_id);

CREATE TABLE used_assertions (
    agency_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (agency_id, jti)
);
CREATE INDEX used_assertions_by_expiry ON used_assertions (expires_at);

CREATE TABLE hub_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    public_key TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    retired_at TIMESTAMP,
    publish_until TIMESTAMP
);
