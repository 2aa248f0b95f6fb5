//! `template.yaml` deploys these binaries as their handlers expect: one function per binary,
//! the event sources and routes the handlers serve, queues sized for their consumers.

mod common;

use common::*;
use serde_json::json;
use serde_yaml::Value as Yaml;
use std::collections::BTreeSet;
use stepwise_lambdas::{api_function, start_execution_http};

fn template() -> Yaml {
    let text = std::fs::read_to_string(repo().join("template.yaml")).expect("template.yaml");
    serde_yaml::from_str(&text).expect("YAML")
}

/// `!Ref X` / `!GetAtt X.Attr` → (X, Attr or "Ref").
fn referenced(v: &Yaml) -> (String, String) {
    let Yaml::Tagged(t) = v else { panic!("expected an intrinsic, got {v:?}") };
    let arg = t.value.as_str().expect("a string argument");
    match t.tag.to_string().trim_start_matches('!') {
        "Ref" => (arg.to_string(), "Ref".into()),
        "GetAtt" => {
            let (id, attr) = arg.split_once('.').expect("X.Attr");
            (id.into(), attr.into())
        }
        other => panic!("unexpected intrinsic {other}"),
    }
}

/// The `[[bin]]` names of this crate.
fn binaries() -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo().join("crates/lambdas/Cargo.toml")).expect("Cargo.toml");
    let mut out = BTreeSet::new();
    let mut in_bin = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if let (true, Some(name)) = (in_bin, line.strip_prefix("name = ")) {
            out.insert(name.trim_matches('"').to_string());
        }
    }
    out
}

fn functions(t: &Yaml) -> Vec<(String, &Yaml)> {
    t["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(k, r)| (k.as_str().expect("id").to_string(), r))
        .collect()
}

fn function_with_binary<'a>(t: &'a Yaml, binary: &str) -> &'a Yaml {
    functions(t)
        .into_iter()
        .find(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
        .unwrap_or_else(|| panic!("no function builds {binary}"))
        .1
}

#[test]
fn every_binary_is_a_function_built_with_cargo_lambda() {
    let t = template();
    assert_eq!(t["Transform"].as_str(), Some("AWS::Serverless-2016-10-31"));
    let mut built = BTreeSet::new();
    for (id, f) in functions(&t) {
        let p = &f["Properties"];
        assert_eq!(f["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"), "{id}");
        assert_eq!(p["Runtime"].as_str(), Some("provided.al2023"), "{id}");
        assert_eq!(p["Handler"].as_str(), Some("bootstrap"), "{id}");
        // arm64 by default, x86_64 where the build machine lacks the aarch64 target.
        assert_eq!(p["Architectures"], serde_yaml::from_str::<Yaml>("[!Ref Architecture]").expect("YAML"), "{id}");
        assert_eq!(p["LoggingConfig"]["LogFormat"].as_str(), Some("JSON"), "{id}");
        assert!(built.insert(f["Metadata"]["BuildProperties"]["Binary"].as_str().expect("Binary").to_string()), "{id}");
    }
    assert_eq!(built, binaries());
    let arch = &t["Parameters"]["Architecture"];
    assert_eq!(arch["Default"].as_str(), Some("arm64"));
    assert_eq!(arch["AllowedValues"], serde_yaml::from_str::<Yaml>("[arm64, x86_64]").expect("YAML"));
}

