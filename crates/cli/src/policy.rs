//! `stepwise policy DEFINITION`: the least-privilege IAM policy for what a definition's Task
//! states call, as Step Functions generates it when it creates a state machine's role.
//!
//! One statement per service, each listing the exact resources (in the order the definition
//! first names them):
//!
//! | Task resource | action | resources |
//! |---|---|---|
//! | a Lambda function ARN (`arn:aws:lambda:...:function:NAME`) | `lambda:InvokeFunction` | that ARN |
//! | `arn:aws:states:::lambda:invoke[.waitForTaskToken]` with a literal `FunctionName` | `lambda:InvokeFunction` | the function's ARN and `ARN:*` (its versions and aliases; a qualified name gives its own ARN only) |
//! | `arn:aws:states:::sqs:sendMessage[.waitForTaskToken]` with a literal `QueueUrl` | `sqs:SendMessage*` | the queue's ARN (`https://sqs.R.amazonaws.com/A/N` → `arn:aws:sqs:R:A:N`) |
//! | `arn:aws:states:::sns:publish[.waitForTaskToken]` with a literal `TopicArn` | `sns:Publish` | the topic ARN |
//! | `arn:aws:states:::states:startExecution[.waitForTaskToken]` with a literal `StateMachineArn` | `states:StartExecution` | the machine ARN |
//! | `arn:aws:states:::states:startExecution.sync[:2]` | also `states:DescribeExecution`, `states:StopExecution`; `events:PutTargets`, `events:PutRule`, `events:DescribeRule` | the machine's executions (`…:execution:NAME:*`); the managed rule `rule/StepFunctionsGetEventsForStepFunctionsExecutionRule` |
//! | `arn:aws:states:::dynamodb:getItem` (`putItem`, `updateItem`, `deleteItem`) with a literal `TableName` | `dynamodb:GetItem` (...) | the table's ARN |
//! | `arn:aws:states:::events:putEvents[.waitForTaskToken]` | `events:PutEvents` | each entry's event bus (`event-bus/default` when none is named) |
//! | `arn:aws:states:::aws-sdk:SERVICE:ACTION` | the action's IAM action: the service's signing name and the operation (`sfn:startExecution` → `states:StartExecution`), S3's own names where they differ (`listObjectsV2` → `s3:ListBucket`, `listBuckets` → `s3:ListAllMyBuckets`, `headObject` → `s3:GetObject`) | `*`, as Step Functions generates for `aws-sdk` tasks |
//! | `Credentials.RoleArn` on any Task | `sts:AssumeRole` | the role (`*` when chosen at run time) |
//!
//! A resource chosen at run time (`FunctionName.$`, `QueueUrl.$`, a JSONata `{% %}` value, or
//! SNS's `TargetArn`/`PhoneNumber`) makes that statement's `Resource` `"*"`, as Step Functions
//! does for dynamic resources. `${Name}` substitution variables (SAM's
//! `DefinitionSubstitutions`) are kept as they are: a `Resource` that is a variable is taken for
//! a Lambda function ARN, and a `QueueUrl` that is one variable is printed as that variable (it
//! stands for the queue). With `--bindings FILE` the variables are substituted first. Function
//! names and partial ARNs are completed with `--region` and `--account` (default `*`). States
//! inside Parallel branches and Map processors count; Task resources of other services are
//! reported on stderr and left out (optimized integrations stepwise does not have, and
//! `aws-sdk:` actions of no published model).

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Map, Value};

/// Options of `stepwise policy`.
pub struct PolicyOptions {
    /// Region for function names given without an ARN.
    pub region: String,
    /// Account for function names given without an ARN.
    pub account: String,
    /// The state machine's name (`*`: any), for a Distributed Map's children.
    pub machine: String,
}

/// A statement under construction: one per service.
struct Statement {
    action: String,
    resources: Vec<String>,
}

/// The policy and what was left out.
pub struct Policy {
    /// `{"Version": "2012-10-17", "Statement": [...]}`.
    pub document: Value,
    /// Task resources the policy does not cover, with the state naming them.
    pub uncovered: Vec<String>,
}

/// A parameter of a Task: fixed in the definition, or chosen at run time.
enum Param {
    Literal(String),
    Dynamic,
    Missing,
}

