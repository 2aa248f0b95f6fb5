//! `stepwise policy`: the IAM policy Step Functions would generate for a definition; the
//! template's StockTrading role grants exactly that for the stock-trading definition, and the
//! step driver only its own table and queue and the right to assume the machines' roles.

use serde_json::{json, Value};
use serde_yaml::Value as Yaml;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `stepwise policy ARGS...` and parses its output.
fn policy(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_stepwise"))
        .current_dir(repo())
        .arg("policy")
        .args(args)
        .output()
        .expect("run stepwise");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("a JSON policy")
}

fn policy_of(definition: &Value) -> Value {
    let path = std::env::temp_dir().join(format!("stepwise-policy-{}-{}.json", std::process::id(), rand_suffix()));
    std::fs::write(&path, definition.to_string()).expect("write");
    let p = policy(&[path.to_str().expect("UTF-8 path")]);
    let _ = std::fs::remove_file(&path);
    p
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

const DEFINITION: &str = "examples/stock-trading/definition.asl.json";

#[test]
fn the_stock_trading_policy_keeps_the_substitution_variables() {
    assert_eq!(
        policy(&[DEFINITION]),
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [
                "${CheckStockPriceFunctionArn}", "${GenerateBuySellRecommendationFunctionArn}",
                "${BuyStockFunctionArn}", "${SellStockFunctionArn}"]},
            {"Effect": "Allow", "Action": ["sqs:SendMessage*"], "Resource": ["${RequestHumanApprovalQueueUrl}"]},
            {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": ["${ReportResultTopicArn}"]},
        ]})
    );
}

#[test]
fn bindings_give_the_resources_arns() {
    let p = policy(&[DEFINITION, "--bindings", "examples/stock-trading/bindings.json"]);
    assert_eq!(
        p["Statement"],
        json!([
            {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [
                "arn:aws:lambda:us-east-1:123456789012:function:CheckStockPrice",
                "arn:aws:lambda:us-east-1:123456789012:function:GenerateBuySellRecommendation",
                "arn:aws:lambda:us-east-1:123456789012:function:BuyStock",
                "arn:aws:lambda:us-east-1:123456789012:function:SellStock"]},
            {"Effect": "Allow", "Action": ["sqs:SendMessage*"], "Resource": ["arn:aws:sqs:us-east-1:123456789012:RequestHumanApprovalQueue"]},
            {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": ["arn:aws:sns:us-east-1:123456789012:ReportResultTopic"]},
        ])
    );
}

#[test]
fn the_samples_published_definition_gets_the_samples_published_grants() {
    // AWS's sample as the documentation shows it (literal ARNs, us-west-1) and its IAM examples.
    let definition = json!({"StartAt": "Check Stock Price", "States": {
        "Check Stock Price": {"Type": "Task", "Resource": "arn:aws:lambda:us-west-1:111122223333:function:StepFunctionsSample-HelloLam-CheckStockPriceLambda-444455556666", "Next": "Generate Buy/Sell recommendation"},
        "Generate Buy/Sell recommendation": {"Type": "Task", "Resource": "arn:aws:lambda:us-west-1:111122223333:function:StepFunctionsSample-Hello-GenerateBuySellRecommend-123456789012", "ResultPath": "$.recommended_type", "Next": "Request Human Approval"},
        "Request Human Approval": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "Parameters": {
            "QueueUrl": "https://sqs.us-west-1.amazonaws.com/111122223333/StepFunctionsSample-HelloLambda4444-5555-6666-RequestHumanApprovalSqs-777788889999",
            "MessageBody": {"Input.$": "$", "TaskToken.$": "$$.Task.Token"}}, "ResultPath": null, "Next": "Buy or Sell?"},
        "Buy or Sell?": {"Type": "Choice", "Choices": [
            {"Variable": "$.recommended_type", "StringEquals": "buy", "Next": "Buy Stock"},
            {"Variable": "$.recommended_type", "StringEquals": "sell", "Next": "Sell Stock"}]},
        "Buy Stock": {"Type": "Task", "Resource": "arn:aws:lambda:us-west-1:111122223333:function:StepFunctionsSample-HelloLambda-BuyStockLambda-000000000000", "Next": "Report Result"},
        "Sell Stock": {"Type": "Task", "Resource": "arn:aws:lambda:us-west-1:111122223333:function:StepFunctionsSample-HelloLambda-SellStockLambda-111111111111", "Next": "Report Result"},
        "Report Result": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "Parameters": {
            "TopicArn": "arn:aws:sns:us-west-1:111122223333:StepFunctionsSample-HelloLambda1111-2222-3333-ReportResultSnsTopic-222222222222",
            "Message": {"Input.$": "$"}}, "End": true}}});
    let p = policy_of(&definition);
    assert_eq!(
        p["Statement"],
        json!([
            {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [
                "arn:aws:lambda:us-west-1:111122223333:function:StepFunctionsSample-HelloLam-CheckStockPriceLambda-444455556666",
                "arn:aws:lambda:us-west-1:111122223333:function:StepFunctionsSample-Hello-GenerateBuySellRecommend-123456789012",
                "arn:aws:lambda:us-west-1:111122223333:function:StepFunctionsSample-HelloLambda-BuyStockLambda-000000000000",
                "arn:aws:lambda:us-west-1:111122223333:function:StepFunctionsSample-HelloLambda-SellStockLambda-111111111111"]},
            {"Effect": "Allow", "Action": ["sqs:SendMessage*"], "Resource": [
                "arn:aws:sqs:us-west-1:111122223333:StepFunctionsSample-HelloLambda4444-5555-6666-RequestHumanApprovalSqs-777788889999"]},
            {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": [
                "arn:aws:sns:us-west-1:111122223333:StepFunctionsSample-HelloLambda1111-2222-3333-ReportResultSnsTopic-222222222222"]},
        ])
    );
}

