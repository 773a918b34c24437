//! `/v1/notifications`: the pull feed of change notifications and the
//! dead letters.

pub mod failed;
pub mod feed;

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::api::operations::Operations;
use crate::services::notifications::delivery::Feed;
use crate::services::notifications::{FailedNotification, Notification};

/// Dead-lettered notifications.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailedList {
    /// Newest first.
    pub notifications: Vec<FailedNotification>,
}

/// The notifications part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(components(schemas(Notification, FailedNotification, Feed, FailedList)))]
pub struct NotificationsApi;

/// Registers the notification routes.
pub fn routes(operations: &mut Operations<'_, '_>) {
    operations
        .add(feed::feed)
        .add(failed::failed)
        .add(failed::all_failed);
}