fn param(state: &Map<String, Value>, name: &str) -> Param {
    let args = state.get("Parameters").or_else(|| state.get("Arguments")).and_then(Value::as_object);
    let Some(args) = args else { return Param::Missing };
    field(args, name)
}

/// A field of an object of the definition (`Parameters`, `Credentials`): literal or dynamic.
fn field(args: &Map<String, Value>, name: &str) -> Param {
    if args.contains_key(&format!("{name}.$")) {
        return Param::Dynamic;
    }
    match args.get(name) {
        Some(Value::String(s)) if s.trim_start().starts_with("{%") => Param::Dynamic,
        Some(Value::String(s)) => Param::Literal(s.clone()),
        Some(_) => Param::Dynamic,
        None => Param::Missing,
    }
}

fn is_variable(s: &str) -> bool {
    s.starts_with("${") && s.ends_with('}') && s[2..s.len() - 1].chars().all(|c| c != '{' && c != '}')
}

/// The ARNs to grant for a `lambda:invoke` `FunctionName` (a name, partial ARN or ARN, maybe
/// qualified).
fn function_arns(name: &str, opts: &PolicyOptions) -> Vec<String> {
    if is_variable(name) {
        return vec![name.to_string(), format!("{name}:*")];
    }
    let parts: Vec<&str> = name.split(':').collect();
    let (arn, qualified) = match parts.as_slice() {
        ["arn", _, "lambda", _, _, "function", _] => (name.to_string(), false),
        ["arn", _, "lambda", _, _, "function", _, _] => (name.to_string(), true),
        [account, "function", fname] => (format!("arn:aws:lambda:{}:{account}:function:{fname}", opts.region), false),
        [account, "function", fname, q] => {
            (format!("arn:aws:lambda:{}:{account}:function:{fname}:{q}", opts.region), true)
        }
        [fname] => (format!("arn:aws:lambda:{}:{}:function:{fname}", opts.region, opts.account), false),
        [fname, q] => (format!("arn:aws:lambda:{}:{}:function:{fname}:{q}", opts.region, opts.account), true),
        _ => (name.to_string(), true),
    };
    if qualified {
        vec![arn]
    } else {
        vec![arn.clone(), format!("{arn}:*")]
    }
}

/// The ARN of the queue at an SQS queue URL: `https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`
/// (also the legacy `https://REGION.queue.amazonaws.com/...` and `https://queue.amazonaws.com/...`
/// forms, and other partitions' domains). A URL that is one `${Name}` variable is kept.
pub fn queue_arn(url: &str) -> Option<String> {
    if is_variable(url) {
        return Some(url.to_string());
    }
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    let mut segments = path.trim_end_matches('/').split('/');
    let (account, name) = (segments.next()?, segments.next()?);
    if segments.next().is_some() || account.is_empty() || name.is_empty() {
        return None;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let (region, domain_from) = match labels.as_slice() {
        ["sqs", region, ..] => (region.to_string(), 2),
        ["queue", ..] => ("us-east-1".to_string(), 1),
        [region, "queue", ..] => (region.to_string(), 2),
        _ => return None,
    };
    let domain = labels[domain_from..].join(".");
    let partition = if domain.ends_with("amazonaws.com.cn") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    Some(format!("arn:{partition}:sqs:{region}:{account}:{name}"))
}

/// Walks every state (Parallel branches and Map processors included).
fn each_state<'a>(states: &'a Map<String, Value>, f: &mut dyn FnMut(&'a str, &'a Map<String, Value>)) {
    for (name, state) in states {
        let Some(state) = state.as_object() else { continue };
        f(name, state);
        if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
            for b in branches {
                if let Some(s) = b.get("States").and_then(Value::as_object) {
                    each_state(s, f);
                }
            }
        }
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(s) = state.get(key).and_then(|p| p.get("States")).and_then(Value::as_object) {
                each_state(s, f);
            }
        }
    }
}

