//! Consent and authorization: legal bases, the consent lifecycle and the
//! access decision.
//!
//! This crate knows nothing of HTTP or of a database driver. Time is always
//! passed in (`at`), never read from the system clock.
//!
//! - [`purpose`]: the controlled list of purposes.
//! - [`authorization`]: versioned legal bases and the [`AuthorizationSet`]
//!   with its index for decisions.
//! - [`consent`]: the consent lifecycle and fetch frequencies.
//! - [`artefact`]: the signed consent artefact (JWS).
//! - [`decision`]: [`decide`], pure and fast.

pub mod artefact;
pub mod authorization;
pub mod consent;
pub mod decision;
pub mod ids;
pub mod purpose;

#[cfg(test)]
mod testing;

pub use artefact::{
    ArtefactError, CONSENT_ARTEFACT_TYPE, ConsentArtefactClaims, artefact, artefact_naming,
    verify_artefact,
};
pub use authorization::{
    Authorization, AuthorizationError, AuthorizationKey, AuthorizationSet, AuthorizationTerms,
    Consumer, LegalReference,
};
pub use consent::{
    Consent, ConsentError, ConsentState, ConsentTerms, FetchFrequency, Period, TransitionError,
};
pub use decision::{AccessRequest, Decision, DenyCode, decide};
pub use ids::{AuthorizationId, ConsentId, IdError};
pub use purpose::{Purpose, PurposeCode, PurposeError};
