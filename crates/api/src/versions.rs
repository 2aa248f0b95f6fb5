//! Versions, aliases, tags, RedriveExecution, and the logging, tracing and encryption
//! configurations, in the Step Functions API's shapes and with AWS's errors.

use crate::{check_arn, epoch_seconds, page, with_next, Api, ApiError, ApiResult, Body};
use serde_json::{json, Map, Value};
use stepwise_runtime::aws;
use stepwise_runtime::driver::versions::{alias_arn, version_arn};
use stepwise_runtime::ports::{Clock, Functions, Machine, MachineAlias, Queue, Store, Topics};

fn rejected(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad(code, message)
}

/// `loggingConfiguration`, checked as AWS checks it and with AWS's defaults filled in.
pub(crate) fn logging_config(v: &Value) -> Result<Value, ApiError> {
    let invalid = |m: &str| rejected("InvalidLoggingConfiguration", format!("Invalid Logging Configuration: {m}"));
    let o = v.as_object().ok_or_else(|| ApiError::serialization("'loggingConfiguration' must be an object"))?;
    let level = match o.get("level") {
        None | Some(Value::Null) => "OFF".to_string(),
        Some(Value::String(l)) if ["ALL", "ERROR", "FATAL", "OFF"].contains(&l.as_str()) => l.clone(),
        Some(other) => {
            let text = other.as_str().map(str::to_string).unwrap_or_else(|| other.to_string());
            return Err(ApiError::validation(aws::not_in_enum(
                "loggingConfiguration.level",
                &text,
                &["ALL", "ERROR", "FATAL", "OFF"],
            )));
        }
    };
    let include = match o.get("includeExecutionData") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::serialization("'includeExecutionData' must be a boolean")),
    };
    let destinations = match o.get("destinations") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(a.clone()),
        Some(_) => return Err(ApiError::serialization("'destinations' must be a list")),
    };
    let n = destinations.as_ref().map_or(0, Vec::len);
    if n > 1 || (level != "OFF" && n == 0) {
        return Err(invalid("Must specify exactly one Log Destination."));
    }
    for d in destinations.iter().flatten() {
        let arn = d.pointer("/cloudWatchLogsLogGroup/logGroupArn").and_then(Value::as_str).unwrap_or("");
        if !arn.starts_with("arn:") || !arn.contains(":log-group:") {
            return Err(invalid("Log Destination not found."));
        }
        if !arn.ends_with(":*") {
            return Err(invalid("Log Group ARN must be provided with '*' qualifier."));
        }
    }
    let mut out = Map::new();
    if let Some(d) = destinations {
        out.insert("destinations".into(), Value::Array(d));
    }
    out.insert("includeExecutionData".into(), include.into());
    out.insert("level".into(), level.into());
    Ok(Value::Object(out))
}

/// `tracingConfiguration`: `{"enabled": bool}`.
pub(crate) fn tracing_config(v: &Value) -> Result<Value, ApiError> {
    let o = v.as_object();
    let enabled = match o.and_then(|o| o.get("enabled")) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(rejected(
                "InvalidTracingConfiguration",
                "Invalid Tracing Configuration: enabled must be true or false",
            ))
        }
    };
    if o.is_some_and(|o| o.keys().any(|k| k != "enabled")) {
        return Err(rejected(
            "InvalidTracingConfiguration",
            "Invalid Tracing Configuration: the only key is 'enabled'",
        ));
    }
    Ok(json!({"enabled": enabled}))
}

