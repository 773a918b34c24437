-- Two kinds of reference: `source` (the agency is the authentic source of a
-- record type for the person; lookups routed by reference go to it) and
-- `file` (the agency holds a file on the person in a capacity).
ALTER TABLE person_references ADD COLUMN kind TEXT NOT NULL DEFAULT 'file' CHECK (kind IN ('source', 'file'));
ALTER TABLE person_references ADD COLUMN record_type TEXT;
ALTER TABLE person_references ADD COLUMN major INTEGER;
ALTER TABLE person_references ADD CONSTRAINT person_references_source_names_type
    CHECK (kind = 'file' OR (record_type IS NOT NULL AND major IS NOT NULL));

-- A reference declared before the kinds existed by an agency registered as
-- a source routed that agency's lookups: it stays a file reference and
-- gains a source reference for each record type the agency is a source of.
INSERT INTO person_references
    (id, agency_id, common_id, capacity, valid_from, valid_until, created_at, ended_at, kind, record_type, major)
SELECT 'ref-' || replace(gen_random_uuid()::text, '-', ''), r.agency_id, r.common_id, r.capacity,
       r.valid_from, r.valid_until, r.created_at, r.ended_at, 'source', s.record_type, s.major
FROM person_references r
JOIN record_sources s ON s.provider_id = r.agency_id
WHERE r.kind = 'file';

CREATE INDEX person_references_by_source ON person_references (common_id, record_type, major)
    WHERE kind = 'source';
