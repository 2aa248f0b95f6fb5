//! Step Functions' own words, in one place: the ARNs it builds, the rules for names and ARNs, and
//! the messages of its validation errors. The API (HTTP and SQS ways in) and the driver use
//! these, so a message AWS changes is changed once.

use crate::{Error, Invalid};

/// `arn:aws:states:REGION:ACCOUNT:stateMachine:NAME` (the formats are `stepwise_asl::arn`'s).
pub use stepwise_asl::arn::state_machine as machine_arn;

/// ExecutionAlreadyExists's message.
pub fn already_exists(arn: &str) -> String {
    format!("Execution Already Exists: '{arn}'")
}

/// The message of a required member that is missing.
pub fn null_member(field: &str) -> String {
    format!(
        "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
    )
}

/// The message of a string member longer than its limit.
pub fn too_long(field: &str, max: usize) -> String {
    format!(
        "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to {max}"
    )
}

/// The message of a member longer than its limit, quoting the value (AWS does for tokens).
pub fn too_long_value(field: &str, value: &str, max: usize) -> String {
    format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must have length less than or equal to {max}"
    )
}

/// The message of a member outside its enum.
pub fn not_in_enum(field: &str, value: &str, allowed: &[&str]) -> String {
    format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        allowed.join(", ")
    )
}

/// The message of a number member above its limit.
pub fn too_large(field: &str, value: &str, max: i64) -> String {
    format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must have value less than or equal to {max}"
    )
}

/// The largest `error` of StopExecution and SendTaskFailure.
pub const MAX_ERROR: usize = 256;
/// The largest `cause` of StopExecution and SendTaskFailure.
pub const MAX_CAUSE: usize = 32768;

/// The bounds of an `error` and a `cause` (StopExecution, SendTaskFailure), in characters.
pub fn check_error_cause(error: Option<&str>, cause: Option<&str>) -> Result<(), Error> {
    if error.is_some_and(|e| e.chars().count() > MAX_ERROR) {
        return Err(Error::validation(too_long("error", MAX_ERROR)));
    }
    if cause.is_some_and(|c| c.chars().count() > MAX_CAUSE) {
        return Err(Error::validation(too_long("cause", MAX_CAUSE)));
    }
    Ok(())
}

/// AWS's name rules for state machines and executions: 1–80 characters, none of whitespace,
/// `< > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /` or control characters.
pub fn check_name(name: &str) -> Result<(), Error> {
    let n = name.chars().count();
    if n == 0 || n > 80 {
        return Err(Error::invalid(Invalid::Name, format!("Invalid Name: '{name}' (a name has 1 to 80 characters)")));
    }
    if let Some(c) =
        name.chars().find(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(*c))
    {
        return Err(Error::invalid(Invalid::Name, format!("Invalid Name: '{name}' (character {c:?} is not allowed)")));
    }
    Ok(())
}

/// `InvalidArn` unless `arn` is a Step Functions ARN of one of these resource kinds
/// (`stateMachine`, `execution`, `express`, ...).
pub fn check_arn(arn: &str, kinds: &[&str]) -> Result<(), Error> {
    let parts: Vec<&str> = arn.split(':').collect();
    let ok = parts.len() >= 7
        && parts[0] == "arn"
        && parts[2] == "states"
        && kinds.contains(&parts[5])
        && parts[6..].iter().all(|p| !p.is_empty());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(Invalid::Arn, format!("Invalid Arn: '{arn}'")))
    }
}

/// `InvalidArn` unless `role` is an IAM role ARN: `arn:PARTITION:iam::ACCOUNT:role/NAME` with a
/// 12-digit account (AWS refuses `arn:aws:iam::1234:role/x`).
pub fn check_role_arn(role: &str) -> Result<(), Error> {
    let parts: Vec<&str> = role.splitn(6, ':').collect();
    let ok = match parts.as_slice() {
        ["arn", partition, "iam", "", account, resource] => {
            !partition.is_empty()
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty())
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(Invalid::Arn, format!("Invalid Arn: 'Resource type not valid in this context: {role}'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_are_checked_by_kind() {
        assert!(check_arn("arn:aws:states:us-east-1:123456789012:stateMachine:M", &["stateMachine"]).is_ok());
        assert!(check_arn("arn:aws:states:us-east-1:123456789012:execution:M:e", &["stateMachine"]).is_err());
        assert_eq!(check_arn("not-an-arn", &["execution"]).map_err(|e| e.code()), Err("InvalidArn"));
    }

    #[test]
    fn role_arns_need_iam_a_12_digit_account_and_a_role() {
        for good in ["arn:aws:iam::123456789012:role/r", "arn:aws-cn:iam::123456789012:role/path/r"] {
            assert!(check_role_arn(good).is_ok(), "{good}");
        }
        for bad in [
            "arn:aws:iam::1234:role/x",
            "arn:aws:iam::12345678901a:role/x",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:s3:::123456789012:role/x",
            "role",
        ] {
            assert_eq!(check_role_arn(bad).map_err(|e| e.code()), Err("InvalidArn"), "{bad}");
        }
    }

    #[test]
    fn names_follow_aws_rules() {
        assert!(check_name("ok-name_1").is_ok());
        assert_eq!(check_name("").map_err(|e| e.code()), Err("InvalidName"));
        assert!(check_name(&"x".repeat(81)).is_err());
        assert!(check_name("a b").is_err());
        assert!(check_name("a:b").is_err());
    }

    #[test]
    fn error_and_cause_bounds_are_aws_messages() {
        assert!(check_error_cause(Some(&"e".repeat(256)), Some(&"c".repeat(32768))).is_ok());
        let e = check_error_cause(Some(&"e".repeat(257)), None).expect_err("too long");
        assert_eq!(e.code(), "ValidationException");
        assert!(e.message().contains("'error'") && e.message().ends_with("256"), "{}", e.message());
        let e = check_error_cause(None, Some(&"c".repeat(32769))).expect_err("too long");
        assert!(e.message().contains("'cause'"), "{}", e.message());
    }
}
