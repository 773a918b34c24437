-- The controlled list of purposes agencies state in their requests.
CREATE TABLE purposes (
    code TEXT PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    legal_title TEXT NOT NULL,
    legal_url TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL
);

-- Authorizations (legal bases): every version is a row, never edited but to
-- close it when a newer version takes over.
CREATE TABLE authorizations (
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    consumer_agency TEXT,
    consumer_sector TEXT,
    consumer_role TEXT,
    record_type TEXT NOT NULL,
    major INTEGER NOT NULL,
    fields TEXT NOT NULL,
    purposes TEXT NOT NULL,
    legal_reference TEXT NOT NULL,
    valid_from TIMESTAMP NOT NULL,
    valid_until TIMESTAMP,
    consent_required BOOLEAN NOT NULL,
    superseded_from TIMESTAMP,
    published_at TIMESTAMP NOT NULL,
    published_by TEXT NOT NULL,
    PRIMARY KEY (id, version),
    CHECK ((consumer_agency IS NOT NULL AND consumer_sector IS NULL AND consumer_role IS NULL)
        OR (consumer_agency IS NULL AND consumer_sector IS NOT NULL AND consumer_role IS NOT NULL))
);

-- Consents and consent requests, at their latest revision.
CREATE TABLE consents (
    id TEXT PRIMARY KEY NOT NULL,
    person TEXT NOT NULL REFERENCES persons (common_id),
    consumer TEXT NOT NULL REFERENCES agencies (id),
    record_types TEXT NOT NULL,
    purpose TEXT NOT NULL REFERENCES purposes (code),
    valid_from TIMESTAMP NOT NULL,
    valid_until TIMESTAMP NOT NULL,
    frequency TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'paused', 'rejected', 'revoked', 'expired')),
    revision INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    artefact TEXT
);
CREATE INDEX consents_by_person ON consents (person);
CREATE INDEX consents_by_consumer ON consents (consumer, person);

-- Each fetch made under a consent, to enforce its frequency.
CREATE TABLE consent_uses (
    id TEXT PRIMARY KEY NOT NULL,
    consent_id TEXT NOT NULL REFERENCES consents (id),
    used_at TIMESTAMP NOT NULL
);
CREATE INDEX consent_uses_by_consent ON consent_uses (consent_id, used_at);

-- State changes agencies poll for; seq is assigned in the writing
-- transaction (the largest plus one), so it grows in commit order.
CREATE TABLE consent_events (
    seq BIGINT PRIMARY KEY NOT NULL,
    consent_id TEXT NOT NULL REFERENCES consents (id),
    agency TEXT NOT NULL,
    person TEXT NOT NULL,
    kind TEXT NOT NULL,
    revision INTEGER NOT NULL,
    occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX consent_events_by_agency ON consent_events (agency, seq);
