-- The wide entry row again. The leaf hash is the level-0 stored hash of
-- leaf seq, at stored index 2 * seq - popcount(seq) (the tlog-tiles layout);
-- the exchange id comes back from the entry itself.
CREATE TABLE audit_entries_wide (
    seq INTEGER PRIMARY KEY NOT NULL,
    entry TEXT NOT NULL,
    leaf_hash BLOB NOT NULL,
    time TIMESTAMP NOT NULL,
    kind TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    person TEXT,
    record_type TEXT,
    outcome TEXT NOT NULL,
    exchange_id TEXT,
    provider TEXT,
    queue_id BIGINT UNIQUE
);
INSERT INTO audit_entries_wide
    (seq, entry, leaf_hash, time, kind, actor_type, actor_id, person, record_type, outcome,
     exchange_id, provider, queue_id)
SELECT e.seq, e.entry, h.hash, e.time, e.kind, e.actor_type, e.actor_id, e.person,
       e.record_type, e.outcome, json_extract(e.entry, '$.exchange_id'), e.provider, e.queue_id
FROM audit_entries e
JOIN audit_hashes h ON h.stored_index = 2 * e.seq - (
    ((seq >> 0) & 1) + ((seq >> 1) & 1) + ((seq >> 2) & 1) + ((seq >> 3) & 1) + ((seq >> 4) & 1) + ((seq >> 5) & 1) + ((seq >> 6) & 1) + ((seq >> 7) & 1) + ((seq >> 8) & 1) + ((seq >> 9) & 1) + ((seq >> 10) & 1) + ((seq >> 11) & 1) + ((seq >> 12) & 1) + ((seq >> 13) & 1) + ((seq >> 14) & 1) + ((seq >> 15) & 1) + ((seq >> 16) & 1) + ((seq >> 17) & 1) + ((seq >> 18) & 1) + ((seq >> 19) & 1) + ((seq >> 20) & 1) + ((seq >> 21) & 1) + ((seq >> 22) & 1) + ((seq >> 23) & 1) + ((seq >> 24) & 1) + ((seq >> 25) & 1) + ((seq >> 26) & 1) + ((seq >> 27) & 1) + ((seq >> 28) & 1) + ((seq >> 29) & 1) + ((seq >> 30) & 1) + ((seq >> 31) & 1) + ((seq >> 32) & 1) + ((seq >> 33) & 1) + ((seq >> 34) & 1) + ((seq >> 35) & 1) + ((seq >> 36) & 1) + ((seq >> 37) & 1) + ((seq >> 38) & 1) + ((seq >> 39) & 1) + ((seq >> 40) & 1) + ((seq >> 41) & 1) + ((seq >> 42) & 1) + ((seq >> 43) & 1) + ((seq >> 44) & 1) + ((seq >> 45) & 1) + ((seq >> 46) & 1) + ((seq >> 47) & 1) + ((seq >> 48) & 1) + ((seq >> 49) & 1) + ((seq >> 50) & 1) + ((seq >> 51) & 1) + ((seq >> 52) & 1)
)
ORDER BY e.seq;
DROP TABLE audit_entries;
ALTER TABLE audit_entries_wide RENAME TO audit_entries;
CREATE INDEX audit_entries_person ON audit_entries (person, seq);
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
