DROP TABLE consent_events;
DROP TABLE consent_uses;
DROP TABLE consents;
DROP TABLE authorizations;
DROP TABLE purposes;