#[test]
fn queue_consumers_report_partial_failures_and_queues_outlast_them() {
    let t = template();
    let resources = &t["Resources"];
    for (binary, queue) in [
        ("step-driver", "StepQueue"),
        ("approval-callback", "RequestHumanApprovalQueue"),
        ("start-execution", "StartQueue"),
    ] {
        let f = function_with_binary(&t, binary);
        let sqs: Vec<&Yaml> = f["Properties"]["Events"]
            .as_mapping()
            .expect("Events")
            .values()
            .filter(|e| e["Type"].as_str() == Some("SQS"))
            .collect();
        assert_eq!(sqs.len(), 1, "{binary}");
        let props = &sqs[0]["Properties"];
        assert_eq!(referenced(&props["Queue"]), (queue.to_string(), "Arn".to_string()), "{binary}");
        assert_eq!(props["BatchSize"].as_u64(), Some(10), "{binary}");
        assert_eq!(props["FunctionResponseTypes"][0].as_str(), Some("ReportBatchItemFailures"), "{binary}");
        let q = &resources[queue]["Properties"];
        let timeout = f["Properties"]["Timeout"].as_u64().expect("Timeout");
        assert!(q["VisibilityTimeout"].as_u64().expect("VisibilityTimeout") >= 6 * timeout, "{queue}");
        assert_eq!(q["RedrivePolicy"]["maxReceiveCount"].as_u64(), Some(5), "{queue}");
        let (dlq, attr) = referenced(&q["RedrivePolicy"]["deadLetterTargetArn"]);
        assert_eq!(
            (resources[dlq.as_str()]["Type"].as_str(), attr.as_str()),
            (Some("AWS::SQS::Queue"), "Arn"),
            "{queue}"
        );
        // The functions that use the runtime know its table and step queue.
        let vars = &f["Properties"]["Environment"]["Variables"];
        assert_eq!(referenced(&vars["STEPWISE_TABLE"]).0, "Table");
        assert_eq!(referenced(&vars["STEPWISE_STEP_QUEUE_URL"]), ("StepQueue".to_string(), "Ref".to_string()));
    }
    let table = &resources["Table"]["Properties"];
    assert_eq!(table["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    assert_eq!(table["TimeToLiveSpecification"]["AttributeName"].as_str(), Some("ttl"));
    assert_eq!(table["GlobalSecondaryIndexes"][0]["IndexName"].as_str(), Some("gsi1"));
    let keys: Vec<&str> =
        table["KeySchema"].as_sequence().expect("keys").iter().filter_map(|k| k["AttributeName"].as_str()).collect();
    assert_eq!(keys, ["pk", "sk"]);
}

/// The HTTP API routes of the function building `binary`: `(method, path)`.
fn routes(t: &Yaml, binary: &str) -> Vec<(String, String)> {
    function_with_binary(t, binary)["Properties"]["Events"]
        .as_mapping()
        .expect("Events")
        .values()
        .filter(|e| e["Type"].as_str() == Some("HttpApi"))
        .map(|e| {
            assert_eq!(referenced(&e["Properties"]["ApiId"]).0, "HttpApi");
            (
                e["Properties"]["Method"].as_str().expect("Method").into(),
                e["Properties"]["Path"].as_str().expect("Path").into(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_http_route_reaches_an_operation_of_its_handler() {
    let t = template();
    assert_eq!(t["Resources"]["HttpApi"]["Properties"]["Auth"]["DefaultAuthorizer"].as_str(), Some("AWS_IAM"));
    let (rt, _e) = runtime_with_machine().await;

    let completer = routes(&t, "api");
    assert_eq!(completer.len(), 4, "{completer:?}");
    for (method, path) in completer {
        assert_eq!(method, "POST");
        // A token nobody issued: the route reached SendTask* (TaskDoesNotExist), not a 404.
        let mut v = event_json("apigw-send-task-success.json");
        v["rawPath"] = json!(path);
        v["requestContext"]["http"]["path"] = json!(path);
        if path == "/" {
            v["headers"]["x-amz-target"] = json!("AWSStepFunctions.SendTaskHeartbeat");
        }
        let resp = api_function(&rt, lambda_http::request::from_str(&v.to_string()).expect("request")).await;
        assert_eq!(resp.status(), 400, "{path}");
        let lambda_http::Body::Text(body) = resp.body() else { panic!("a text body") };
        assert!(body.contains("TaskDoesNotExist"), "{path}: {body}");
    }

    let start = routes(&t, "start-execution");
    assert_eq!(start, [("POST".to_string(), "/executions".to_string())]);
    let mut v = event_json("apigw-start-execution.json");
    v["rawPath"] = json!(start[0].1);
    let resp = start_execution_http(&rt, lambda_http::request::from_str(&v.to_string()).expect("request")).await;
    assert_eq!(resp.status(), 200);
}

#[test]
fn the_start_function_registers_the_example_machine() {
    let t = template();
    let vars = &function_with_binary(&t, "start-execution")["Properties"]["Environment"]["Variables"];
    assert_eq!(vars["STEPWISE_MACHINE_NAME"].as_str(), Some("StockTrading"));
    let Yaml::Tagged(sub) = &vars["STEPWISE_MACHINE_DEFINITION"] else { panic!("!Sub") };
    let text = sub.value[0].as_str().expect("definition text");
    let in_template: serde_json::Value = serde_json::from_str(text).expect("JSON");
    let example: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("examples/stock-trading/definition.asl.json")).expect("definition"),
    )
    .expect("JSON");
    assert_eq!(in_template, example);
    // Every ${Name} of the definition is bound (and only those).
    let bindings: BTreeSet<String> =
        sub.value[1].as_mapping().expect("variables").keys().map(|k| k.as_str().expect("name").to_string()).collect();
    let bound_locally: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(repo().join("examples/stock-trading/bindings.json")).expect("bindings"),
    )
    .expect("JSON");
    assert_eq!(bindings, bound_locally.keys().cloned().collect::<BTreeSet<_>>());
    // Lambda's environment is at most 4 KB; the ARNs CloudFormation substitutes are longer than
    // the variables, so keep a margin.
    let size: usize = vars
        .as_mapping()
        .expect("vars")
        .iter()
        .map(|(k, v)| k.as_str().map_or(0, str::len) + v.as_str().map_or(0, str::len))
        .sum::<usize>()
        + text.len();
    assert!(size < 2800, "{size} bytes of environment before substitution");
}
