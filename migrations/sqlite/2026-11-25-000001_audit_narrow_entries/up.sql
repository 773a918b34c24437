-- A narrower entry row, for cheaper appends:
-- - no leaf_hash: the leaf hash is the level-0 stored hash in audit_hashes
--   (and is recomputed from the entry wherever it is shown);
-- - no exchange_id: no query reads it; it stays in the entry itself;
-- - queue_id unique only where set: on SQLite it is always NULL, and each
--   append paid an index insert for it.
-- SQLite cannot drop a UNIQUE column constraint, so the table is rebuilt
-- (DROP TABLE fires no DELETE trigger; the triggers are made again).
CREATE TABLE audit_entries_narrow (
    seq INTEGER PRIMARY KEY NOT NULL,
    entry TEXT NOT NULL,
    time TIMESTAMP NOT NULL,
    kind TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    person TEXT,
    record_type TEXT,
    outcome TEXT NOT NULL,
    provider TEXT,
    queue_id BIGINT
);
INSERT INTO audit_entries_narrow
    (seq, entry, time, kind, actor_type, actor_id, person, record_type, outcome, provider, queue_id)
SELECT seq, entry, time, kind, actor_type, actor_id, person, record_type, outcome, provider, queue_id
FROM audit_entries ORDER BY seq;
DROP TABLE audit_entries;
ALTER TABLE audit_entries_narrow RENAME TO audit_entries;
CREATE INDEX audit_entries_person ON audit_entries (person, seq);
CREATE UNIQUE INDEX audit_entries_queue ON audit_entries (queue_id) WHERE queue_id IS NOT NULL;
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
