-- Only the citizen's access log (by person) and the hand-over lookup (by
-- queue id) query audit entries; every other index cost each append a
-- B-tree insert for no reader.
DROP INDEX audit_entries_actor;
DROP INDEX audit_entries_provider;
DROP INDEX audit_entries_exchange;
