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

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody;
    use actix_web::dev::{Service, ServiceResponse};
    use actix_web::http::StatusCode;
    use actix_web::http::header::{ALLOW, HeaderValue};
    use actix_web::middleware::{Next, from_fn};
    use actix_web::{App, HttpResponse, get, post, web};
    use utoipa_actix_web::service_config::ServiceConfig;

    use super::Operations;

    /// The route pattern logs and metrics name (the first registered pattern
    /// the path matches), whatever the handler made of the request (this
    /// app has no state).
    async fn pattern(
        req: actix_web::dev::ServiceRequest,
        next: Next<impl MessageBody + 'static>,
    ) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
        let pattern = req
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        let mut res = next.call(req).await?;
        res.headers_mut().insert(
            "x-pattern".parse().unwrap(),
            HeaderValue::from_str(&pattern).unwrap(),
        );
        Ok(res)
    }

    async fn answer(method: &str, uri: &str) -> (StatusCode, Option<String>, String) {
        let app = actix_web::test::init_service(
            App::new()
                .configure(|cfg| crate::api::routes(&mut ServiceConfig::new(cfg)))
                .default_service(web::to(HttpResponse::NotFound))
                .wrap(from_fn(pattern)),
        )
        .await;
        let req = actix_web::test::TestRequest::default()
            .method(method.parse().unwrap())
            .uri(uri)
            .to_request();
        let res = app.call(req).await.unwrap();
        let allow = res
            .headers()
            .get(ALLOW)
            .map(|v| v.to_str().unwrap().to_owned());
        let pattern = res
            .headers()
            .get("x-pattern")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        (res.status(), allow, pattern)
    }

    #[actix_web::test]
    async fn a_method_a_path_does_not_serve_is_a_405_with_allow() {
        for (method, uri, allow, pattern) in [
            ("DELETE", "/healthz", "GET", "/healthz"),
            (
                "PUT",
                "/v1/admin/agencies",
                "GET, POST",
                "/v1/admin/agencies",
            ),
            ("PUT", "/v1/admin/sources", "POST, GET", "/v1/admin/sources"),
            (
                "GET",
                "/v1/citizen/totp",
                "POST, DELETE",
                "/v1/citizen/totp",
            ),
            (
                "GET",
                "/v1/citizen/consents/c1/resume",
                "POST",
                "/v1/citizen/consents/{id}/resume",
            ),
            ("POST", "/log/tile/0/x001/234", "GET", "/log/tile/{tail:.*}"),
        ] {
            let (status, got_allow, got_pattern) = answer(method, uri).await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
            assert_eq!(got_allow.as_deref(), Some(allow), "{method} {uri}");
            assert_eq!(got_pattern, pattern, "{method} {uri}");
        }
    }

    #[actix_web::test]
    async fn a_literal_path_keeps_its_requests_from_a_later_parameter() {
        // `/v1/consents/requests` serves POST only; `/v1/consents/{id}`
        // serves GET and comes later.
        let (status, allow, pattern) = answer("GET", "/v1/consents/requests").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(allow.as_deref(), Some("POST"));
        assert_eq!(pattern, "/v1/consents/requests");
        let (status, allow, _) = answer("POST", "/v1/consents/events").await;
        assert_eq!(
            (status, allow.as_deref()),
            (StatusCode::METHOD_NOT_ALLOWED, Some("GET"))
        );
        for (uri, pattern) in [
            ("/v1/consents/events", "/v1/consents/events"),
            ("/v1/consents/c1", "/v1/consents/{id}"),
            ("/v1/agencies/me", "/v1/agencies/me"),
            ("/v1/admin/agencies/a1", "/v1/admin/agencies/{id}"),
            ("/v1/schemas/s1/1.0", "/v1/schemas/{name}/{version}"),
            ("/log/tile/0/000.p/17", "/log/tile/{tail:.*}"),
        ] {
            let (status, _, got) = answer("GET", uri).await;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{uri}");
            assert_ne!(status, StatusCode::NOT_FOUND, "{uri}");
            assert_eq!(got, pattern, "{uri}");
        }
    }

    #[actix_web::test]
    async fn unknown_paths_fall_through() {
        for (method, uri) in [
            ("GET", "/nowhere"),
            ("POST", "/v1"),
            ("GET", "/v1/admin/sources/"),
            ("GET", "/v1/consents/c1/nothing"),
        ] {
            let (status, allow, _) = answer(method, uri).await;
            assert_eq!(
                (status, allow),
                (StatusCode::NOT_FOUND, None),
                "{method} {uri}"
            );
        }
    }

    #[utoipa::path(responses((status = 200)))]
    #[get("/a")]
    async fn a_get() -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    #[utoipa::path(responses((status = 200)))]
    #[post("/a")]
    async fn a_post() -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    #[utoipa::path(responses((status = 200)))]
    #[get("/b")]
    async fn b_get() -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    #[test]
    #[should_panic(expected = "the operations of /a must be added one after the other")]
    fn the_operations_of_a_path_are_added_together() {
        let _ = App::new().configure(|cfg| {
            Operations::register(&mut ServiceConfig::new(cfg), |operations| {
                operations.add(a_get).add(b_get).add(a_post);
            })
        });
    }
}
