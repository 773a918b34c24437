//! The identifiers of the API as named schemas, each with the pattern and
//! bounds of the parser that reads it (in `identity`, `schemas`, `consent`
//! and the hub), so that a request the description allows is never refused
//! for its form. Fields and parameters name them with `value_type`; these
//! types exist for the description only.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};

/// A version number: no leading zero, below 10^9 (so it fits a `u32`).
macro_rules! number {
    () => {
        "(0|[1-9][0-9]{0,8})"
    };
}

/// A record type's name: 2 to 5 dot-separated segments of `a-z0-9-`.
macro_rules! name {
    () => {
        "[a-z0-9-]+(\\.[a-z0-9-]+){1,4}"
    };
}

/// A compact or display common ID.
macro_rules! common_id {
    () => {
        "[0-9]{11}|[0-9]{3}\\.[0-9]{3}\\.[0-9]{3}-[0-9]{2}"
    };
}

macro_rules! id_schema {
    ($(#[doc = $doc:literal])+ $name:ident, $pattern:expr, $max:expr, $example:literal) => {
        $(#[doc = $doc])+
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let doc = [$($doc.trim()),+].join(" ");
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(doc))
                    .pattern(Some($pattern))
                    .min_length(Some(1))
                    .max_length($max)
                    .examples([$example])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

id_schema!(
    /// An agency identifier: a two-letter country code, `-`, and 1 to 20
    /// ASCII letters or digits.
    AgencyId,
    "^[A-Z]{2}-[A-Za-z0-9]{1,20}$",
    Some(23),
    "BE-0123456789"
);

id_schema!(
    /// A common ID: 11 digits, compact (`12345678901`) or in the display
    /// form (`123.456.789-01`); the last two are the ISO 7064 MOD 97-10
    /// check digits of the first nine.
    CommonId,
    concat!("^(", common_id!(), ")$"),
    Some(14),
    "12345678978"
);

id_schema!(
    /// A person as an agency names them: a common ID (compact or display
    /// form), or the agency's sector pseudonym (`<sector>:` and 32 base32
    /// characters).
    PersonRef,
    concat!(
        "^(",
        common_id!(),
        "|(civil|social|tax|health|employment|education|justice|other):[a-z2-7]{32})$"
    ),
    Some(43),
    "12345678978"
);

id_schema!(
    /// A record type's name: 2 to 5 dot-separated segments of `a-z`, `0-9`
    /// and `-`.
    RecordTypeName,
    concat!("^", name!(), "$"),
    None,
    "person.address"
);

id_schema!(
    /// One exact version of a record type, `name@major.minor` (numbers
    /// without leading zeros).
    RecordType,
    concat!("^", name!(), "@", number!(), "\\.", number!(), "$"),
    None,
    "person.address@1.2"
);

id_schema!(
    /// A record type as a consumer asks for it: `name@major` (the latest
    /// minor of that major) or `name@major.minor`.
    RecordTypeRef,
    concat!("^", name!(), "@", number!(), "(\\.", number!(), ")?$"),
    None,
    "person.address@1"
);

id_schema!(
    /// A version of a record type: `major.minor`.
    Version,
    concat!("^", number!(), "\\.", number!(), "$"),
    None,
    "1.2"
);

id_schema!(
    /// A version of a record type: `major.minor`, or `major` for its latest
    /// minor.
    VersionReq,
    concat!("^", number!(), "(\\.", number!(), ")?$"),
    None,
    "1"
);

id_schema!(
    /// A purpose code: lowercase words of `a-z` and `0-9` joined by single
    /// `-`, starting with a letter; at most 64 characters.
    PurposeCode,
    "^[a-z][a-z0-9]*(-[a-z0-9]+)*$",
    Some(64),
    "benefit-eligibility"
);

id_schema!(
    /// A consent's id: `cns-` and 1 to 64 of `a-z`, `0-9` and `-`.
    ConsentId,
    "^cns-[a-z0-9-]{1,64}$",
    Some(68),
    "cns-7f3c9a2e-1b4d-4c1e-9a53-0e2f6b1d8c44"
);

id_schema!(
    /// An authorization's id: `auth-` and 1 to 64 of `a-z`, `0-9` and `-`.
    AuthorizationId,
    "^auth-[a-z0-9-]{1,64}$",
    Some(69),
    "auth-2024-017"
);

id_schema!(
    /// A reference's id: `ref-` and 32 lowercase hexadecimal digits.
    ReferenceId,
    "^ref-[0-9a-f]{32}$",
    Some(36),
    "ref-5f0c2a9e3b7d4e1f8a6c0b2d4e6f8a0c"
);

id_schema!(
    /// A certificate's `x5t#S256` thumbprint: the base64url SHA-256 of its
    /// DER, without padding.
    Thumbprint,
    "^[A-Za-z0-9_-]{43}$",
    Some(43),
    "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
);

/// Sex as the civil registry records it (`identity::Sex`).
pub struct Sex;

impl utoipa::PartialSchema for Sex {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("Sex as the civil registry records it."))
            .enum_values(Some(["female", "male", "other"]))
            .into()
    }
}

impl utoipa::ToSchema for Sex {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Sex")
    }
}

/// How often a consent lets its consumer fetch, as `consent::FetchFrequency`
/// reads it: `{"kind":"once"}`, or `{"kind":"max_per","count":4,"period":"month"}`
/// with a `count` from 1 to 2^32 - 1 and a calendar `period` in UTC.
pub struct Frequency;

impl utoipa::PartialSchema for Frequency {
    fn schema() -> RefOr<Schema> {
        fn kind(name: &str) -> ObjectBuilder {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(
                    "kind",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([name])),
                )
                .required("kind")
        }
        let once = kind("once").description(Some("A single fetch over the whole window."));
        let max_per = kind("max_per")
            .description(Some("At most `count` fetches per calendar `period` (UTC)."))
            .property(
                "count",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .minimum(Some(1))
                    .maximum(Some(u32::MAX)),
            )
            .required("count")
            .property(
                "period",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["day", "week", "month", "year"])),
            )
            .required("period");
        OneOfBuilder::new()
            .description(Some(
                "How often data may be fetched: `{\"kind\":\"once\"}` or \
                 `{\"kind\":\"max_per\",\"count\":4,\"period\":\"month\"}`.",
            ))
            .item(once)
            .item(max_per)
            .into()
    }
}

impl utoipa::ToSchema for Frequency {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Frequency")
    }
}

/// States that no variant of a `oneOf` schema of objects takes properties
/// it does not name (what serde's `deny_unknown_fields` does to an enum).
pub fn close_variants(schema: &mut RefOr<Schema>) {
    if let RefOr::T(Schema::OneOf(one_of)) = schema {
        for item in &mut one_of.items {
            if let RefOr::T(Schema::Object(object)) = item {
                object.additional_properties =
                    Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
        }
    }
}

/// Every identifier schema, for the document's components.
pub fn schemas() -> Vec<(String, RefOr<Schema>)> {
    fn named<T: utoipa::ToSchema>() -> (String, RefOr<Schema>) {
        (T::name().into_owned(), T::schema())
    }
    vec![
        named::<AgencyId>(),
        named::<CommonId>(),
        named::<PersonRef>(),
        named::<RecordTypeName>(),
        named::<RecordType>(),
        named::<RecordTypeRef>(),
        named::<Version>(),
        named::<VersionReq>(),
        named::<PurposeCode>(),
        named::<ConsentId>(),
        named::<AuthorizationId>(),
        named::<ReferenceId>(),
        named::<Thumbprint>(),
        named::<Sex>(),
        named::<Frequency>(),
    ]
}
