//! The web portal as the stack serves it: every file from the image bucket through the API, on the API's own
//! origin, with its content type and the security headers a page that uses the camera needs. (The pages at
//! work in a real browser: `e2e/tests/portal.rs`.)

use crate::ensure;
use crate::scenarios::{Outcome, Scenario};
use crate::stack;
use riv_infra::portal::{FILES, INDEX, PATH};

pub fn all() -> Vec<(&'static str, Scenario)> {
    vec![(
        "portal_is_served_by_the_stack_with_its_security_headers",
        || Box::pin(portal_is_served_with_its_security_headers()),
    )]
}

async fn portal_is_served_with_its_security_headers() -> Outcome {
    let s = stack();
    for file in FILES {
        let url = format!("{}/{PATH}/{}", s.api_url, file.name);
        let (status, headers, body) = crate::get(&url).await;
        ensure!(
            status == 200,
            "GET {url}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        ensure!(
            body == file.bytes,
            "GET {url}: the body is not the published file ({} bytes, wanted {})",
            body.len(),
            file.bytes.len()
        );
        let header = |name: &str| headers.get(name).map(String::as_str).unwrap_or("");
        ensure!(
            header("content-type") == file.content_type,
            "GET {url}: content-type {:?}",
            header("content-type")
        );
        let csp = header("content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            ensure!(
                csp.contains(directive),
                "GET {url}: the Content-Security-Policy lacks {directive:?}: {csp:?}"
            );
        }
        ensure!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "GET {url}: the Content-Security-Policy allows inline code: {csp:?}"
        );
        ensure!(
            header("permissions-policy").contains("camera=(self)"),
            "GET {url}: Permissions-Policy {:?}",
            header("permissions-policy")
        );
        ensure!(
            header("x-content-type-options") == "nosniff",
            "GET {url}: X-Content-Type-Options {:?}",
            header("x-content-type-options")
        );
    }
    // Only the files that ship are served: nothing else of the bucket is reachable through the portal's routes.
    for path in ["faces", "uploads", "..%2Ffaces", "index.htm"] {
        let url = format!("{}/{PATH}/{path}", s.api_url);
        let (status, _, body) = crate::get(&url).await;
        ensure!(
            status >= 400 && !body.starts_with(b"<!doctype"),
            "GET {url}: {status}, wanted a refusal"
        );
    }
    ensure!(
        FILES.iter().any(|f| f.name == INDEX),
        "the portal has no {INDEX}"
    );
    Ok(())
}