/// The policy for a definition.
pub fn policy(definition: &Value, opts: &PolicyOptions) -> Result<Policy> {
    let Some(states) = definition.get("States").and_then(Value::as_object) else {
        bail!("the definition has no \"States\" object");
    };
    let mut statements: Vec<Statement> = Vec::new();
    let mut uncovered = Vec::new();
    let mut grant = |action: &str, resources: Vec<String>| {
        let i = match statements.iter().position(|s| s.action == action) {
            Some(i) => i,
            None => {
                statements.push(Statement { action: action.to_string(), resources: Vec::new() });
                statements.len() - 1
            }
        };
        for r in resources {
            if !statements[i].resources.contains(&r) {
                statements[i].resources.push(r);
            }
        }
    };
    each_state(states, &mut |name, state| {
        if state.get("Type").and_then(Value::as_str) == Some("Map") {
            return distributed_map(state, opts, &mut grant);
        }
        if state.get("Type").and_then(Value::as_str) != Some("Task") {
            return;
        }
        let Some(resource) = state.get("Resource").and_then(Value::as_str) else { return };
        if let Some(credentials) = state.get("Credentials").and_then(Value::as_object) {
            match field(credentials, "RoleArn") {
                Param::Literal(role) => grant("sts:AssumeRole", vec![role]),
                Param::Dynamic => grant("sts:AssumeRole", vec!["*".into()]),
                Param::Missing => {}
            }
        }
        let service = resource.strip_prefix("arn:aws:states:::").map(|s| s.split('.').next().unwrap_or(s));
        match service {
            Some(s) if s.starts_with("dynamodb:") => {
                let action = format!("dynamodb:{}", stepwise_sdk::wire::pascal(&s["dynamodb:".len()..]));
                match param(state, "TableName") {
                    Param::Literal(t) => {
                        grant(&action, vec![format!("arn:aws:dynamodb:{}:{}:table/{t}", opts.region, opts.account)]);
                    }
                    _ => grant(&action, vec!["*".into()]),
                }
            }
            Some("events:putEvents") => {
                let buses = match state.get("Parameters").and_then(|p| p.get("Entries")).and_then(Value::as_array) {
                    Some(entries) => entries
                        .iter()
                        .map(|e| match e.get("EventBusName").and_then(Value::as_str) {
                            _ if e.get("EventBusName.$").is_some() => "*".to_string(),
                            Some(b) if b.starts_with("arn:") => b.to_string(),
                            Some(b) => format!("arn:aws:events:{}:{}:event-bus/{b}", opts.region, opts.account),
                            None => format!("arn:aws:events:{}:{}:event-bus/default", opts.region, opts.account),
                        })
                        .collect(),
                    None => vec!["*".to_string()],
                };
                grant("events:PutEvents", buses);
            }
            Some(s) if s.starts_with("aws-sdk:") => match sdk_action(s) {
                Some(actions) => actions.iter().for_each(|a| grant(a, vec!["*".into()])),
                None => uncovered.push(format!("{name}: {resource} (no such service action in AWS's models)")),
            },
            Some("lambda:invoke") => match param(state, "FunctionName") {
                Param::Literal(f) => grant("lambda:InvokeFunction", function_arns(&f, opts)),
                _ => grant("lambda:InvokeFunction", vec!["*".into()]),
            },
            Some("sqs:sendMessage") => match param(state, "QueueUrl") {
                Param::Literal(url) => match queue_arn(&url) {
                    Some(arn) => grant("sqs:SendMessage*", vec![arn]),
                    None => {
                        uncovered.push(format!("{name}: QueueUrl {url} is not an SQS queue URL"));
                        grant("sqs:SendMessage*", vec!["*".into()]);
                    }
                },
                _ => grant("sqs:SendMessage*", vec!["*".into()]),
            },
            Some("sns:publish") => match param(state, "TopicArn") {
                Param::Literal(arn) => grant("sns:Publish", vec![arn]),
                _ => grant("sns:Publish", vec!["*".into()]),
            },
            Some("states:startExecution") => {
                let sync = resource.contains(".sync");
                match param(state, "StateMachineArn") {
                    Param::Literal(machine) => {
                        grant("states:StartExecution", vec![machine.clone()]);
                        if sync {
                            // The child's executions: `arn:...:execution:MACHINE:*`.
                            let executions = format!("{}:*", machine.replacen(":stateMachine:", ":execution:", 1));
                            grant("states:DescribeExecution", vec![executions.clone()]);
                            grant("states:StopExecution", vec![executions]);
                        }
                    }
                    _ => {
                        grant("states:StartExecution", vec!["*".into()]);
                        if sync {
                            grant("states:DescribeExecution", vec!["*".into()]);
                            grant("states:StopExecution", vec!["*".into()]);
                        }
                    }
                }
                if sync {
                    // The managed rule Step Functions uses to learn of the child's end.
                    let rule = format!(
                        "arn:aws:events:{}:{}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule",
                        opts.region, opts.account
                    );
                    for action in ["events:PutTargets", "events:PutRule", "events:DescribeRule"] {
                        grant(action, vec![rule.clone()]);
                    }
                }
            }
            Some(_) => uncovered.push(format!("{name}: {resource}")),
            None if is_variable(resource) || (resource.contains(":lambda:") && resource.contains(":function:")) => {
                grant("lambda:InvokeFunction", vec![resource.to_string()]);
            }
            None => uncovered.push(format!("{name}: {resource}")),
        }
    });
    let statement: Vec<Value> = statements
        .into_iter()
        .map(|s| {
            let resource = if s.resources.iter().any(|r| r == "*") { json!("*") } else { json!(s.resources) };
            json!({"Effect": "Allow", "Action": [s.action], "Resource": resource})
        })
        .collect();
    Ok(Policy { document: json!({"Version": "2012-10-17", "Statement": statement}), uncovered })
}

