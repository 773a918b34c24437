//! The tables, with types portable across SQLite and PostgreSQL.

diesel::table! {
    /// Hub-wide settings and facts, such as the instance identifier.
    hub_settings (key) {
        key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}
