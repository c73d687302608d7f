//! What the SDK-driven tests share: an emulator on a free port and SDK configuration pointing at it.

use aws_sdk_rekognition::primitives::Blob;
use aws_sdk_rekognition::types::Image;
use riv_emulator::engine::Deterministic;
use riv_emulator::testimage::{self, Case, Format};
use riv_emulator::Emulator;

/// A fresh emulator (deterministic engine) on a free port.
pub async fn endpoint() -> String {
    let addr = riv_emulator::spawn(
        "127.0.0.1:0".parse().unwrap(),
        Emulator::new(Box::new(Deterministic)),
    )
    .await
    .unwrap();
    format!("http://{addr}")
}

pub async fn sdk_config(url: &str) -> aws_config::SdkConfig {
    sdk_config_in(url, "us-east-1").await
}

pub async fn sdk_config_in(url: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_config::Region::new(region.to_string()))
        .credentials_provider(aws_sdk_rekognition::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await
}

pub fn image(case: Case, identity: &str) -> Image {
    Image::builder()
        .bytes(Blob::new(testimage::render(
            &testimage::case(case, identity),
            Format::Jpeg,
        )))
        .build()
}