/// `encryptionConfiguration`, checked as AWS documents it.
pub(crate) fn encryption_config(v: &Value) -> Result<Value, ApiError> {
    let invalid =
        |m: &str| rejected("InvalidEncryptionConfiguration", format!("Invalid Encryption Configuration: {m}"));
    let o = v.as_object().ok_or_else(|| ApiError::serialization("'encryptionConfiguration' must be an object"))?;
    let ty = o
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::validation(aws::null_member("encryptionConfiguration.type")))?;
    if !["AWS_OWNED_KEY", "CUSTOMER_MANAGED_KMS_KEY"].contains(&ty) {
        return Err(ApiError::validation(aws::not_in_enum(
            "encryptionConfiguration.type",
            ty,
            &["AWS_OWNED_KEY", "CUSTOMER_MANAGED_KMS_KEY"],
        )));
    }
    let key = o.get("kmsKeyId").and_then(Value::as_str);
    let period = o.get("kmsDataKeyReusePeriodSeconds").and_then(Value::as_i64);
    if ty == "CUSTOMER_MANAGED_KMS_KEY" && key.is_none_or(str::is_empty) {
        return Err(invalid("kmsKeyId is required with a CUSTOMER_MANAGED_KMS_KEY"));
    }
    if ty == "AWS_OWNED_KEY" && (key.is_some() || period.is_some()) {
        return Err(invalid("kmsKeyId and kmsDataKeyReusePeriodSeconds apply only to a CUSTOMER_MANAGED_KMS_KEY"));
    }
    if period.is_some_and(|p| !(60..=900).contains(&p)) {
        return Err(invalid("kmsDataKeyReusePeriodSeconds must be between 60 and 900"));
    }
    Ok(v.clone())
}

/// DescribeStateMachine's configuration fields of a machine (AWS's defaults when unset).
pub(crate) fn describe_settings(m: &Machine, d: &mut Value) {
    let s = &m.settings;
    d["loggingConfiguration"] =
        s.logging.clone().unwrap_or_else(|| json!({"level": "OFF", "includeExecutionData": false}));
    d["tracingConfiguration"] = s.tracing.clone().unwrap_or_else(|| json!({"enabled": false}));
    if let Some(e) = &s.encryption {
        d["encryptionConfiguration"] = e.clone();
    }
}

