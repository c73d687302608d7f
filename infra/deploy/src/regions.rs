//! Which regions can run Riv, from botocore's endpoint data (as pinned in the LocalStack venv) and AWS's
//! announcement of AnalyzeID's regions (2022-11-01). Fixed lists: asking EC2 (DescribeRegions) would add a
//! permission and a large SDK for one call.

/// Commercial regions, enabled by default in every account, that offer Rekognition's face APIs.
pub const REKOGNITION_DEFAULT: [&str; 13] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-central-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ap-northeast-2",
];

/// Regions with Rekognition's face APIs that an account must opt into, or that sit in another partition.
pub const REKOGNITION_OPT_IN: [&str; 3] = ["eu-south-2", "il-central-1", "us-gov-west-1"];

/// Regions where Textract offers AnalyzeID; elsewhere a stack needs `IdExtraction=detect-text`.
pub const ANALYZE_ID: [&str; 15] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-2",
    "ap-south-1",
];

/// Whether Riv can run in `region` at all.
pub fn has_rekognition(region: &str) -> bool {
    REKOGNITION_DEFAULT.contains(&region) || REKOGNITION_OPT_IN.contains(&region)
}

/// Whether `IdExtraction=analyze-id` works in `region`.
pub fn has_analyze_id(region: &str) -> bool {
    ANALYZE_ID.contains(&region)
}
