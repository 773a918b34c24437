-- Change notifications: changes published by authentic sources (and by
-- the hub, for person lifecycle events), agencies' subscriptions, and the
-- notifications fanned out to them, with the pull feed's cursors.

-- A published change. Its record is kept only until it is fanned out;
-- seq orders the fan-out (a person's changes in the order accepted).
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    publisher TEXT NOT NULL,
    reference TEXT NOT NULL,
    common_id TEXT NOT NULL,
    record_type TEXT NOT NULL,
    record_name TEXT NOT NULL,
    major INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('created', 'updated', 'deleted')),
    effective_date DATE NOT NULL,
    changed_fields TEXT,
    record TEXT,
    accepted_at TIMESTAMP NOT NULL,
    fanned_out_at TIMESTAMP,
    UNIQUE (publisher, reference)
);
CREATE INDEX changes_to_fan_out ON changes (seq) WHERE fanned_out_at IS NULL;

-- What an agency wants to be told, and how. Webhook delivery is claimed
-- per subscription (a lease), so one subscription is never sent out of
-- order; a failing head batch holds the subscription back until
-- next_attempt_at.
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY NOT NULL,
    agency_id TEXT NOT NULL REFERENCES agencies (id),
    record_name TEXT NOT NULL,
    major INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    delivery TEXT NOT NULL CHECK (delivery IN ('pull', 'webhook')),
    webhook_url TEXT,
    created_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP,
    lease_owner TEXT,
    lease_until TIMESTAMP,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP,
    last_error TEXT
);
CREATE INDEX subscriptions_by_type ON subscriptions (record_name, major) WHERE deleted_at IS NULL;
CREATE INDEX subscriptions_by_agency ON subscriptions (agency_id);

-- One notification per (change, subscription) permitted by the access
-- decision. seq orders an agency's feed; body is the notification as
-- delivered without its record; data (the minimised record) is deleted
-- after the retention period (the metadata and the audit entries stay).
CREATE TABLE notifications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    change_id TEXT NOT NULL,
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id),
    agency_id TEXT NOT NULL,
    common_id TEXT NOT NULL,
    delivery TEXT NOT NULL,
    body TEXT NOT NULL,
    data TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    created_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP,
    failed_at TIMESTAMP,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    UNIQUE (change_id, subscription_id)
);
CREATE INDEX notifications_feed ON notifications (agency_id, delivery, seq);
CREATE INDEX notifications_pending ON notifications (subscription_id, seq) WHERE status = 'pending';
-- What waits for an agency: its backlog, and what reading on acknowledges.
CREATE INDEX notifications_waiting ON notifications (agency_id, delivery, seq) WHERE status = 'pending';
CREATE INDEX notifications_by_person ON notifications (common_id);
CREATE INDEX notifications_retention ON notifications (created_at) WHERE data IS NOT NULL;

-- Where each agency's pull feed was acknowledged up to.
CREATE TABLE notification_cursors (
    agency_id TEXT PRIMARY KEY NOT NULL,
    acknowledged BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