/// A `[{key, value}]` tag list.
pub(crate) fn tags_of(b: &Body, field: &str) -> Result<Vec<(String, String)>, ApiError> {
    let Some(list) = b.0.get(field).filter(|v| !v.is_null()) else { return Ok(Vec::new()) };
    let list = list.as_array().ok_or_else(|| ApiError::serialization(format!("'{field}' must be a list")))?;
    list.iter()
        .map(|t| {
            let k = t.get("key").and_then(Value::as_str).unwrap_or_default();
            let v = t.get("value").and_then(Value::as_str).unwrap_or_default();
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

fn tags_json(tags: &[(String, String)]) -> Value {
    Value::Array(tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect())
}

/// `routingConfiguration` as `(version ARN, weight)`.
fn routing_of(b: &Body) -> Result<Option<Vec<(String, i64)>>, ApiError> {
    let Some(list) = b.0.get("routingConfiguration").filter(|v| !v.is_null()) else { return Ok(None) };
    let list = list.as_array().ok_or_else(|| ApiError::serialization("'routingConfiguration' must be a list"))?;
    list.iter()
        .map(|r| {
            let arn = r.get("stateMachineVersionArn").and_then(Value::as_str).unwrap_or_default().to_string();
            let weight = r
                .get("weight")
                .and_then(Value::as_i64)
                .ok_or_else(|| ApiError::validation(aws::null_member("routingConfiguration.member.weight")))?;
            Ok((arn, weight))
        })
        .collect::<Result<Vec<_>, ApiError>>()
        .map(Some)
}

fn describe_alias(m: &Machine, a: &MachineAlias) -> Value {
    let mut d = json!({
        "stateMachineAliasArn": alias_arn(&m.arn, &a.name),
        "name": a.name,
        "routingConfiguration": a.routing.iter().map(|(n, w)| json!({"stateMachineVersionArn": version_arn(&m.arn, *n), "weight": w})).collect::<Vec<_>>(),
        "creationDate": epoch_seconds(a.created),
        "updateDate": epoch_seconds(a.updated),
    });
    if let Some(desc) = &a.description {
        d["description"] = desc.clone().into();
    }
    d
}

impl<S: Store, Q: Queue, T: Topics, F: Functions, C: Clock> Api<'_, S, Q, T, F, C> {
    /// The version, alias, tag and redrive operations; `None` for any other operation.
    pub(crate) async fn versions_call(&self, op: &str, b: &Body) -> Option<ApiResult> {
        Some(match op {
            "PublishStateMachineVersion" => self.publish(b).await,
            "ListStateMachineVersions" => self.list_versions(b).await,
            "DeleteStateMachineVersion" => self.delete_version(b).await,
            "CreateStateMachineAlias" => self.create_alias(b).await,
            "DescribeStateMachineAlias" => self.describe_alias(b).await,
            "UpdateStateMachineAlias" => self.update_alias(b).await,
            "DeleteStateMachineAlias" => self.delete_alias(b).await,
            "ListStateMachineAliases" => self.list_aliases(b).await,
            "TagResource" => self.tag(b).await,
            "UntagResource" => self.untag(b).await,
            "ListTagsForResource" => self.list_tags(b).await,
            "RedriveExecution" => self.redrive(b).await,
            _ => return None,
        })
    }

    async fn publish(&self, b: &Body) -> ApiResult {
        let arn = b.required("stateMachineArn")?;
        check_arn(&arn, &["stateMachine"])?;
        let v = self.rt.publish_version(&arn, b.string("revisionId")?.as_deref(), b.string("description")?).await?;
        let (base, _) = stepwise_runtime::driver::versions::split_arn(&arn);
        Ok(json!({"stateMachineVersionArn": version_arn(&base, v.number), "creationDate": epoch_seconds(v.created)}))
    }

    /// Publishes the machine's current revision for CreateStateMachine/UpdateStateMachine
    /// with `publish`; refuses a `versionDescription` without it.
    pub(crate) async fn publish_on_request(&self, arn: &str, b: &Body) -> Result<Option<String>, ApiError> {
        let description = b.string("versionDescription")?;
        if !b.bool("publish", false)? {
            if description.is_some() {
                return Err(ApiError::validation("Version description can only be set when publish is true"));
            }
            return Ok(None);
        }
        let v = self.rt.publish_version(arn, None, description).await?;
        Ok(Some(version_arn(arn, v.number)))
    }

    async fn list_versions(&self, b: &Body) -> ApiResult {
        let arn = b.required("stateMachineArn")?;
        check_arn(&arn, &["stateMachine"])?;
        let (max, offset) = (b.max_results(100)?, b.offset()?);
        let versions = self.rt.list_versions(&arn).await?;
        let (items, next) = page(versions, offset, max);
        let items: Vec<Value> = items
            .iter()
            .map(|(a, t)| json!({"stateMachineVersionArn": a, "creationDate": epoch_seconds(*t)}))
            .collect();
        Ok(with_next(json!({"stateMachineVersions": items}), next))
    }

    async fn delete_version(&self, b: &Body) -> ApiResult {
        let arn = b.required("stateMachineVersionArn")?;
        check_arn(&arn, &["stateMachine"])?;
        self.rt.delete_version(&arn).await?;
        Ok(json!({}))
    }

    async fn create_alias(&self, b: &Body) -> ApiResult {
        let name = b.required("name")?;
        let routing = routing_of(b)?.ok_or_else(|| ApiError::validation(aws::null_member("routingConfiguration")))?;
        // The machine is the one the first routed version belongs to.
        let hint = routing.first().map(|(a, _)| a.clone()).unwrap_or_default();
        let a = self.rt.create_alias(&hint, &name, b.string("description")?, &routing).await?;
        let (base, _) = stepwise_runtime::driver::versions::split_arn(&hint);
        Ok(json!({"stateMachineAliasArn": alias_arn(&base, &a.name), "creationDate": epoch_seconds(a.created)}))
    }

    async fn describe_alias(&self, b: &Body) -> ApiResult {
        let arn = b.required("stateMachineAliasArn")?;
        check_arn(&arn, &["stateMachine"])?;
        let (m, a) = self.rt.alias(&arn).await?;
        Ok(describe_alias(&m, &a))
    }

    async fn update_alias(&self, b: &Body) -> ApiResult {
        let arn = b.required("stateMachineAliasArn")?;
        check_arn(&arn, &["stateMachine"])?;
        let routing = routing_of(b)?;
        let a = self.rt.update_alias(&arn, b.string("description")?, routing.as_deref()).await?;
        Ok(json!({"updateDate": epoch_seconds(a.updated)}))
    }

    async fn delete_alias(&self, b: &Body) -> ApiResult {
        let arn = b.required("stateMachineAliasArn")?;
        check_arn(&arn, &["stateMachine"])?;
        self.rt.delete_alias(&arn).await?;
        Ok(json!({}))
    }

    async fn list_aliases(&self, b: &Body) -> ApiResult {
        let arn = b.required("stateMachineArn")?;
        check_arn(&arn, &["stateMachine"])?;
        let (max, offset) = (b.max_results(100)?, b.offset()?);
        let aliases = self.rt.list_aliases(&arn).await?;
        let (items, next) = page(aliases, offset, max);
        let items: Vec<Value> =
            items.iter().map(|(a, t)| json!({"stateMachineAliasArn": a, "creationDate": epoch_seconds(*t)})).collect();
        Ok(with_next(json!({"stateMachineAliases": items}), next))
    }

    fn resource_arn(b: &Body) -> Result<String, ApiError> {
        let arn = b.required("resourceArn")?;
        check_arn(&arn, &["stateMachine", "activity"])?;
        Ok(arn)
    }

    async fn tag(&self, b: &Body) -> ApiResult {
        let arn = Self::resource_arn(b)?;
        let tags = tags_of(b, "tags")?;
        self.rt.retag(&arn, &tags, &[]).await?;
        Ok(json!({}))
    }

    async fn untag(&self, b: &Body) -> ApiResult {
        let arn = Self::resource_arn(b)?;
        let keys: Vec<String> = match b.0.get("tagKeys") {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(String::from).collect(),
            None | Some(Value::Null) => return Err(ApiError::validation(aws::null_member("tagKeys"))),
            Some(_) => return Err(ApiError::serialization("'tagKeys' must be a list")),
        };
        self.rt.retag(&arn, &[], &keys).await?;
        Ok(json!({}))
    }

    async fn list_tags(&self, b: &Body) -> ApiResult {
        let arn = Self::resource_arn(b)?;
        Ok(json!({"tags": tags_json(&self.rt.tags(&arn).await?)}))
    }

    /// Tags given to CreateStateMachine or CreateActivity.
    pub(crate) async fn tag_on_create(&self, arn: &str, b: &Body) -> Result<(), ApiError> {
        let tags = tags_of(b, "tags")?;
        if !tags.is_empty() {
            self.rt.retag(arn, &tags, &[]).await?;
        }
        Ok(())
    }

    async fn redrive(&self, b: &Body) -> ApiResult {
        let arn = b.required("executionArn")?;
        check_arn(&arn, &["execution", "express"])?;
        let token = b.string("clientToken")?;
        if let Some(t) = &token {
            let at = |c: &str| {
                ApiError::validation(format!(
                    "1 validation error detected: Value '{t}' at 'clientToken' failed to satisfy constraint: {c}"
                ))
            };
            if t.is_empty() {
                return Err(at("Member must have length greater than or equal to 1"));
            }
            if t.len() > 64 {
                return Err(at("Member must have length less than or equal to 64"));
            }
            if !t.bytes().all(|c| (b'!'..=b'~').contains(&c)) {
                return Err(at("Member must satisfy regular expression pattern: [!-~]+"));
            }
        }
        let date = self.rt.redrive_execution(&arn, token.as_deref()).await?;
        Ok(json!({"redriveDate": epoch_seconds(date)}))
    }
}
