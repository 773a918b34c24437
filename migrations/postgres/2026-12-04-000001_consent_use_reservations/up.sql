-- A use of a consent is reserved before the provider is called (its id is
-- the exchange id) and stays pending until the lookup's audit entry is in
-- the log; a reservation still pending after a crash is audited as
-- `lookup.interrupted`.
ALTER TABLE consent_uses ADD COLUMN pending BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX consent_uses_pending ON consent_uses (used_at) WHERE pending;
