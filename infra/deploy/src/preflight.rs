//! Checks that take seconds and run before anything slow (compiling, uploading, emptying a bucket): the region
//! is one AWS has and offers what the stack needs, credentials resolve, and the endpoint answers. Each failure is
//! one line that names its cause and the fix.

use crate::regions;
use crate::Target;
use aws_sdk_sts::config::ProvideCredentials;
use aws_sdk_sts::error::ProvideErrorMetadata;
use std::time::Duration;

/// How long resolving credentials or reaching the endpoint may take before preflight gives up.
pub const TIMEOUT: Duration = Duration::from_secs(4);

/// Every region of the `aws`, `aws-us-gov` and `aws-cn` partitions, from botocore's endpoint data.
pub const AWS_REGIONS: [&str; 41] = [
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eusc-de-east-1",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
    "us-isob-east-1",
    "us-iso-east-1",
];

/// What the command about to run needs of its region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Reading or removing what is there (outputs, destroy, cleanup, reconcile, drift): any AWS region.
    AnyRegion,
    /// Deploying a stack: Rekognition's face APIs, and Textract AnalyzeID unless `IdExtraction=detect-text`.
    Stack { analyze_id: bool },
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PreflightError {
    #[error("{region} is not an AWS region: pick one of {known} (--region, or AWS_REGION)")]
    UnknownRegion { region: String, known: String },
    #[error(
        "{region} has no Rekognition face APIs, which Riv needs: deploy to one of {offered} (opt-in: {opt_in})"
    )]
    NoRekognition {
        region: String,
        offered: String,
        opt_in: String,
    },
    #[error(
        "{region} has no Textract AnalyzeID: pass --param IdExtraction=detect-text (Rekognition reads the card \
         instead), or deploy to one of {offered}"
    )]
    NoAnalyzeId { region: String, offered: String },
    #[error(
        "no AWS credentials found ({detail}): pass --profile NAME, set AWS_PROFILE, or run `aws sso login` \
         (the chain looked at AWS_ACCESS_KEY_ID, ~/.aws/credentials and config, SSO, web identity and the \
         instance role)"
    )]
    NoCredentials { detail: String },
    #[error("AWS rejected the credentials ({code}): {fix}")]
    Rejected { code: String, fix: String },
    #[error("{endpoint} did not answer within {seconds} s ({detail}): check the network, proxy and --endpoint-url")]
    NoAnswer {
        endpoint: String,
        seconds: u64,
        detail: String,
    },
}

/// The region alone, offline: it exists, and offers what `needs` asks.
pub fn check_region(region: &str, needs: Needs) -> Result<(), PreflightError> {
    if !AWS_REGIONS.contains(&region) {
        return Err(PreflightError::UnknownRegion {
            region: region.into(),
            known: regions::REKOGNITION_DEFAULT.join(", ") + ", …",
        });
    }
    if let Needs::Stack { analyze_id } = needs {
        if !regions::has_rekognition(region) {
            return Err(PreflightError::NoRekognition {
                region: region.into(),
                offered: regions::REKOGNITION_DEFAULT.join(", "),
                opt_in: regions::REKOGNITION_OPT_IN.join(", "),
            });
        }
        if analyze_id && !regions::has_analyze_id(region) {
            return Err(PreflightError::NoAnalyzeId {
                region: region.into(),
                offered: regions::ANALYZE_ID.join(", "),
            });
        }
    }
    Ok(())
}

/// The whole preflight: the region (skipped for another endpoint, which serves whatever region it is asked),
/// then credentials, then one `sts:GetCallerIdentity` to see the endpoint answer and accept them. Returns the
/// account.
pub async fn check(target: &Target, needs: Needs) -> Result<String, PreflightError> {
    if target.endpoint.is_none() {
        check_region(&target.region, needs)?;
    }
    let provider =
        target
            .config
            .credentials_provider()
            .ok_or_else(|| PreflightError::NoCredentials {
                detail: "no credentials provider is configured".into(),
            })?;
    match tokio::time::timeout(TIMEOUT, provider.provide_credentials()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            return Err(PreflightError::NoCredentials {
                detail: first_line(&e.to_string()),
            })
        }
        Err(_) => {
            return Err(PreflightError::NoCredentials {
                detail: format!("nothing answered within {} s", TIMEOUT.as_secs()),
            })
        }
    }
    let endpoint = target
        .endpoint
        .clone()
        .unwrap_or_else(|| format!("https://sts.{}.amazonaws.com", target.region));
    let call = target.sts.get_caller_identity().send();
    match tokio::time::timeout(TIMEOUT, call).await {
        Ok(Ok(identity)) => Ok(identity.account().unwrap_or_default().to_string()),
        Ok(Err(e)) => match e.code() {
            Some(code) => Err(PreflightError::Rejected {
                code: code.into(),
                fix: match code {
                    "ExpiredToken" | "ExpiredTokenException" => {
                        "they expired: run `aws sso login` or refresh them".into()
                    }
                    _ => "check --profile / AWS_PROFILE, or the keys in the environment".into(),
                },
            }),
            None => Err(PreflightError::NoAnswer {
                endpoint,
                seconds: TIMEOUT.as_secs(),
                detail: first_line(&root_cause(&e)),
            }),
        },
        Err(_) => Err(PreflightError::NoAnswer {
            endpoint,
            seconds: TIMEOUT.as_secs(),
            detail: "timed out".into(),
        }),
    }
}

/// The innermost error of a chain: for a request that never got an answer, what the network said.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.len() > 160 {
        format!("{}…", &line[..line.floor_char_boundary(160)])
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_checked_offline() {
        assert_eq!(
            check_region("eu-west-1", Needs::Stack { analyze_id: true }),
            Ok(())
        );
        assert!(matches!(
            check_region("eu-west-9", Needs::AnyRegion),
            Err(PreflightError::UnknownRegion { .. })
        ));
        assert!(matches!(
            check_region("af-south-1", Needs::Stack { analyze_id: false }),
            Err(PreflightError::NoRekognition { .. })
        ));
        assert_eq!(check_region("af-south-1", Needs::AnyRegion), Ok(()));
        let no_analyze_id = check_region("ap-northeast-1", Needs::Stack { analyze_id: true });
        assert!(
            no_analyze_id
                .as_ref()
                .is_err_and(|e| e.to_string().contains("IdExtraction=detect-text")),
            "{no_analyze_id:?}"
        );
        assert_eq!(
            check_region("ap-northeast-1", Needs::Stack { analyze_id: false }),
            Ok(())
        );
    }

    #[test]
    fn every_region_riv_deploys_to_is_an_aws_region() {
        for region in regions::REKOGNITION_DEFAULT
            .iter()
            .chain(&regions::REKOGNITION_OPT_IN)
            .chain(&regions::ANALYZE_ID)
        {
            assert!(AWS_REGIONS.contains(region), "{region}");
        }
    }
}
