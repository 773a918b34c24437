-- The registry of interoperability schemas: one row per published version of
-- a record type. `document` is the JSON Schema as text, with its `$id` and
-- catalog `$ref`s under the catalog's canonical base; the hub rewrites them
-- under its public URL when it loads them.
CREATE TABLE schemas (
    name TEXT NOT NULL,
    major INTEGER NOT NULL CHECK (major >= 0),
    minor INTEGER NOT NULL CHECK (minor >= 0),
    document TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deprecated')),
    published_at TIMESTAMP NOT NULL,
    published_by TEXT NOT NULL,
    deprecated_at TIMESTAMP,
    PRIMARY KEY (name, major, minor)
);
