ALTER TABLE audit_entries DROP COLUMN subject_salt;
