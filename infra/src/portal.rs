//! The web portal (`portal/` at the workspace root), served by the API itself: `GET <ApiUrl>/portal/<file>`
//! reads `portal/<file>` from the image bucket, so the page and the API share one origin on AWS and locally,
//! with no CORS between them and no separate hosting. Deploy publishes the files (`riv_deploy::portal`); the
//! template names each one, so nothing but what ships is ever served (no path parameter reaches S3).

use crate::iam::{allow, role};
use crate::model::{obj, Expr, Resource, Template};
use crate::names::{id, output, param, pascal};

const API: &str = id::API;
use crate::params::Flavor;

/// Where the files live in the image bucket: only this prefix is readable through the API.
pub const PREFIX: &str = "portal/";
/// The path segment under the stage: `<ApiUrl>/portal/index.html`.
pub const PATH: &str = "portal";
/// The page a person opens.
pub const INDEX: &str = "index.html";
pub const ROLE: &str = "PortalRole";
const RESOURCE: &str = "PortalResource";

/// One file of the portal, as deploy uploads it and the API serves it.
#[derive(Debug, Clone, Copy)]
pub struct File {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

impl File {
    /// Its key in the image bucket.
    pub fn key(&self) -> String {
        format!("{PREFIX}{}", self.name)
    }
}

/// Every file the portal is made of, compiled in so that what deploys is what this build tested.
pub const FILES: [File; 3] = [
    File {
        name: INDEX,
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("../../portal/index.html"),
    },
    File {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../portal/app.js"),
    },
    File {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../portal/style.css"),
    },
];

/// The page's Content-Security-Policy: its own scripts and styles only, no inline code, no framing; requests to
/// the API (same origin) and to the image bucket's S3 endpoints, where `POST /uploads` sends large photos. On
/// the local stack the presigned URLs point at LocalStack's own origin, which `'self'` already covers.
///
/// Ends with `;` on purpose: LocalStack strips every quote at both ends of a literal header value, so a value
/// ending in `'none'` would lose its closing quote there.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; \
     media-src 'self' blob:; connect-src 'self' https://${ImageBucket}.s3.${AWS::Region}.${AWS::URLSuffix} \
     https://${ImageBucket}.s3.${AWS::URLSuffix}; base-uri 'none'; form-action 'none'; frame-ancestors 'none';";

/// The camera for the page itself and nothing else a page could ask for.
pub const PERMISSIONS_POLICY: &str =
    "camera=(self), microphone=(), geolocation=(), payment=(), usb=()";

/// Headers every portal response carries, as (name, value) with the value a template expression.
fn security_headers() -> Vec<(&'static str, Expr)> {
    vec![
        ("Content-Security-Policy", Expr::sub(&format!("'{CSP}'"))),
        (
            "Permissions-Policy",
            Expr::from(format!("'{PERMISSIONS_POLICY}'")),
        ),
        ("X-Content-Type-Options", Expr::from("'nosniff'")),
        ("X-Frame-Options", Expr::from("'DENY'")),
        ("Referrer-Policy", Expr::from("'no-referrer'")),
        (
            "Strict-Transport-Security",
            Expr::from("'max-age=31536000; includeSubDomains'"),
        ),
        // A redeploy must reach the next page load: the browser asks again, an unchanged file answers cheaply.
        ("Cache-Control", Expr::from("'no-cache'")),
    ]
}

/// Origins allowed to PUT to the bucket's presigned upload URLs: the API's own (the portal's), and on the local
/// stack any loopback port (a page opened as `localhost` while LocalStack signs for `127.0.0.1`).
pub fn upload_cors(flavor: Flavor) -> Expr {
    let mut origins = vec![Expr::sub(
        "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}",
    )];
    if flavor.is_local() {
        origins.push(Expr::from("http://127.0.0.1:*"));
        origins.push(Expr::from("http://localhost:*"));
    }
    obj([(
        "CorsRules",
        Expr::list([obj([
            ("Id", Expr::from("PortalUploads")),
            ("AllowedMethods", Expr::list(["PUT"])),
            ("AllowedOrigins", Expr::List(origins)),
            ("AllowedHeaders", Expr::list(["*"])),
            ("MaxAge", Expr::Int(600)),
        ])]),
    )])
}

/// The portal's resources and methods; the names of the methods, which the API's deployment must include.
pub fn add(t: &mut Template) -> Vec<String> {
    t.add(
        ROLE,
        role(
            "apigateway.amazonaws.com",
            "riv-portal",
            vec![allow(
                &["s3:GetObject"],
                vec![Expr::sub(&format!(
                    "${{{}.Arn}}/{PREFIX}*",
                    id::IMAGE_BUCKET
                ))],
            )],
        ),
    );
    t.add(
        RESOURCE,
        Resource::new(
            "AWS::ApiGateway::Resource",
            [
                ("RestApiId", Expr::r(API)),
                ("ParentId", Expr::att(API, "RootResourceId")),
                ("PathPart", Expr::from(PATH)),
            ],
        ),
    );
    let mut methods = Vec::new();
    for file in FILES {
        let stem = format!("Portal{}", pascal(&file.name.replace('.', "-")));
        let (resource, method) = (format!("{stem}Resource"), format!("{stem}Method"));
        t.add(
            &resource,
            Resource::new(
                "AWS::ApiGateway::Resource",
                [
                    ("RestApiId", Expr::r(API)),
                    ("ParentId", Expr::r(RESOURCE)),
                    ("PathPart", Expr::from(file.name)),
                ],
            ),
        );
        t.add(&method, method_for(&file, &resource));
        methods.push(method);
    }
    t.output(
        output::PORTAL_URL,
        "The web portal: open it in a browser (same origin as the API)",
        Expr::sub(&format!(
            "https://${{{API}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/${{{}}}/{PATH}/{INDEX}",
            param::STAGE
        )),
    );
    methods
}

fn method_for(file: &File, resource: &str) -> Resource {
    let mut headers = security_headers();
    headers.push((
        "Content-Type",
        Expr::from(format!("'{}'", file.content_type)),
    ));
    let parameters = |value: &dyn Fn(&Expr) -> Expr| {
        obj(headers
            .iter()
            .map(|(name, v)| (format!("method.response.header.{name}"), value(v))))
    };
    let not_published = "{\"Reason\": \"InternalError\", \"Message\": \"the portal is not published in this \
         stack's image bucket: run cargo xtask deploy (or cargo xtask local up), which uploads it\"}";
    let integration = obj([
        ("Type", Expr::from("AWS")),
        ("IntegrationHttpMethod", Expr::from("GET")),
        (
            "Uri",
            Expr::sub(&format!(
                "arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:s3:path/${{{}}}/{}",
                id::IMAGE_BUCKET,
                file.key()
            )),
        ),
        ("Credentials", Expr::att(ROLE, "Arn")),
        ("PassthroughBehavior", Expr::from("WHEN_NO_MATCH")),
        (
            "IntegrationResponses",
            Expr::list([
                obj([
                    ("StatusCode", Expr::from("200")),
                    ("ResponseParameters", parameters(&|v| v.clone())),
                ]),
                // S3 refuses a missing key with 403 (the role may not list the bucket): not the visitor's fault.
                obj([
                    ("StatusCode", Expr::from("500")),
                    ("SelectionPattern", Expr::from("[45]\\d{2}")),
                    (
                        "ResponseTemplates",
                        obj([("application/json", Expr::from(not_published))]),
                    ),
                ]),
            ]),
        ),
    ]);
    Resource::new(
        "AWS::ApiGateway::Method",
        [
            ("RestApiId", Expr::r(API)),
            ("ResourceId", Expr::r(resource)),
            ("HttpMethod", Expr::from("GET")),
            ("AuthorizationType", Expr::from("NONE")),
            // A page anyone may load; with ApiKeyRequired the routes it calls still want the key.
            ("ApiKeyRequired", Expr::Bool(false)),
            ("Integration", integration),
            (
                "MethodResponses",
                Expr::list([
                    obj([
                        ("StatusCode", Expr::from("200")),
                        ("ResponseParameters", parameters(&|_| Expr::Bool(false))),
                    ]),
                    obj([("StatusCode", Expr::from("500"))]),
                ]),
            ),
        ],
    )
    .scanner_skips(&[(
        "CKV_AWS_59",
        "The portal's page, script and style are public by design (a visitor has no credentials yet); they are \
         read-only files under portal/, and the routes they call keep their own lockout, throttle and optional \
         API key.",
    )])
}
