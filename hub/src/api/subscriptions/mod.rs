//! `/v1/subscriptions`: what an agency wants to be told about, and how.

pub mod create;
pub mod delete;
pub mod list;

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::api::operations::Operations;
use crate::services::notifications::{Delivery, SubscriptionRequest, SubscriptionView};

/// An agency's subscriptions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    /// In force, oldest first.
    pub subscriptions: Vec<SubscriptionView>,
}

/// The subscriptions part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(components(schemas(SubscriptionRequest, SubscriptionView, SubscriptionList, Delivery)))]
pub struct SubscriptionsApi;

/// Registers the subscription routes.
pub fn routes(operations: &mut Operations<'_, '_>) {
    operations
        .add(create::create)
        .add(list::list)
        .add(delete::unsubscribe);
}
