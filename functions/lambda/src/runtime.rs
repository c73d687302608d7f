//! What every `bin/` shares: logging set-up, and a runtime loop that turns an event the function cannot parse
//! into an `InvalidRequest` (instead of the runtime's own deserialisation error, which no Catch names).

use crate::HandlerError;
use lambda_runtime::{service_fn, LambdaEvent};
use riv_domain::Rejection;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;

/// Logs as JSON lines without timestamps (CloudWatch adds them); `RUST_LOG` overrides the `info` default.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .init();
}

/// Unwraps a setting read at cold start, logging why it is unusable before the init fails.
pub fn setting<T>(
    value: Result<T, riv_domain::config::ConfigError>,
) -> Result<T, lambda_runtime::Error> {
    value.map_err(|e| {
        tracing::error!(error = %e, "unusable configuration");
        e.into()
    })
}

/// Parses an event into the handler's request type.
pub fn parse_event<T: DeserializeOwned>(payload: serde_json::Value) -> Result<T, HandlerError> {
    serde_json::from_value(payload).map_err(|e| {
        // serde_json appends "at line 1 column N", which says nothing to an API caller.
        let text = e.to_string();
        let text = text
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_string();
        HandlerError::Rejected(Rejection::invalid(text))
    })
}

/// Runs the Lambda loop around `handler` until the runtime stops.
pub async fn serve<Req, Resp, F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    Req: DeserializeOwned,
    Resp: Serialize,
    F: Fn(Req) -> Fut,
    Fut: Future<Output = Result<Resp, HandlerError>>,
{
    let handler = &handler;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let request = parse_event::<Req>(event.payload)?;
            handler(request).await
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use riv_domain::events::SearchFacesRequest;
    use riv_domain::Reason;
    use serde_json::json;

    #[test]
    fn unparseable_events_are_invalid_requests_without_positions() {
        let err = parse_event::<SearchFacesRequest>(json!({"UserId": "ann"})).unwrap_err();
        assert_eq!(err.reason(), Reason::InvalidRequest);
        assert_eq!(err.to_string(), "invalid request: missing field `Image`");
    }

    #[test]
    fn unknown_enum_values_are_invalid_requests() {
        let err = parse_event::<SearchFacesRequest>(
            json!({"UserId": "ann", "Image": {"Inline": ""}, "Purpose": "Guess"}),
        )
        .unwrap_err();
        assert_eq!(err.reason(), Reason::InvalidRequest);
        assert!(err.to_string().contains("unknown variant `Guess`"), "{err}");
    }
}
