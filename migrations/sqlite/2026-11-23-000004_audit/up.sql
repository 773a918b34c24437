-- The audit log: entries (canonical JSON), the stored Merkle hashes in
-- stored-index order (the C2SP tlog-tiles layout), signed checkpoints, and
-- the hand-over queue of processes that are not the sequencer.
CREATE TABLE audit_entries (
    seq INTEGER PRIMARY KEY NOT NULL,
    entry TEXT NOT NULL,
    leaf_hash BLOB NOT NULL,
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
    stored_index INTEGER PRIMARY KEY NOT NULL,
    hash BLOB NOT NULL
);

CREATE TABLE audit_checkpoints (
    size BIGINT PRIMARY KEY NOT NULL,
    root_hash BLOB NOT NULL,
    note TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE audit_queue (
    id INTEGER PRIMARY KEY NOT NULL,
    entry TEXT NOT NULL,
    enqueued_at TIMESTAMP NOT NULL
);

CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_hashes_no_update BEFORE UPDATE ON audit_hashes
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_hashes_no_delete BEFORE DELETE ON audit_hashes
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
