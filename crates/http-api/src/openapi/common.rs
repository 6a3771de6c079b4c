//! Schemas shared by every area (the error body of contract 1.4, the one-line message body)
//! and the modifier that adds what the request pipeline of contract section 3 does to every
//! operation: the bearer security scheme, `X-Request-ID`, 429 with `Retry-After`, 413 on
//! bodies, 503 when a backend is down and the panic 500.

use utoipa::{
    Modify, ToSchema,
    openapi::{
        Content, HeaderBuilder, ObjectBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder,
        Type,
        header::Header,
        path::{Operation, ParameterBuilder, ParameterIn, PathItem},
        security::{Http, HttpAuthScheme, SecurityScheme},
    },
};

/// The name of the bearer security scheme, as referenced by protected operations.
pub const BEARER: &str = "bearerAuth";

/// An error body (contract 1.4): `error` always; `message`, `details` and `reason` only when
/// they say something (they are omitted, never `null`). Each operation lists its exact
/// `error` values.
#[derive(ToSchema)]
#[schema(example = json!({"error": "not_found", "message": "Route not found"}))]
#[allow(dead_code)]
pub struct ErrorBody {
    /// Machine-readable error text; the exact values are listed per operation.
    pub error: String,
    /// Human-readable text, safe to display.
    #[schema(required = false)]
    pub message: String,
    /// Diagnostic text; its wording is not stable and clients must not parse it.
    #[schema(required = false)]
    pub details: String,
    /// The reason of an authorization decision (contract 11.4), on 403 answers.
    #[schema(required = false)]
    pub reason: String,
}

/// A success body carrying only a message, e.g. `{"message": "Successfully logged out"}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MessageBody {
    /// The fixed message text of the operation.
    pub message: String,
}

/// Adds the pipeline's cross-cutting behaviour (contract section 3) to every operation, so
/// that the per-area files describe only what their handlers decide.
#[derive(Debug)]
pub struct Pipeline;

impl Modify for Pipeline {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from `POST /api/v1/auth/login` or `/refresh` \
                         (HS256, contract section 6), sent as `Authorization: Bearer <token>`.",
                    ))
                    .build(),
            ),
        );
        for (path, item) in &mut openapi.paths.paths {
            let application_route = path.starts_with("/api/v1/");
            for operation in operations(item) {
                pipeline_answers(operation, application_route);
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn error_content() -> Content {
    Content::new(Some(Ref::from_schema_name("ErrorBody")))
}

fn request_id_header() -> Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(
            "The request id: the incoming `X-Request-ID` when it is 1 to 128 visible ASCII \
             characters, otherwise a generated UUID.",
        ))
        .build()
}

fn pipeline_answers(operation: &mut Operation, application_route: bool) {
    operation
        .parameters
        .get_or_insert_with(Vec::new)
        .push(RefOr::T(
            ParameterBuilder::new()
                .name("X-Request-ID")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "Optional request id (1 to 128 visible ASCII characters), echoed in the \
                     response and written to the access and audit logs.",
                ))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(1))
                        .max_length(Some(128)),
                ))
                .build(),
        ));
    let responses = &mut operation.responses.responses;
    let has_body = operation.request_body.is_some();
    let mut add = |status: &str, response: ResponseBuilder| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(response.build()));
    };
    if has_body {
        add(
            "413",
            ResponseBuilder::new()
                .description(
                    "Body larger than 1 MiB: `request_too_large`, \
                     message `Request body exceeds 1 MiB` (D-37).",
                )
                .content("application/json", error_content()),
        );
    }
    if application_route {
        add(
            "429",
            ResponseBuilder::new()
                .description(
                    "Rate limit exceeded (contract 3.4): `{\"error\": \"rate limit exceeded\"}`.",
                )
                .header(
                    "Retry-After",
                    HeaderBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                        .description(Some("Seconds to wait before retrying."))
                        .build(),
                )
                .content("application/json", error_content()),
        );
        add(
            "503",
            ResponseBuilder::new()
                .description("A backend the request needs does not answer: `service_unavailable`.")
                .content("application/json", error_content()),
        );
    }
    add(
        "500",
        ResponseBuilder::new()
            .description(
                "Unexpected failure or panic (contract 3.1): \
                 `{\"error\": \"internal server error\"}`.",
            )
            .content("application/json", error_content()),
    );
    for response in responses.values_mut() {
        if let RefOr::T(response) = response {
            response
                .headers
                .insert("X-Request-ID".to_owned(), RefOr::T(request_id_header()));
        }
    }
}
