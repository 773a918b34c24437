-- The salt of a version 2 entry's commitments to the persons it concerns
-- (64 hex digits), kept beside the entry and outside its hashed bytes:
-- shown only to the person concerned and to operators. Set when the entry
-- is inserted; the append-only triggers refuse any later change.
ALTER TABLE audit_entries ADD COLUMN subject_salt TEXT;