#[test]
fn optimized_lambda_invoke_grants_the_function_and_its_versions() {
    let definition = json!({"StartAt": "CallLambda", "States": {
        "CallLambda": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:MyFunction"}, "Next": "Review"},
        "Review": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "get-model-review-decision", "Payload": {"token.$": "$$.Task.Token"}, "Qualifier": "prod-v1"}, "Next": "Echo"},
        "Echo": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:echo", "InvocationType": "Event"}, "End": true}}});
    let p = policy_of(&definition);
    assert_eq!(
        p["Statement"],
        json!([{"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": [
            "arn:aws:lambda:us-east-1:123456789012:function:MyFunction",
            "arn:aws:lambda:us-east-1:123456789012:function:MyFunction:*",
            "arn:aws:lambda:*:*:function:get-model-review-decision",
            "arn:aws:lambda:*:*:function:get-model-review-decision:*",
            "arn:aws:lambda:us-east-1:123456789012:function:echo",
            "arn:aws:lambda:us-east-1:123456789012:function:echo:*"]}])
    );
}

// ---------- the template ----------

/// A CloudFormation short-form intrinsic (`!Ref X`, `!GetAtt X.Y`, `!Sub ...`): its name and
/// argument.
fn intrinsic(v: &Yaml) -> Option<(String, &Yaml)> {
    match v {
        Yaml::Tagged(t) => Some((t.tag.to_string().trim_start_matches('!').to_string(), &t.value)),
        _ => None,
    }
}

/// The logical id a `!Ref X` or `!GetAtt X.Attr` names, with the attribute (`Ref` for a Ref).
fn referenced(v: &Yaml) -> (String, String) {
    match intrinsic(v) {
        Some((name, Yaml::String(arg))) if name == "Ref" => (arg.clone(), "Ref".into()),
        Some((name, Yaml::String(arg))) if name == "GetAtt" => {
            let (id, attr) = arg.split_once('.').expect("X.Attr");
            (id.into(), attr.into())
        }
        other => panic!("expected !Ref or !GetAtt, got {other:?}"),
    }
}

fn template() -> Yaml {
    let text = std::fs::read_to_string(repo().join("template.yaml")).expect("template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

/// What each SAM policy template grants (`samtranslator`'s policy_templates.json).
fn policy_template_actions(name: &str) -> Vec<&'static str> {
    match name {
        "LambdaInvokePolicy" => vec!["lambda:InvokeFunction"],
        "SQSSendMessagePolicy" => vec!["sqs:SendMessage*"],
        "SNSPublishMessagePolicy" => vec!["sns:Publish"],
        "DynamoDBCrudPolicy" => vec![
            "dynamodb:GetItem",
            "dynamodb:DeleteItem",
            "dynamodb:PutItem",
            "dynamodb:Scan",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:BatchGetItem",
            "dynamodb:DescribeTable",
            "dynamodb:ConditionCheckItem",
        ],
        other => panic!("policy template {other} is not expected on the step driver"),
    }
}

#[test]
fn the_policy_template_actions_are_sams() {
    // Checked against the SAM translator when the project's venv has it (scripts/test.sh
    // installs it).
    let Ok(dirs) = std::fs::read_dir(repo().join(".venv/lib")) else { return };
    for d in dirs.flatten() {
        let f = d.path().join("site-packages/samtranslator/policy_templates_data/policy_templates.json");
        let Ok(text) = std::fs::read_to_string(&f) else { continue };
        let templates: Value = serde_json::from_str(&text).expect("JSON");
        for name in ["LambdaInvokePolicy", "SQSSendMessagePolicy", "SNSPublishMessagePolicy", "DynamoDBCrudPolicy"] {
            let statements = templates["Templates"][name]["Definition"]["Statement"].as_array().expect("statements");
            let actions: Vec<&str> = statements
                .iter()
                .flat_map(|s| s["Action"].as_array().into_iter().flatten().filter_map(Value::as_str))
                .collect();
            assert_eq!(actions, policy_template_actions(name), "{name}");
        }
    }
}

/// The sample's state machine role in the template grants exactly what `stepwise policy`
/// prints for the example's definition: the same statements and actions, each variable's
/// resource as the definition binds it (a function's ARN, the queue the URL names, the topic).
#[test]
fn the_sample_machine_role_grants_exactly_what_stepwise_policy_prints() {
    let t = template();
    let resources = &t["Resources"];
    let resource_type =
        |id: &str| resources[id]["Type"].as_str().unwrap_or_else(|| panic!("no resource {id}")).to_string();

    // The definition the start function registers: the example's, with its variables bound by
    // Fn::Sub to the template's resources, run as StockTradingRole.
    let vars = &resources["StartExecutionFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(referenced(&vars["STEPWISE_MACHINE_ROLE_ARN"]), ("StockTradingRole".into(), "Arn".into()));
    let (name, arg) = intrinsic(&vars["STEPWISE_MACHINE_DEFINITION"]).expect("!Sub");
    assert_eq!(name, "Sub");
    let Yaml::Sequence(parts) = arg else { panic!("!Sub [text, variables]") };
    let text = parts[0].as_str().expect("the definition text");
    let in_template: Value = serde_json::from_str(text).expect("the definition is JSON");
    let example: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join(DEFINITION)).expect("definition")).expect("JSON");
    assert_eq!(in_template, example, "the template's definition is examples/stock-trading's");
    let Yaml::Mapping(bindings) = &parts[1] else { panic!("variables") };
    let bound = |name: &str| -> (String, String) {
        referenced(bindings.get(name).unwrap_or_else(|| panic!("${{{name}}} is not bound in the template")))
    };

    // `stepwise policy` on the example: each statement's action and the logical ids of its
    // resources, a variable's as bound, named as an IAM policy names that resource.
    let printed = policy(&[DEFINITION]);
    let mut wanted = Vec::new();
    for s in printed["Statement"].as_array().expect("statements") {
        assert_eq!(s["Effect"], "Allow");
        let actions: Vec<String> =
            s["Action"].as_array().expect("actions").iter().map(|a| a.as_str().expect("action").to_string()).collect();
        let mut ids = Vec::new();
        for r in s["Resource"].as_array().expect("resources") {
            let r = r.as_str().expect("string");
            let name = r.strip_prefix("${").and_then(|r| r.split_once('}')).map(|(n, _)| n).expect("a variable");
            let (id, attr) = bound(name);
            // The variable stands for what the definition uses it as; the role names the same
            // resource by its ARN (a queue's Ref is its URL, so the role uses its Arn).
            let (want_type, want_attr, role_attr) = match actions[0].as_str() {
                "lambda:InvokeFunction" => ("AWS::Serverless::Function", "Arn", "Arn"),
                "sqs:SendMessage*" => ("AWS::SQS::Queue", "Ref", "Arn"),
                "sns:Publish" => ("AWS::SNS::Topic", "Ref", "Ref"), // a topic's Ref is its ARN
                other => panic!("unexpected action {other}"),
            };
            assert_eq!((resource_type(&id).as_str(), attr.as_str()), (want_type, want_attr), "${{{name}}}");
            ids.push((id, role_attr.to_string()));
        }
        wanted.push((actions, ids));
    }
    assert_eq!(wanted.iter().map(|(_, ids)| ids.len()).sum::<usize>(), 6, "{wanted:?}");

    // The role's one inline policy: the same statements.
    let role = &resources["StockTradingRole"];
    assert_eq!(role["Type"].as_str(), Some("AWS::IAM::Role"));
    let props = &role["Properties"];
    let policies = props["Policies"].as_sequence().expect("Policies");
    assert_eq!(policies.len(), 1);
    let doc = &policies[0]["PolicyDocument"];
    let mut granted = Vec::new();
    for s in doc["Statement"].as_sequence().expect("statements") {
        assert_eq!(s["Effect"].as_str(), Some("Allow"));
        let actions: Vec<String> =
            s["Action"].as_sequence().expect("actions").iter().map(|a| a.as_str().expect("action").into()).collect();
        let ids: Vec<(String, String)> =
            s["Resource"].as_sequence().expect("resources").iter().map(referenced).collect();
        granted.push((actions, ids));
    }
    assert_eq!(granted, wanted, "StockTradingRole's policy is `stepwise policy {DEFINITION}`");

    // Assumable only by the step driver, for this one machine, and under the path the driver
    // may assume.
    assert_eq!(props["Path"].as_str(), Some("/stepwise/"));
    let trust = &props["AssumeRolePolicyDocument"]["Statement"];
    let trust = trust.as_sequence().expect("trust statements");
    assert_eq!(trust.len(), 1);
    assert_eq!(trust[0]["Action"].as_str(), Some("sts:AssumeRole"));
    assert_eq!(referenced(&trust[0]["Principal"]["AWS"]), ("StepDriverFunctionRole".into(), "Arn".into()));
    let (name, machine) = intrinsic(&trust[0]["Condition"]["StringEquals"]["sts:ExternalId"]).expect("!Sub");
    assert_eq!(name, "Sub");
    assert!(machine.as_str().is_some_and(|m| m.ends_with(":stateMachine:StockTrading")), "{machine:?}");
}

/// The step driver's own policy is its table and queue and the machines' roles (under the path
/// /stepwise/): nothing a definition calls.
#[test]
fn the_step_driver_may_use_its_table_its_queue_and_the_machines_roles() {
    let t = template();
    let driver = &t["Resources"]["StepDriverFunction"]["Properties"];
    let mut granted = BTreeSet::new();
    for p in driver["Policies"].as_sequence().expect("a list of policies") {
        let Yaml::Mapping(m) = p else { panic!("a policy template or statements, got {p:?}") };
        assert_eq!(m.len(), 1);
        let (name, params) = m.iter().next().expect("one");
        let name = name.as_str().expect("template name");
        if name == "Statement" {
            for s in params.as_sequence().expect("statements") {
                assert_eq!(s["Effect"].as_str(), Some("Allow"));
                let action = s["Action"].as_str().expect("one action").to_string();
                let resource = match intrinsic(&s["Resource"]) {
                    Some((n, Yaml::String(text))) if n == "Sub" => text.clone(),
                    _ => referenced(&s["Resource"]).0,
                };
                granted.insert((action, resource));
            }
            continue;
        }
        let Yaml::Mapping(params) = params else { panic!("{name} parameters") };
        let (_, value) = params.iter().next().expect("one");
        let (id, _) = referenced(value);
        for action in policy_template_actions(name) {
            granted.insert((action.to_string(), id.clone()));
        }
    }
    let mut expected = BTreeSet::new();
    for action in policy_template_actions("DynamoDBCrudPolicy") {
        expected.insert((action.to_string(), "Table".into()));
    }
    expected.insert(("sqs:SendMessage*".into(), "StepQueue".into()));
    expected.insert(("sqs:ChangeMessageVisibility".into(), "StepQueue".into()));
    expected.insert(("sts:AssumeRole".into(), "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/stepwise/*".into()));
    assert_eq!(granted, expected);

    // The step driver consumes the step queue the others send to.
    let steps = &driver["Events"]["Steps"]["Properties"];
    assert_eq!(referenced(&steps["Queue"]), ("StepQueue".into(), "Arn".into()));
}

/// Every dead-letter queue of the stack has an alarm on its visible messages, and the step
/// driver has one on its errors.
#[test]
fn dead_letter_queues_and_the_step_driver_have_alarms() {
    let t = template();
    let Yaml::Mapping(resources) = &t["Resources"] else { panic!("Resources") };
    let watched: Vec<(String, String)> = resources
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .map(|r| {
            let dims = r["Properties"]["Dimensions"].as_sequence().expect("dimensions");
            let (id, _) = referenced(&dims[0]["Value"]);
            (r["Properties"]["MetricName"].as_str().unwrap_or_default().to_string(), id)
        })
        .collect();
    let dead_letters: Vec<String> = resources
        .values()
        .filter_map(|r| r["Properties"]["RedrivePolicy"].get("deadLetterTargetArn"))
        .map(|arn| referenced(arn).0)
        .collect();
    assert!(dead_letters.len() >= 3, "{dead_letters:?}");
    for q in &dead_letters {
        assert!(
            watched.contains(&("ApproximateNumberOfMessagesVisible".into(), q.clone())),
            "no alarm on {q}: {watched:?}"
        );
    }
    assert!(watched.contains(&("Errors".into(), "StepDriverFunction".into())), "{watched:?}");
}
