//! Where a deployment goes: region, credentials and (for LocalStack) endpoint, and the clients for them.

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The region the standard configuration (AWS_REGION, the profile) names, if any.
pub async fn configured_region(profile: Option<&str>) -> Option<String> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    loader.load().await.region().map(|r| r.to_string())
}

/// A region of an account, with the clients deploy needs.
#[derive(Clone, Debug)]
pub struct Target {
    pub region: String,
    pub endpoint: Option<String>,
    pub config: SdkConfig,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub s3: aws_sdk_s3::Client,
    pub sts: aws_sdk_sts::Client,
    pub rekognition: aws_sdk_rekognition::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub apigateway: aws_sdk_apigateway::Client,
    pub kms: aws_sdk_kms::Client,
}

impl Target {
    /// Credentials from the standard chain (env, profiles, SSO) unless `static_credentials` are given.
    pub async fn new(
        region: &str,
        profile: Option<&str>,
        endpoint: Option<&str>,
        static_credentials: Option<(&str, &str)>,
    ) -> Target {
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_string()));
        if let Some(p) = profile {
            loader = loader.profile_name(p);
        }
        if let Some(url) = endpoint {
            loader = loader.endpoint_url(url);
        }
        if let Some((key, secret)) = static_credentials {
            loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                key, secret, None, None, "static",
            ));
        }
        Target::from_config(loader.load().await, endpoint)
    }

    /// LocalStack on loopback: any credentials do.
    pub async fn local(endpoint: &str, region: &str) -> Target {
        Target::new(region, None, Some(endpoint), Some(("test", "test"))).await
    }

    pub fn from_config(config: SdkConfig, endpoint: Option<&str>) -> Target {
        // Virtual-host buckets do not resolve against an IP endpoint: use paths there.
        let s3 = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(endpoint.is_some())
            .build();
        Target {
            region: config.region().map(|r| r.to_string()).unwrap_or_default(),
            endpoint: endpoint.map(str::to_string),
            cloudformation: aws_sdk_cloudformation::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            sts: aws_sdk_sts::Client::new(&config),
            rekognition: aws_sdk_rekognition::Client::new(&config),
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            sfn: aws_sdk_sfn::Client::new(&config),
            apigateway: aws_sdk_apigateway::Client::new(&config),
            kms: aws_sdk_kms::Client::new(&config),
            config,
        }
    }

    /// The same region with the credentials of `role`, assumed with this target's own.
    pub async fn assuming(&self, role: &str) -> Target {
        let provider = aws_config::sts::AssumeRoleProvider::builder(role)
            .session_name("riv-fleet")
            .configure(&self.config)
            .build()
            .await;
        let config = self
            .config
            .to_builder()
            .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
                provider,
            ))
            .build();
        Target::from_config(config, self.endpoint.as_deref())
    }

    /// The URL CloudFormation reads an uploaded template from.
    pub fn object_url(&self, bucket: &str, key: &str) -> String {
        match &self.endpoint {
            Some(endpoint) => format!("{}/{bucket}/{key}", endpoint.trim_end_matches('/')),
            None => format!("https://{bucket}.s3.{}.amazonaws.com/{key}", self.region),
        }
    }
}