/// What Step Functions generates for a Distributed Map: starting its children (executions of
/// the machine itself, `execution:NAME/LABEL:ID`), describing and stopping them, reading the
/// ItemReader's object or listing, and writing the ResultWriter's files.
fn distributed_map(state: &Map<String, Value>, opts: &PolicyOptions, grant: &mut dyn FnMut(&str, Vec<String>)) {
    let mode = state.get("ItemProcessor").and_then(|p| p.get("ProcessorConfig")).and_then(|c| c.get("Mode"));
    if mode.and_then(Value::as_str) != Some("DISTRIBUTED") {
        return;
    }
    let (region, account, machine) = (&opts.region, &opts.account, &opts.machine);
    grant("states:StartExecution", vec![format!("arn:aws:states:{region}:{account}:stateMachine:{machine}")]);
    let children = format!("arn:aws:states:{region}:{account}:execution:{machine}/*");
    grant("states:DescribeExecution", vec![children.clone()]);
    grant("states:StopExecution", vec![children]);
    let args = |o: &Value| o.get("Parameters").or_else(|| o.get("Arguments")).and_then(Value::as_object).cloned();
    if let Some(reader) = state.get("ItemReader") {
        let params = args(reader).unwrap_or_default();
        let bucket = field(&params, "Bucket");
        match (reader.get("Resource").and_then(Value::as_str), bucket) {
            (Some(r), Param::Literal(b)) if r.ends_with("s3:listObjectsV2") => {
                grant("s3:ListBucket", vec![format!("arn:aws:s3:::{b}")]);
            }
            (Some(_), Param::Literal(b)) => {
                let key = match field(&params, "Key") {
                    Param::Literal(k) => k,
                    _ => "*".into(),
                };
                grant("s3:GetObject", vec![format!("arn:aws:s3:::{b}/{key}")]);
            }
            (Some(r), _) if r.ends_with("s3:listObjectsV2") => grant("s3:ListBucket", vec!["*".into()]),
            _ => grant("s3:GetObject", vec!["*".into()]),
        }
    }
    if let Some(writer) = state.get("ResultWriter").filter(|w| w.get("Resource").is_some()) {
        let params = args(writer).unwrap_or_default();
        let objects = match (field(&params, "Bucket"), field(&params, "Prefix")) {
            (Param::Literal(b), Param::Literal(p)) => format!("arn:aws:s3:::{b}/{p}/*"),
            (Param::Literal(b), Param::Missing) => format!("arn:aws:s3:::{b}/*"),
            _ => "*".into(),
        };
        for action in ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"] {
            grant(action, vec![objects.clone()]);
        }
    }
}

