-- A narrower entry row, for cheaper appends:
-- - no leaf_hash: the leaf hash is the level-0 stored hash in audit_hashes
--   (and is recomputed from the entry wherever it is shown);
-- - no exchange_id: no query reads it; it stays in the entry itself;
-- - queue_id unique only where set: most entries are appended by the
--   sequencer itself and have none.
ALTER TABLE audit_entries DROP COLUMN leaf_hash, DROP COLUMN exchange_id;
ALTER TABLE audit_entries DROP CONSTRAINT audit_entries_queue_id_key;
CREATE UNIQUE INDEX audit_entries_queue ON audit_entries (queue_id) WHERE queue_id IS NOT NULL;
