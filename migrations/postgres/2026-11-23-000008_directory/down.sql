DROP TABLE person_references;
DROP TABLE record_sources;
