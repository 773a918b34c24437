DROP TABLE audit_queue;
DROP TABLE audit_checkpoints;
DROP TABLE audit_hashes;
DROP TABLE audit_entries;
DROP FUNCTION audit_append_only();
