//! Role credentials: every Task call of an execution is made as its state machine's role
//! ([`Identity`]: the role, in an STS session named after the execution), and a Task's
//! `Credentials.RoleArn` is assumed from that identity (role chaining, as Step Functions does).
//!
//! Credentials come from STS `AssumeRole`, sent through the same model-driven client as every
//! other call (so refusals carry STS's own code and message), and are kept per role, session
//! and source identity until five minutes before they expire: one cache per client, which is
//! one per warm step driver. A driver working many executions holds one entry per execution it
//! recently served; expired entries are dropped as new ones arrive.
//!
//! When identities are assumed ([`AssumeIdentities`]): on AWS always (a role the driver cannot
//! assume fails the task); locally only when an STS endpoint is configured (`AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_STS`, or the client's own endpoint), and only while that endpoint offers
//! STS: an endpoint that does not (a 404, an unknown action, no answer) is remembered and calls
//! go on with the configured credentials, as before there were roles.

use crate::client::{Error, SdkClient};
use aws_credential_types::Credentials;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};
use stepwise_asl::integrations::aws::Identity;
use tokio::sync::Mutex;

/// Credentials are renewed this long before they expire.
const RENEW_BEFORE: Duration = Duration::from_secs(300);
/// How long assumed credentials last (STS's default; the least a role's maximum can be).
const SESSION_SECONDS: u64 = 3600;
/// Past this many cached sessions, expired ones are dropped on the next insert.
const PRUNE_ABOVE: usize = 1024;

/// When an execution's identity is assumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AssumeIdentities {
    /// Always: the step driver on AWS. A role that cannot be assumed fails the task.
    Always,
    /// When an STS endpoint is configured and offers STS (the local runtime).
    #[default]
    WhenStsConfigured,
    /// Never: calls are made with the configured credentials.
    Never,
}

/// What an STS session of an execution's identity covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sessions {
    /// One session per execution, named after it (as Step Functions names them): CloudTrail
    /// shows which execution made each call. One AssumeRole per execution and warm driver.
    #[default]
    PerExecution,
    /// One session per state machine, named after it, shared by its executions: one
    /// AssumeRole per role and warm driver an hour, for deployments whose start rate would
    /// crowd STS's request rate (`STEPWISE_ROLE_SESSIONS=machine`).
    PerMachine,
}

/// The cache of assumed credentials (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct Roles {
    /// By (role ARN, session name, access key id of the credentials that assumed it).
    sessions: Mutex<HashMap<(String, String, String), Credentials>>,
    /// The configured endpoint turned out not to offer STS.
    no_sts: AtomicBool,
}

/// Why a role was not assumed.
enum Refused {
    /// The endpoint does not offer STS (locally: go on without roles).
    NoSts(String),
    /// STS refused, or could not be reached on AWS.
    Denied(String),
}

impl SdkClient {
    /// The credentials a call is made with: the configured ones, as the execution's identity
    /// (when identities are assumed here), then as the Task's `Credentials.RoleArn` (`role`).
    pub(crate) async fn credentials_for(
        &self,
        identity: Option<&Identity>,
        role: Option<&str>,
    ) -> Result<Credentials, Error> {
        let mut creds = self.base_credentials().await?;
        if let Some(id) = identity {
            if let Some(assumed) = self.identity_credentials_from(&creds, id).await? {
                creds = assumed;
            }
        }
        if let Some(role) = role {
            let session = identity.map_or("stepwise", |i| i.session.as_str());
            creds = match self.assume(&creds, role, session, None).await {
                Ok(c) => c,
                Err(Refused::NoSts(m) | Refused::Denied(m)) => {
                    return Err(Error::Credentials(format!("could not assume the role {role}: {m}")))
                }
            };
        }
        Ok(creds)
    }

    /// The credentials of an execution's identity, for adapters that call a service through
    /// their own SDK client (Lambda): `None` when identities are not assumed here (locally
    /// without STS), so the adapter keeps its configured credentials.
    pub async fn identity_credentials(&self, identity: &Identity) -> Result<Option<Credentials>, Error> {
        let base = self.base_credentials().await?;
        self.identity_credentials_from(&base, identity).await
    }

