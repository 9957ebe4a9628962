//! The tool behind a call (console, CLI, Terraform, an SDK, …), from CloudTrail's `userAgent`.

#[derive(Debug, Clone, PartialEq)]
pub struct UserAgent {
    /// A short label: "AWS console", "AWS CLI", "Terraform", "Python SDK (boto3)", …
    pub label: &'static str,
    pub raw: String,
}

impl UserAgent {
    pub(crate) fn parse(raw: &str) -> Option<UserAgent> {
        Some(UserAgent {
            label: user_agent_label(raw),
            raw: raw.to_owned(),
        })
    }
}

/// Recognise the tool behind a user agent. Order matters: Terraform and the CLI embed SDK tokens.
fn user_agent_label(raw: &str) -> &'static str {
    let ua = raw.to_ascii_lowercase();
    let has = |needle: &str| ua.contains(needle);
    if ua == "aws internal" || ua.starts_with("aws-internal") {
        "AWS internal"
    } else if has("terraform") || has("hashicorp") {
        "Terraform"
    } else if has("pulumi") {
        "Pulumi"
    } else if has("aws-cdk") {
        "AWS CDK"
    } else if has("cloudformation.amazonaws.com") {
        "CloudFormation"
    } else if has("aws-cli/") {
        "AWS CLI"
    } else if has("console.amazonaws.com")
        || has("signin.amazonaws.com")
        || has("awsconsole")
        || has("console.aws.amazon.com")
    {
        "AWS console"
    } else if has("awspowershell") || has("aws-tools-for-powershell") {
        "AWS Tools for PowerShell"
    } else if has("boto3") || has("botocore") {
        "Python SDK (boto3)"
    } else if has("aws-sdk-go") {
        "Go SDK"
    } else if has("aws-sdk-java") {
        "Java SDK"
    } else if has("aws-sdk-js") || has("aws-sdk-nodejs") {
        "JavaScript SDK"
    } else if has("aws-sdk-rust") {
        "Rust SDK"
    } else if has("aws-sdk-dotnet") {
        ".NET SDK"
    } else if has("aws-sdk-ruby") {
        "Ruby SDK"
    } else if has("aws-sdk-php") {
        "PHP SDK"
    } else if ua.starts_with("mozilla/") {
        "Web browser"
    } else if ua.ends_with(".amazonaws.com") {
        "AWS service"
    } else {
        "Other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_get_short_labels() {
        for (ua, label) in [
            ("aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64", "AWS CLI"),
            ("APN/1.0 HashiCorp/1.0 Terraform/1.7.0 (+https://www.terraform.io) terraform-provider-aws/5.31.0 aws-sdk-go-v2/1.24.0", "Terraform"),
            ("Boto3/1.34.0 md/Botocore#1.34.0 Python/3.12", "Python SDK (boto3)"),
            ("console.amazonaws.com", "AWS console"),
            ("AWS Internal", "AWS internal"),
            ("aws-sdk-go-v2/1.14.0 os/macos", "Go SDK"),
            ("curl/8", "Other"),
        ] {
            assert_eq!(user_agent_label(ua), label, "{ua}");
        }
    }
}
