//! `/v1/changes`: authentic sources tell the hub that a person's record
//! changed; the hub tells the agencies that hold a file on the person.

pub mod publish;

use utoipa::OpenApi;

use crate::api::operations::Operations;
use crate::services::notifications::{ChangeAccepted, ChangeKind, ChangeRequest};

/// The changes part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    components(schemas(ChangeRequest, ChangeAccepted, ChangeKind)),
    tags((name = "notifications", description = "Change notifications: authentic sources publish changes, subscribed agencies holding a file on the person are told (pull feed or signed webhook batches)"))
)]
pub struct ChangesApi;

/// Registers the change routes.
pub fn routes(operations: &mut Operations<'_, '_>) {
    operations.add(publish::publish);
}
