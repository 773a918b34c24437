-- The wide entry row again; the append-only trigger is set aside while the
-- restored columns are filled from the entries themselves.
DROP INDEX audit_entries_queue;
ALTER TABLE audit_entries ADD CONSTRAINT audit_entries_queue_id_key UNIQUE (queue_id);
ALTER TABLE audit_entries ADD COLUMN leaf_hash BYTEA, ADD COLUMN exchange_id TEXT;
ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only;
UPDATE audit_entries
SET leaf_hash = sha256('\x00'::bytea || convert_to(entry, 'UTF8')),
    exchange_id = entry::jsonb ->> 'exchange_id';
ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only;
ALTER TABLE audit_entries ALTER COLUMN leaf_hash SET NOT NULL;
