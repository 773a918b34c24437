//! The tables, with types portable across SQLite and PostgreSQL.

diesel::table! {
    /// Hub-wide settings and facts, such as the instance identifier.
    hub_settings (key) {
        key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Credentials of operators; only a digest of each token is kept.
    operator_tokens (id) {
        id -> Text,
        name -> Text,
        token_digest -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Agencies: the hub's clients, as consumers, providers and registrars.
    agencies (id) {
        id -> Text,
        name -> Text,
        sector -> Text,
        roles -> Text,
        endpoint_url -> Nullable<Text>,
        identifier_policy -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// The X.509 certificates that bind keys to agencies.
    agency_certificates (thumbprint) {
        thumbprint -> Text,
        agency_id -> Text,
        pem -> Text,
        subject -> Text,
        serial -> Text,
        key_algorithm -> Text,
        not_before -> Timestamp,
        not_after -> Timestamp,
        added_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Client assertions already used, kept until they expire (replay guard).
    used_assertions (agency_id, jti) {
        agency_id -> Text,
        jti -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    /// The hub's signing keys (public halves; private keys live in files).
    hub_keys (kid) {
        kid -> Text,
        public_key -> Text,
        created_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
        publish_until -> Nullable<Timestamp>,
    }
}

diesel::joinable!(agency_certificates -> agencies (agency_id));
diesel::allow_tables_to_appear_in_same_query!(agencies, agency_certificates);

diesel::table! {
    /// Published versions of the interoperability schemas.
    schemas (name, major, minor) {
        name -> Text,
        major -> Integer,
        minor -> Integer,
        document -> Text,
        status -> Text,
        published_at -> Timestamp,
        published_by -> Text,
        deprecated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// The audit log's entries, in canonical JSON, with columns for filtering.
    audit_entries (seq) {
        seq -> BigInt,
        entry -> Text,
        time -> Timestamp,
        kind -> Text,
        actor_type -> Text,
        actor_id -> Text,
        person -> Nullable<Text>,
        record_type -> Nullable<Text>,
        outcome -> Text,
        provider -> Nullable<Text>,
        queue_id -> Nullable<BigInt>,
        subject_salt -> Nullable<Text>,
    }
}

diesel::table! {
    /// The audit log's stored Merkle hashes, by stored index.
    audit_hashes (stored_index) {
        stored_index -> BigInt,
        hash -> Binary,
    }
}

diesel::table! {
    /// The audit log's signed checkpoints (C2SP signed notes).
    audit_checkpoints (size) {
        size -> BigInt,
        root_hash -> Binary,
        note -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Audit entries handed over by hub processes that are not the sequencer.
    audit_queue (id) {
        id -> BigInt,
        entry -> Text,
        enqueued_at -> Timestamp,
    }
}

diesel::table! {
    /// Persons and their common identifiers. Never deleted.
    persons (common_id) {
        common_id -> Text,
        given_names -> Text,
        family_name -> Text,
        birth_date -> Date,
        birth_place -> Nullable<Text>,
        sex -> Nullable<Text>,
        match_key -> Text,
        status -> Text,
        deceased_on -> Nullable<Date>,
        replaced_by -> Nullable<Text>,
        registered_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Each person's pseudonym in each sector, to translate pseudonyms back.
    sector_pseudonyms (sector, pseudonym) {
        sector -> Text,
        pseudonym -> Text,
        common_id -> Text,
    }
}

diesel::table! {
    /// Citizens' sign-in credentials.
    citizen_accounts (common_id) {
        common_id -> Text,
        activation_digest -> Nullable<Text>,
        activation_expires_at -> Nullable<Timestamp>,
        password_hash -> Nullable<Text>,
        totp_secret -> Nullable<Text>,
        totp_last_step -> Nullable<BigInt>,
        failures -> Integer,
        locked_until -> Nullable<Timestamp>,
        activated_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    /// Citizens' web sessions; only a digest of the session id is kept.
    citizen_sessions (id_digest) {
        id_digest -> Text,
        common_id -> Text,
        csrf_token -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    /// Which provider agency is the authentic source of which record type.
    record_sources (record_type, major, provider_id) {
        record_type -> Text,
        major -> Integer,
        provider_id -> Text,
        routing -> Text,
        timeout_ms -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// The reference directory: the `source` and `file` references agencies declare on persons.
    person_references (id) {
        id -> Text,
        agency_id -> Text,
        common_id -> Text,
        capacity -> Text,
        valid_from -> Date,
        valid_until -> Nullable<Date>,
        created_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
        kind -> Text,
        record_type -> Nullable<Text>,
        major -> Nullable<Integer>,
    }
}

diesel::table! {
    /// The controlled list of purposes.
    purposes (code) {
        code -> Text,
        title -> Text,
        description -> Text,
        legal_title -> Text,
        legal_url -> Text,
        created_at -> Timestamp,
        created_by -> Text,
    }
}

diesel::table! {
    /// Every version of every authorization (legal basis).
    authorizations (id, version) {
        id -> Text,
        version -> Integer,
        consumer_agency -> Nullable<Text>,
        consumer_sector -> Nullable<Text>,
        consumer_role -> Nullable<Text>,
        record_type -> Text,
        major -> Integer,
        fields -> Text,
        purposes -> Text,
        legal_reference -> Text,
        valid_from -> Timestamp,
        valid_until -> Nullable<Timestamp>,
        consent_required -> Bool,
        superseded_from -> Nullable<Timestamp>,
        published_at -> Timestamp,
        published_by -> Text,
    }
}

diesel::table! {
    /// Consents and consent requests, at their latest revision.
    consents (id) {
        id -> Text,
        person -> Text,
        consumer -> Text,
        record_types -> Text,
        purpose -> Text,
        valid_from -> Timestamp,
        valid_until -> Timestamp,
        frequency -> Text,
        state -> Text,
        revision -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        artefact -> Nullable<Text>,
    }
}

diesel::table! {
    /// Each fetch made under a consent.
    consent_uses (id) {
        id -> Text,
        consent_id -> Text,
        used_at -> Timestamp,
        pending -> Bool,
    }
}

diesel::table! {
    /// Consent state changes, for agencies to poll.
    consent_events (seq) {
        seq -> BigInt,
        consent_id -> Text,
        agency -> Text,
        person -> Text,
        kind -> Text,
        revision -> Integer,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    /// Changes published by authentic sources (and by the hub); the record
    /// is kept only until the change is fanned out.
    changes (seq) {
        seq -> BigInt,
        id -> Text,
        publisher -> Text,
        reference -> Text,
        common_id -> Text,
        record_type -> Text,
        record_name -> Text,
        major -> Integer,
        kind -> Text,
        effective_date -> Date,
        changed_fields -> Nullable<Text>,
        record -> Nullable<Text>,
        accepted_at -> Timestamp,
        fanned_out_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// What agencies want to be told about, and how.
    subscriptions (id) {
        id -> Text,
        agency_id -> Text,
        record_name -> Text,
        major -> Integer,
        purpose -> Text,
        delivery -> Text,
        webhook_url -> Nullable<Text>,
        created_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        attempts -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    /// Notifications fanned out to subscriptions, in feed order.
    notifications (seq) {
        seq -> BigInt,
        id -> Text,
        change_id -> Text,
        subscription_id -> Text,
        agency_id -> Text,
        common_id -> Text,
        delivery -> Text,
        body -> Text,
        data -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
        failed_at -> Nullable<Timestamp>,
        attempts -> Integer,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    /// How far each agency's pull feed is acknowledged.
    notification_cursors (agency_id) {
        agency_id -> Text,
        acknowledged -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(subscriptions, notifications);
