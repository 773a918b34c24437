-- The audit log: entries (canonical JSON), the stored Merkle hashes in
-- stored-index order (the C2SP tlog-tiles layout), signed checkpoints, and
-- the hand-over queue of processes that are not the sequencer.
CREATE TABLE audit_entries (
    seq BIGINT PRIMARY KEY,
    entry TEXT NOT NULL,
    leaf_hash BYTEA NOT NULL,
    time TIMESTAMP NOT NULL,
    kind TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    person TEXT,
    record_type TEXT,
    outcome TEXT NOT NULL,
    exchange_id TEXT,
    provider TEXT,
    queue_id BIGINT UNIQUE
);
CREATE INDEX audit_entries_person ON audit_entries (person, seq);
CREATE INDEX audit_entries_actor ON audit_entries (actor_id, seq);
CREATE INDEX audit_entries_provider ON audit_entries (provider, seq);
CREATE INDEX audit_entries_exchange ON audit_entries (exchange_id);

CREATE TABLE audit_hashes (
    stored_index BIGINT PRIMARY KEY,
    hash BYTEA NOT NULL
);

CREATE TABLE audit_checkpoints (
    size BIGINT PRIMARY KEY,
    root_hash BYTEA NOT NULL,
    note TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE audit_queue (
    id BIGINT PRIMARY KEY,
    entry TEXT NOT NULL,
    enqueued_at TIMESTAMP NOT NULL
);

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit log is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_hashes_append_only BEFORE UPDATE OR DELETE ON audit_hashes
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_hashes_no_truncate BEFORE TRUNCATE ON audit_hashes
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