/// The IAM actions of an `aws-sdk:SERVICE:ACTION` task: the service's signing name (its IAM
/// prefix) and the operation's name, with S3's own action names where they differ.
fn sdk_action(tail: &str) -> Option<Vec<String>> {
    let mut parts = tail.splitn(3, ':').skip(1);
    let (service, action) = (parts.next()?, parts.next()?);
    let model = stepwise_sdk::model::service(service)?;
    let op = model.operation(action)?;
    if service == "s3" {
        let named = match op.name.as_str() {
            "ListObjectsV2" | "ListObjects" => Some(vec!["s3:ListBucket"]),
            "ListBuckets" => Some(vec!["s3:ListAllMyBuckets"]),
            "HeadObject" => Some(vec!["s3:GetObject"]),
            "HeadBucket" => Some(vec!["s3:ListBucket"]),
            "CopyObject" => Some(vec!["s3:GetObject", "s3:PutObject"]),
            "DeleteObjects" => Some(vec!["s3:DeleteObject"]),
            _ => None,
        };
        if let Some(actions) = named {
            return Some(actions.into_iter().map(String::from).collect());
        }
    }
    Some(vec![format!("{}:{}", model.signing_name, op.name)])
}

/// Reads a definition file, substituting `${Name}` variables from `bindings` (a JSON object
/// file) when given.
pub fn load_definition(text: &str, bindings: Option<&str>) -> Result<Value> {
    let text = match bindings {
        Some(b) => {
            let map: Map<String, Value> = serde_json::from_str(b).context("the bindings are not a JSON object")?;
            stepwise_sample::substitute(text, &map).map_err(|e| anyhow::anyhow!("substituting the bindings: {e}"))?
        }
        None => text.to_string(),
    };
    serde_json::from_str(&text).context("the definition is not valid JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> PolicyOptions {
        PolicyOptions { region: "us-east-1".into(), account: "123456789012".into(), machine: "Sample".into() }
    }

    #[test]
    fn queue_urls_become_arns() {
        assert_eq!(
            queue_arn("https://sqs.us-west-1.amazonaws.com/111122223333/Q").as_deref(),
            Some("arn:aws:sqs:us-west-1:111122223333:Q")
        );
        assert_eq!(queue_arn("https://queue.amazonaws.com/1/Q").as_deref(), Some("arn:aws:sqs:us-east-1:1:Q"));
        assert_eq!(
            queue_arn("https://eu-west-1.queue.amazonaws.com/1/Q").as_deref(),
            Some("arn:aws:sqs:eu-west-1:1:Q")
        );
        assert_eq!(
            queue_arn("https://sqs.cn-north-1.amazonaws.com.cn/1/Q").as_deref(),
            Some("arn:aws-cn:sqs:cn-north-1:1:Q")
        );
        assert_eq!(queue_arn("${QueueUrl}").as_deref(), Some("${QueueUrl}"));
        assert_eq!(queue_arn("not a url"), None);
        assert_eq!(queue_arn("https://sqs.us-east-1.amazonaws.com/1"), None);
    }

    #[test]
    fn lambda_invoke_grants_the_function_and_its_versions() {
        let o = opts();
        assert_eq!(
            function_arns("F", &o),
            ["arn:aws:lambda:us-east-1:123456789012:function:F", "arn:aws:lambda:us-east-1:123456789012:function:F:*"]
        );
        assert_eq!(function_arns("F:prod", &o), ["arn:aws:lambda:us-east-1:123456789012:function:F:prod"]);
        assert_eq!(
            function_arns("9:function:F", &o),
            ["arn:aws:lambda:us-east-1:9:function:F", "arn:aws:lambda:us-east-1:9:function:F:*"]
        );
        let arn = "arn:aws:lambda:eu-west-1:9:function:F";
        assert_eq!(function_arns(arn, &o), [arn.to_string(), format!("{arn}:*")]);
        assert_eq!(function_arns(&format!("{arn}:1"), &o), [format!("{arn}:1")]);
        assert_eq!(function_arns("${Fn}", &o), ["${Fn}", "${Fn}:*"]);
    }

    #[test]
    fn dynamic_resources_are_wildcards_and_nested_states_count() {
        let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName.$": "$.f"}, "End": true}}},
            {"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "S", "States": {
                "S": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:1:T", "Message": "m"}, "Next": "J"},
                "J": {"Type": "Task", "QueryLanguage": "JSONata", "Resource": "arn:aws:states:::sqs:sendMessage",
                    "Arguments": {"QueueUrl": "{% $states.input.q %}", "MessageBody": "x"}, "Next": "X"},
                "X": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "End": true}}}}}}
        ]}}});
        let p = policy(&def, &opts()).expect("policy");
        assert_eq!(
            p.document["Statement"],
            json!([
                {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": "*"},
                {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": ["arn:aws:sns:us-east-1:1:T"]},
                {"Effect": "Allow", "Action": ["sqs:SendMessage*"], "Resource": "*"},
                {"Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": "*"},
            ])
        );
        assert!(p.uncovered.is_empty(), "{:?}", p.uncovered);
    }

    #[test]
    fn dynamodb_events_and_sdk_tasks_grant_their_actions() {
        let def = json!({"StartAt": "D", "States": {
            "D": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": "orders", "Item": {}}, "Next": "E"},
            "E": {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents.waitForTaskToken",
                "Parameters": {"Entries": [{"Detail": {}}, {"EventBusName": "audit"}]}, "Next": "S"},
            "S": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:listObjectsV2",
                "Parameters": {"Bucket": "b"}, "Credentials": {"RoleArn": "arn:aws:iam::222222222222:role/r"}, "Next": "F"},
            "F": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:startExecution",
                "Parameters": {"StateMachineArn": "arn"}, "Next": "N"},
            "N": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:nosuch:thing", "End": true}}});
        let p = policy(&def, &opts()).expect("policy");
        assert_eq!(
            p.document["Statement"],
            json!([
                {"Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": ["arn:aws:dynamodb:us-east-1:123456789012:table/orders"]},
                {"Effect": "Allow", "Action": ["events:PutEvents"], "Resource": [
                    "arn:aws:events:us-east-1:123456789012:event-bus/default",
                    "arn:aws:events:us-east-1:123456789012:event-bus/audit"]},
                {"Effect": "Allow", "Action": ["sts:AssumeRole"], "Resource": ["arn:aws:iam::222222222222:role/r"]},
                {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "*"},
                {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": "*"},
            ])
        );
        assert_eq!(p.uncovered, ["N: arn:aws:states:::aws-sdk:nosuch:thing (no such service action in AWS's models)"]);
    }

    #[test]
    fn distributed_maps_grant_their_children_reads_and_writes() {
        let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "in", "Key": "items.csv"}},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "runs"}},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, "StartAt": "P",
                "States": {"P": {"Type": "Pass", "End": true}}}}}});
        let p = policy(&def, &opts()).unwrap();
        let grants = |action: &str| {
            p.document["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["Action"][0] == action)
                .map(|s| s["Resource"].clone())
                .unwrap_or_else(|| panic!("no {action} in {}", p.document))
        };
        assert_eq!(
            grants("states:StartExecution"),
            json!(["arn:aws:states:us-east-1:123456789012:stateMachine:Sample"])
        );
        assert_eq!(grants("states:StopExecution"), json!(["arn:aws:states:us-east-1:123456789012:execution:Sample/*"]));
        assert_eq!(grants("s3:GetObject"), json!(["arn:aws:s3:::in/items.csv", "arn:aws:s3:::out/runs/*"]));
        assert_eq!(grants("s3:PutObject"), json!(["arn:aws:s3:::out/runs/*"]));
        let inline = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}});
        assert_eq!(policy(&inline, &opts()).unwrap().document["Statement"], json!([]));
    }

    #[test]
    fn nested_executions_grant_what_step_functions_generates() {
        let def = json!({"StartAt": "S", "States": {
            "S": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:Child"}, "Next": "R"},
            "R": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:Other"}, "End": true}}});
        let p = policy(&def, &opts()).expect("policy");
        let rule = "arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule";
        let executions = "arn:aws:states:us-east-1:123456789012:execution:Child:*";
        assert_eq!(
            p.document["Statement"],
            json!([
                {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": [
                    "arn:aws:states:us-east-1:123456789012:stateMachine:Child",
                    "arn:aws:states:us-east-1:123456789012:stateMachine:Other"]},
                {"Effect": "Allow", "Action": ["states:DescribeExecution"], "Resource": [executions]},
                {"Effect": "Allow", "Action": ["states:StopExecution"], "Resource": [executions]},
                {"Effect": "Allow", "Action": ["events:PutTargets"], "Resource": [rule]},
                {"Effect": "Allow", "Action": ["events:PutRule"], "Resource": [rule]},
                {"Effect": "Allow", "Action": ["events:DescribeRule"], "Resource": [rule]},
            ])
        );
        assert!(p.uncovered.is_empty(), "{:?}", p.uncovered);
    }
}
