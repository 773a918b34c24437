CREATE INDEX audit_entries_actor ON audit_entries (actor_id, seq);
CREATE INDEX audit_entries_provider ON audit_entries (provider, seq);
CREATE INDEX audit_entries_exchange ON audit_entries (exchange_id);
