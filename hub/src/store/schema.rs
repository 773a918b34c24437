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
