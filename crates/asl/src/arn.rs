//! Step Functions' ARN formats, in one place: every ARN the engine builds comes from here.

/// The partition a region belongs to, as AWS's partition table (`partitions.json` of the SDKs)
/// maps them: `cn-*` → `aws-cn`, `us-gov-*` → `aws-us-gov`, `us-iso-*` → `aws-iso`,
/// `us-isob-*` → `aws-iso-b`, `eu-isoe-*` → `aws-iso-e`, `us-isof-*` → `aws-iso-f`,
/// `eusc-*` → `aws-eusc`, any other region → `aws`.
pub fn partition(region: &str) -> &'static str {
    const TABLE: [(&str, &str); 7] = [
        ("eusc-", "aws-eusc"),
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
    ];
    TABLE.iter().find(|(prefix, _)| region.starts_with(prefix)).map_or("aws", |(_, p)| p)
}

/// `arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME`.
pub fn state_machine(region: &str, account: &str, name: &str) -> String {
    format!("arn:{}:states:{region}:{account}:stateMachine:{name}", partition(region))
}

/// `arn:PARTITION:states:REGION:ACCOUNT:execution:MACHINE:NAME`, or `...:express:MACHINE:NAME`
/// for an EXPRESS machine's execution.
pub fn execution(region: &str, account: &str, machine: &str, name: &str, express: bool) -> String {
    let kind = if express { "express" } else { "execution" };
    format!("arn:{}:states:{region}:{account}:{kind}:{machine}:{name}", partition(region))
}

/// The region of an ARN (its fourth field), when it has one.
pub fn region_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn arns_name_region_account_and_names() {
        assert_eq!(super::state_machine("eu-west-1", "1", "M"), "arn:aws:states:eu-west-1:1:stateMachine:M");
        assert_eq!(super::execution("eu-west-1", "1", "M", "e", false), "arn:aws:states:eu-west-1:1:execution:M:e");
        assert_eq!(super::execution("eu-west-1", "1", "M", "e", true), "arn:aws:states:eu-west-1:1:express:M:e");
    }

    #[test]
    fn regions_map_to_their_partitions() {
        for (region, partition) in [
            ("us-east-1", "aws"),
            ("eu-west-1", "aws"),
            ("cn-north-1", "aws-cn"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("us-isof-south-1", "aws-iso-f"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("eusc-de-east-1", "aws-eusc"),
        ] {
            assert_eq!(super::partition(region), partition, "{region}");
        }
        assert_eq!(super::state_machine("cn-north-1", "1", "M"), "arn:aws-cn:states:cn-north-1:1:stateMachine:M");
        assert_eq!(super::region_of("arn:aws-cn:states:cn-north-1:1:stateMachine:M"), Some("cn-north-1"));
    }
}
