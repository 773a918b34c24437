DROP INDEX person_references_by_source;
DELETE FROM person_references WHERE kind = 'source';
ALTER TABLE person_references DROP CONSTRAINT person_references_source_names_type;
ALTER TABLE person_references DROP COLUMN major;
ALTER TABLE person_references DROP COLUMN record_type;
ALTER TABLE person_references DROP COLUMN kind;