    async fn identity_credentials_from(&self, base: &Credentials, id: &Identity) -> Result<Option<Credentials>, Error> {
        let mode = self.settings().assume_identities;
        let applies = match mode {
            AssumeIdentities::Always => true,
            AssumeIdentities::Never => false,
            AssumeIdentities::WhenStsConfigured => {
                self.sts_configured() && !self.roles().no_sts.load(Ordering::Relaxed)
            }
        };
        if !applies {
            return Ok(None);
        }
        let machine_session;
        let session = match self.settings().sessions {
            Sessions::PerExecution => id.session.as_str(),
            Sessions::PerMachine => {
                let name = id.source_arn.rsplit(':').next().unwrap_or_default();
                machine_session = Identity::of_execution(&id.role_arn, name, &id.source_arn).session;
                machine_session.as_str()
            }
        };
        match self.assume(base, &id.role_arn, session, Some(&id.source_arn)).await {
            Ok(c) => Ok(Some(c)),
            Err(Refused::NoSts(why)) if mode == AssumeIdentities::WhenStsConfigured => {
                if !self.roles().no_sts.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "the configured endpoint does not offer STS ({why}): Task calls are made with the \
                         configured credentials, not as each state machine's role"
                    );
                }
                Ok(None)
            }
            Err(Refused::NoSts(m) | Refused::Denied(m)) => {
                Err(Error::Credentials(format!("could not assume the state machine's role {}: {m}", id.role_arn)))
            }
        }
    }

    /// Whether STS calls go to a configured endpoint rather than AWS.
    fn sts_configured(&self) -> bool {
        self.endpoint_configured_for("sts")
    }

    /// `role`'s credentials in `session`, assumed with `base` (cached); `external_id` is
    /// AssumeRole's `ExternalId` (the state machine, for an execution's identity).
    async fn assume(
        &self,
        base: &Credentials,
        role: &str,
        session: &str,
        external_id: Option<&str>,
    ) -> Result<Credentials, Refused> {
        let key = (role.to_string(), session.to_string(), base.access_key_id().to_string());
        let mut sessions = self.roles().sessions.lock().await;
        if let Some(c) = sessions.get(&key) {
            if c.expiry().is_none_or(|t| t > SystemTime::now() + RENEW_BEFORE) {
                return Ok(c.clone());
            }
        }
        let mut input = json!({"RoleArn": role, "RoleSessionName": session, "DurationSeconds": SESSION_SECONDS});
        if let Some(id) = external_id.filter(|i| !i.is_empty()) {
            input["ExternalId"] = id.into();
        }
        let answer = self.call_with("sts", "assumeRole", &input, base.clone()).await;
        let creds = match answer {
            Ok(Ok((out, _))) => credentials_of(&out)
                .ok_or_else(|| Refused::Denied(format!("STS answered AssumeRole without credentials: {out}")))?,
            Ok(Err(r)) if r.status == 404 || r.status == 501 || r.code.contains("InvalidAction") => {
                return Err(Refused::NoSts(format!("AssumeRole answered {} {}", r.status, r.code)))
            }
            Ok(Err(r)) => {
                let id =
                    if r.request_id.is_empty() { String::new() } else { format!(", Request ID: {}", r.request_id) };
                return Err(Refused::Denied(format!(
                    "{} (Service: Sts, Status Code: {}{id})",
                    if r.message.is_empty() { &r.code } else { &r.message },
                    r.status
                )));
            }
            Err(Error::Transport(m)) => return Err(Refused::NoSts(m)),
            Err(e) => return Err(Refused::Denied(e.to_string())),
        };
        if sessions.len() >= PRUNE_ABOVE {
            let soon = SystemTime::now() + RENEW_BEFORE;
            sessions.retain(|_, c| c.expiry().is_none_or(|t| t > soon));
        }
        sessions.insert(key, creds.clone());
        Ok(creds)
    }
}

/// The credentials of an AssumeRole answer (Step Functions-named members).
fn credentials_of(out: &Value) -> Option<Credentials> {
    let c = out.get("Credentials")?;
    let text = |k: &str| c.get(k).and_then(Value::as_str).map(String::from);
    let expiry = text("Expiration")
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
        .and_then(|d| u64::try_from(d.timestamp()).ok())
        .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s));
    Some(Credentials::new(
        text("AccessKeyId")?,
        text("SecretAccessKey")?,
        text("SessionToken"),
        expiry,
        "sts-assume-role",
    ))
}
