//! Step Functions' ARN formats, in one place: every ARN the engine builds comes from here.

/// `arn:aws:states:REGION:ACCOUNT:stateMachine:NAME`.
pub fn state_machine(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:states:{region}:{account}:stateMachine:{name}")
}

/// `arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME`, or `...:express:MACHINE:NAME` for an
/// EXPRESS machine's execution.
pub fn execution(region: &str, account: &str, machine: &str, name: &str, express: bool) -> String {
    let kind = if express { "express" } else { "execution" };
    format!("arn:aws:states:{region}:{account}:{kind}:{machine}:{name}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn arns_name_region_account_and_names() {
        assert_eq!(super::state_machine("eu-west-1", "1", "M"), "arn:aws:states:eu-west-1:1:stateMachine:M");
        assert_eq!(super::execution("eu-west-1", "1", "M", "e", false), "arn:aws:states:eu-west-1:1:execution:M:e");
        assert_eq!(super::execution("eu-west-1", "1", "M", "e", true), "arn:aws:states:eu-west-1:1:express:M:e");
    }
}
