DROP INDEX consent_uses_pending;
ALTER TABLE consent_uses DROP COLUMN pending;
