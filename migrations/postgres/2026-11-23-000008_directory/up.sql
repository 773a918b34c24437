CREATE TABLE record_sources (
    record_type TEXT NOT NULL,
    major INTEGER NOT NULL,
    provider_id TEXT NOT NULL REFERENCES agencies (id),
    routing TEXT NOT NULL CHECK (routing IN ('direct', 'by_reference')),
    timeout_ms INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (record_type, major, provider_id)
);

CREATE TABLE person_references (
    id TEXT PRIMARY KEY,
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    common_id TEXT NOT NULL REFERENCES persons (common_id),
    capacity TEXT NOT NULL,
    valid_from DATE NOT NULL,
    valid_until DATE,
    created_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP
);
CREATE INDEX person_references_by_person ON person_references (common_id);
