//! Each operation declared once: a handler carries actix-web's method
//! attribute (`#[get("/v1/...")]`) and its `#[utoipa::path]`, and one line,
//! `operations.add(handler)`, serves it and puts it in the OpenAPI document.

use actix_web::dev::HttpServiceFactory;
use actix_web::http::{Method, header};
use actix_web::{HttpResponse, web};
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::{RefOr, Schema};
use utoipa_actix_web::OpenApiFactory;
use utoipa_actix_web::service_config::ServiceConfig;

/// Registers operations, and keeps what one resource a path gave: a request
/// on a known path with a method that path does not serve answers 405 with
/// `Allow`, and a path keeps its requests from later paths that overlap it
/// (`/v1/consents/requests` from `/v1/consents/{id}`).
///
/// Each operation is a resource guarded by its method, so a request whose
/// method no operation on its path serves would fall through to a later
/// path or to 404. After the operations of a path, a resource for the same
/// pattern answers every other method with 405; so the operations of a path
/// are added together, one after the other.
pub struct Operations<'c, 's> {
    config: &'c mut ServiceConfig<'s>,
    /// The path whose operations are being added.
    current: Option<Group>,
    /// The paths already closed.
    done: Vec<String>,
}

/// The operations of one path.
struct Group {
    path: String,
    /// The actix-web pattern of the path.
    pattern: String,
    methods: Vec<Method>,
}

impl Operations<'_, '_> {
    /// Registers the operations `declare` adds into `config`.
    pub fn register(config: &mut ServiceConfig<'_>, declare: impl FnOnce(&mut Operations<'_, '_>)) {
        let mut operations = Operations {
            config,
            current: None,
            done: Vec::new(),
        };
        declare(&mut operations);
        operations.close();
    }

    /// Serves an operation: a handler with a method attribute and
    /// `#[utoipa::path]`.
    ///
    /// # Panics
    ///
    /// When the operations of one path are not added one after the other,
    /// which the tests of any route find at once.
    pub fn add<F>(&mut self, operation: F) -> &mut Self
    where
        F: HttpServiceFactory + OpenApiFactory + 'static,
    {
        for (path, item) in &operation.paths().paths {
            if self
                .current
                .as_ref()
                .is_none_or(|group| &group.path != path)
            {
                self.close();
                if self.done.contains(path) {
                    panic!("the operations of {path} must be added one after the other");
                }
                self.current = Some(Group {
                    path: path.clone(),
                    pattern: pattern(path, item),
                    methods: Vec::new(),
                });
            }
            if let Some(group) = self.current.as_mut() {
                group.methods.extend(methods(item));
            }
        }
        self.config.service(operation);
        self
    }

    /// Answers the methods the current path does not serve.
    fn close(&mut self) {
        let Some(group) = self.current.take() else {
            return;
        };
        let allow = group.methods;
        self.config.map(|config| {
            config.service(web::resource(group.pattern).to(move || {
                let allow = allow.clone();
                // Bare, as actix-web's own 405: the error handlers make it
                // a problem document and keep the `Allow` header.
                async move {
                    HttpResponse::MethodNotAllowed()
                        .insert_header(header::Allow(allow))
                        .finish()
                }
            }))
        });
        self.done.push(group.path);
    }
}

/// The methods of a path item, in the order actix-web lists them.
fn methods(item: &PathItem) -> Vec<Method> {
    operations(item).map(|(method, _)| method).collect()
}

fn operations(item: &PathItem) -> impl Iterator<Item = (Method, &Operation)> {
    [
        (Method::GET, &item.get),
        (Method::PUT, &item.put),
        (Method::POST, &item.post),
        (Method::DELETE, &item.delete),
        (Method::OPTIONS, &item.options),
        (Method::HEAD, &item.head),
        (Method::PATCH, &item.patch),
        (Method::TRACE, &item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_ref().map(|operation| (method, operation)))
}

/// The actix-web pattern of a documented path: a path parameter whose
/// documented pattern admits `/` spans segments (`/log/tile/{path}`).
fn pattern(path: &str, item: &PathItem) -> String {
    let mut pattern = path.to_owned();
    for (_, operation) in operations(item) {
        for parameter in operation.parameters.iter().flatten() {
            let spans = parameter.parameter_in == ParameterIn::Path
                && matches!(
                    &parameter.schema,
                    Some(RefOr::T(Schema::Object(object)))
                        if object.pattern.as_deref().is_some_and(|p| p.contains('/'))
                );
            if spans {
                let name = &parameter.name;
                pattern = pattern.replace(&format!("{{{name}}}"), &format!("{{{name}:.*}}"));
            }
        }
    }
    pattern
}
