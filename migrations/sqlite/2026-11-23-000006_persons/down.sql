DROP TABLE citizen_sessions;
DROP TABLE citizen_accounts;
DROP TABLE sector_pseudonyms;
DROP TABLE persons;
