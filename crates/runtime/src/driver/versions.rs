//! Versions, aliases and tags of state machines, with AWS's rules and messages.
//!
//! A version is a revision (already kept for good by the store) with a number; an alias
//! routes starts to one or two versions by weight. Both live in the machine's record
//! ([`MachineSettings`]), so they need nothing of a store but what machines need, and a
//! deleted machine takes them with it. Qualified ARNs: `stateMachine:NAME:N` (a version),
//! `stateMachine:NAME:ALIAS` (an alias); executions always carry the base ARN, with the version
//! (and alias) they were started on beside it.

use super::Runtime;
use crate::ports::{Clock, Functions, Machine, MachineAlias, MachineVersion, Queue, Store, Topics};
use crate::{Error, Invalid, Missing};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// How many times a control-plane write is tried again when another writer changed the
/// machine first.
const CONFLICT_RETRIES: usize = 16;

/// The most versions a machine may have (AWS's quota).
pub const MAX_VERSIONS: usize = 1000;
/// The most aliases a machine may have (AWS's quota).
pub const MAX_ALIASES: usize = 100;
/// The most tags a resource may have.
pub const MAX_TAGS: usize = 50;

/// What a state machine ARN names: the machine, one of its versions, or one of its aliases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Qualifier {
    /// `stateMachine:NAME`.
    None,
    /// `stateMachine:NAME:N`.
    Version(u64),
    /// `stateMachine:NAME:ALIAS`.
    Alias(String),
}

/// Splits a state machine ARN into the machine's ARN and its qualifier.
pub fn split_arn(arn: &str) -> (String, Qualifier) {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() == 8 && parts[5] == "stateMachine" {
        let base = parts[..7].join(":");
        let q = parts[7];
        return match q.parse::<u64>() {
            Ok(n) => (base, Qualifier::Version(n)),
            Err(_) => (base, Qualifier::Alias(q.to_string())),
        };
    }
    (arn.to_string(), Qualifier::None)
}

/// A version's ARN.
pub fn version_arn(machine_arn: &str, n: u64) -> String {
    format!("{machine_arn}:{n}")
}

/// An alias's ARN.
pub fn alias_arn(machine_arn: &str, name: &str) -> String {
    format!("{machine_arn}:{name}")
}

/// `InvalidArn` for an ARN of another kind than the operation takes.
fn wrong_kind(arn: &str) -> Error {
    Error::invalid(Invalid::Arn, format!("Invalid Arn: 'Resource type not valid in this context: {arn}'"))
}

fn too_busy(arn: &str) -> Error {
    Error::storage(format!("updating state machine {arn}"), "too many concurrent updates")
}

fn no_resource(message: String) -> Error {
    Error::NotFound { what: Missing::Resource, message }
}

/// A state machine started on: the machine, the version it runs, the alias it came through.
#[derive(Debug, Clone)]
pub struct Target {
    /// The machine.
    pub machine: Arc<Machine>,
    /// The version (for a version or an alias).
    pub version: Option<MachineVersion>,
    /// The alias's ARN.
    pub alias_arn: Option<String>,
}

fn listed(given: &[(String, i64)]) -> String {
    given.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>().join(", ")
}

/// Checks tags' keys (1–128 characters) and values (0–256), AWS's messages.
pub fn check_tags(add: &[(String, String)]) -> Result<(), Error> {
    for (i, (k, v)) in add.iter().enumerate() {
        let at = |what: &str, field: &str, c: &str| {
            Error::validation(format!(
                "1 validation error detected: Value '{what}' at 'tags.{}.member.{field}' failed to satisfy constraint: {c}",
                i + 1
            ))
        };
        if k.is_empty() {
            return Err(at(k, "key", "Member must have length greater than or equal to 1"));
        }
        if k.chars().count() > 128 {
            return Err(at(k, "key", "Member must have length less than or equal to 128"));
        }
        if v.chars().count() > 256 {
            return Err(at(v, "value", "Member must have length less than or equal to 256"));
        }
    }
    Ok(())
}

/// `tags` with `add` merged in (a later value of a key wins) and `remove` dropped;
/// `TooManyTags` past [`MAX_TAGS`].
pub fn merge_tags(
    tags: &[(String, String)],
    add: &[(String, String)],
    remove: &[String],
    arn: &str,
) -> Result<Vec<(String, String)>, Error> {
    let mut out = tags.to_vec();
    for (k, v) in add {
        match out.iter_mut().find(|(tk, _)| tk == k) {
            Some(t) => t.1 = v.clone(),
            None => out.push((k.clone(), v.clone())),
        }
    }
    out.retain(|(k, _)| !remove.contains(k));
    if out.len() > MAX_TAGS {
        return Err(Error::Rejected {
            code: "TooManyTags",
            message: format!("Too many tags for resource '{arn}': at most {MAX_TAGS} are allowed"),
        });
    }
    Ok(out)
}

/// Checks a version description's length (0–256).
pub fn check_version_description(d: &Option<String>, field: &str) -> Result<(), Error> {
    check_description(d, field)
}

/// Checks an alias's routing as a list (AWS's order and messages): its length, distinct
/// versions, weights and their sum.
fn check_routing(given: &[(String, i64)]) -> Result<(), Error> {
    let list = || listed(given);
    if given.is_empty() {
        return Err(Error::validation("1 validation error detected: Value '[]' at 'routingConfiguration' failed to satisfy constraint: Member must have length greater than or equal to 1"));
    }
    if given.len() > 2 {
        let items: Vec<String> = given
            .iter()
            .map(|(a, w)| format!("RoutingConfigurationListItem(stateMachineVersionArn={a}, weight={w})"))
            .collect();
        return Err(Error::validation(format!(
            "1 validation error detected: Value '[{}]' at 'routingConfiguration' failed to satisfy constraint: Member must have length less than or equal to 2",
            items.join(", ")
        )));
    }
    if given.len() == 2 && given[0].0 == given[1].0 {
        return Err(Error::validation(format!(
            "Routing configuration must contain distinct state machine version ARNs. Received: [{}]",
            list()
        )));
    }
    for (i, (_, w)) in given.iter().enumerate() {
        if *w > 100 {
            return Err(Error::validation(format!("1 validation error detected: Value '{w}' at 'routingConfiguration.{}.member.weight' failed to satisfy constraint: Member must have value less than or equal to 100", i + 1)));
        }
        if *w < 0 {
            return Err(Error::validation(format!("1 validation error detected: Value '{w}' at 'routingConfiguration.{}.member.weight' failed to satisfy constraint: Member must have value greater than or equal to 0", i + 1)));
        }
    }
    let sum: i64 = given.iter().map(|(_, w)| w).sum();
    if sum != 100 {
        let weights: Vec<String> = given.iter().map(|(_, w)| w.to_string()).collect();
        return Err(Error::validation(format!(
            "Sum of routing configuration weights must equal 100. Received: [{}]",
            weights.join(", ")
        )));
    }
    Ok(())
}

/// An alias's routing as version numbers of `machine` (checked first).
fn routing(machine: &Machine, given: &[(String, i64)]) -> Result<Vec<(u64, u32)>, Error> {
    check_routing(given)?;
    let list = || listed(given);
    let mut out = Vec::new();
    for (arn, w) in given {
        let number = match split_arn(arn) {
            (base, Qualifier::Version(n)) if base == machine.arn => {
                machine.settings.versions.iter().find(|v| v.number == n).map(|v| v.number)
            }
            _ => None,
        };
        let Some(n) = number else {
            return Err(Error::validation(format!(
                "Routing configuration must contain state machine version ARNs. Received: [{}]",
                list()
            )));
        };
        out.push((n, *w as u32));
    }
    Ok(out)
}

/// The name rule of aliases (AWS's pattern and length).
fn check_alias_name(name: &str) -> Result<(), Error> {
    let pattern = r"^(?=.*[a-zA-Z_\-\.])[a-zA-Z0-9_\-\.]+$";
    let at =
        |c: &str| format!("1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: {c}");
    if name.is_empty() {
        return Err(Error::validation(at("Member must have length greater than or equal to 1")));
    }
    if name.chars().count() > 80 {
        return Err(Error::validation(at("Member must have length less than or equal to 80")));
    }
    let chars_ok = name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    let has_non_digit = name.chars().any(|c| !c.is_ascii_digit());
    if !chars_ok || !has_non_digit {
        return Err(Error::validation(at(&format!("Member must satisfy regular expression pattern: {pattern}"))));
    }
    Ok(())
}

fn check_description(d: &Option<String>, field: &str) -> Result<(), Error> {
    match d {
        Some(d) if d.chars().count() > 256 => Err(Error::validation(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to 256"
        ))),
        _ => Ok(()),
    }
}

impl<S: Store, Q: Queue, T: Topics, F: Functions, C: Clock> Runtime<S, Q, T, F, C> {
    /// Writes `m` over `prev` (as read); `false` when another writer changed it since (read
    /// again and retry).
    pub(crate) async fn replaced(&self, m: &Machine, prev: &Machine) -> Result<bool, Error> {
        match self.store.replace_machine(m, prev).await {
            Ok(()) => {
                self.forget_machine(&m.arn)?;
                Ok(true)
            }
            Err(Error::Conflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The machine behind a (possibly qualified) state machine ARN, with the version and alias
    /// it names; an alias picks one of its versions by weight.
    pub async fn target(&self, arn: &str) -> Result<Target, Error> {
        let (base, q) = split_arn(arn);
        let machine = self.store.get_machine(&base).await?.map(Arc::new);
        Self::resolve(arn, q, machine)
    }

    /// [`Runtime::target`] for StartExecution: the record may be one read within
    /// [`crate::Config::start_reuse`].
    pub(crate) async fn start_target(&self, arn: &str) -> Result<Target, Error> {
        let (base, q) = split_arn(arn);
        let machine = self.start_record(&base).await?;
        Self::resolve(arn, q, machine)
    }

    /// The target `q` names in `machine` (the record of `arn`'s unqualified ARN).
    fn resolve(arn: &str, q: Qualifier, machine: Option<Arc<Machine>>) -> Result<Target, Error> {
        let machine = machine.ok_or_else(|| Error::no_machine(arn))?;
        let find = |n: u64| machine.settings.versions.iter().find(|v| v.number == n).cloned();
        match q {
            Qualifier::None => Ok(Target { machine, version: None, alias_arn: None }),
            Qualifier::Version(n) => {
                let version = find(n).ok_or_else(|| Error::no_machine(arn))?;
                Ok(Target { machine, version: Some(version), alias_arn: None })
            }
            Qualifier::Alias(name) => {
                let alias =
                    machine.settings.aliases.iter().find(|a| a.name == name).ok_or_else(|| Error::no_machine(arn))?;
                let roll = (rand::random::<u32>() % 100) + 1;
                let mut acc = 0;
                let mut chosen = alias.routing.first().map(|r| r.0).unwrap_or(0);
                for (n, w) in &alias.routing {
                    acc += w;
                    if roll <= acc {
                        chosen = *n;
                        break;
                    }
                }
                let version = find(chosen).ok_or_else(|| Error::no_machine(arn))?;
                Ok(Target { machine, version: Some(version), alias_arn: Some(arn.to_string()) })
            }
        }
    }

    /// The machine as a version runs it: the version's revision, named by the version's ARN,
    /// created when the version was published.
    pub async fn version_machine(&self, arn: &str) -> Result<(Machine, MachineVersion), Error> {
        let t = self.target(arn).await?;
        let Some(v) = t.version.filter(|_| t.alias_arn.is_none()) else { return Err(Error::no_machine(arn)) };
        let rev = self
            .store
            .get_machine_revision(&t.machine.arn, &v.revision_id)
            .await?
            .ok_or_else(|| Error::no_machine(arn))?;
        // As published: the revision's configurations, not today's.
        let m = Machine { arn: arn.to_string(), created: v.created, ..rev };
        Ok((m, v))
    }

    /// PublishStateMachineVersion: a version of the current revision (the existing one when
    /// it was published already). `revision_id`, when given, must be the current revision.
    pub async fn publish_version(
        &self,
        arn: &str,
        revision_id: Option<&str>,
        description: Option<String>,
    ) -> Result<MachineVersion, Error> {
        let _writing = self.machine_writes.lock().await;
        check_description(&description, "description")?;
        let (base, q) = split_arn(arn);
        if q != Qualifier::None {
            return Err(Error::no_machine(arn));
        }
        for _attempt in 0..CONFLICT_RETRIES {
            let prev = self.store.get_machine(&base).await?.ok_or_else(|| Error::no_machine(arn))?;
            let mut m = prev.clone();
            if let Some(given) = revision_id {
                let current = if m.updated.is_some() { m.revision_id.as_str() } else { "INITIAL" };
                if given != current && given != m.revision_id {
                    return Err(Error::Rejected {
                        code: "ConflictException",
                        message: format!(
                            "Failed to publish the State Machine version for revision {given}. The current State Machine revision is {current}."
                        ),
                    });
                }
            }
            if let Some(v) = m.settings.versions.iter().find(|v| v.revision_id == m.revision_id) {
                return Ok(v.clone());
            }
            if m.settings.versions.len() >= MAX_VERSIONS {
                return Err(Error::Rejected {
                    code: "ServiceQuotaExceededException",
                    message: format!(
                        "The maximum number of versions ({MAX_VERSIONS}) of state machine '{arn}' is reached: delete unused versions"
                    ),
                });
            }
            m.settings.last_version += 1;
            let v = MachineVersion {
                number: m.settings.last_version,
                revision_id: m.revision_id.clone(),
                description: description.clone(),
                created: self.clock.now(),
            };
            m.settings.versions.push(v.clone());
            if !self.replaced(&m, &prev).await? {
                continue;
            }
            return Ok(v);
        }
        Err(too_busy(arn))
    }

    /// ListStateMachineVersions: newest first.
    pub async fn list_versions(&self, arn: &str) -> Result<Vec<(String, DateTime<Utc>)>, Error> {
        let m = self.store.get_machine(arn).await?.ok_or_else(|| Error::no_machine(arn))?;
        let mut out: Vec<(String, DateTime<Utc>)> =
            m.settings.versions.iter().map(|v| (version_arn(&m.arn, v.number), v.created)).collect();
        out.reverse();
        Ok(out)
    }

    /// DeleteStateMachineVersion: refused while an alias routes to it; deleting a version that
    /// does not exist is not an error.
    pub async fn delete_version(&self, arn: &str) -> Result<(), Error> {
        let _writing = self.machine_writes.lock().await;
        let (base, q) = split_arn(arn);
        let Qualifier::Version(n) = q else {
            return Err(wrong_kind(arn));
        };
        for _attempt in 0..CONFLICT_RETRIES {
            let Some(prev) = self.store.get_machine(&base).await? else { return Ok(()) };
            let mut m = prev.clone();
            let using: Vec<&str> = m
                .settings
                .aliases
                .iter()
                .filter(|a| a.routing.iter().any(|r| r.0 == n))
                .map(|a| a.name.as_str())
                .collect();
            if !using.is_empty() {
                return Err(Error::Rejected {
                    code: "ConflictException",
                    message: format!(
                        "Version to be deleted must not be referenced by an alias. Current list of aliases referencing this version: [{}]",
                        using.join(", ")
                    ),
                });
            }
            let before = m.settings.versions.len();
            m.settings.versions.retain(|v| v.number != n);
            if m.settings.versions.len() != before && !self.replaced(&m, &prev).await? {
                continue;
            }
            return Ok(());
        }
        Err(too_busy(arn))
    }

    /// CreateStateMachineAlias (the same request again answers the same alias).
    pub async fn create_alias(
        &self,
        machine_arn_hint: &str,
        name: &str,
        description: Option<String>,
        given: &[(String, i64)],
    ) -> Result<MachineAlias, Error> {
        let _writing = self.machine_writes.lock().await;
        check_alias_name(name)?;
        check_description(&description, "description")?;
        // The list is checked before the machine is looked up.
        check_routing(given)?;
        let (base, _) = split_arn(machine_arn_hint);
        for _attempt in 0..CONFLICT_RETRIES {
            let Some(prev) = self.store.get_machine(&base).await? else {
                return Err(Error::validation(format!(
                    "Routing configuration must contain state machine version ARNs. Received: [{}]",
                    listed(given)
                )));
            };
            let mut m = prev.clone();
            let routes = routing(&m, given)?;
            if let Some(a) = m.settings.aliases.iter().find(|a| a.name == name) {
                if a.routing == routes && a.description == description {
                    return Ok(a.clone());
                }
                return Err(Error::Rejected {
                    code: "ConflictException",
                    message: "Failed to create alias because an alias with the same name and a different routing configuration already exists.".into(),
                });
            }
            if m.settings.aliases.len() >= MAX_ALIASES {
                return Err(Error::Rejected {
                    code: "ServiceQuotaExceededException",
                    message: format!(
                        "The maximum number of aliases ({MAX_ALIASES}) of state machine '{}' is reached",
                        m.arn
                    ),
                });
            }
            let now = self.clock.now();
            let alias = MachineAlias {
                name: name.to_string(),
                description: description.clone(),
                routing: routes,
                created: now,
                updated: now,
            };
            m.settings.aliases.push(alias.clone());
            if !self.replaced(&m, &prev).await? {
                continue;
            }
            return Ok(alias);
        }
        Err(too_busy(&base))
    }

    /// An alias by its ARN, with its machine.
    pub async fn alias(&self, arn: &str) -> Result<(Machine, MachineAlias), Error> {
        let missing = || no_resource("Request references a resource that does not exist.".into());
        let (base, q) = split_arn(arn);
        let Qualifier::Alias(name) = q else { return Err(missing()) };
        let m = self.store.get_machine(&base).await?.ok_or_else(missing)?;
        let a = m.settings.aliases.iter().find(|a| a.name == name).cloned().ok_or_else(missing)?;
        Ok((m, a))
    }

    /// UpdateStateMachineAlias.
    pub async fn update_alias(
        &self,
        arn: &str,
        description: Option<String>,
        given: Option<&[(String, i64)]>,
    ) -> Result<MachineAlias, Error> {
        let _writing = self.machine_writes.lock().await;
        if description.is_none() && given.is_none() {
            return Err(Error::invalid(
                Invalid::MissingParameter,
                "Either the description or the RoutingConfiguration must be specified",
            ));
        }
        check_description(&description, "description")?;
        for _attempt in 0..CONFLICT_RETRIES {
            let (prev, _) = self.alias(arn).await?;
            let mut m = prev.clone();
            let routes = match given {
                Some(g) => Some(routing(&m, g)?),
                None => None,
            };
            let now = self.clock.now();
            let (_, q) = split_arn(arn);
            let Qualifier::Alias(name) = q else { return Err(no_resource(arn.into())) };
            let Some(a) = m.settings.aliases.iter_mut().find(|a| a.name == name) else {
                return Err(no_resource("Request references a resource that does not exist.".into()));
            };
            if let Some(r) = routes {
                a.routing = r;
            }
            if description.is_some() {
                a.description = description.clone();
            }
            a.updated = now;
            let out = a.clone();
            if !self.replaced(&m, &prev).await? {
                continue;
            }
            return Ok(out);
        }
        Err(too_busy(arn))
    }

    /// DeleteStateMachineAlias (an alias that does not exist is not an error).
    pub async fn delete_alias(&self, arn: &str) -> Result<(), Error> {
        let _writing = self.machine_writes.lock().await;
        let (base, q) = split_arn(arn);
        let Qualifier::Alias(name) = q else {
            return Err(wrong_kind(arn));
        };
        for _attempt in 0..CONFLICT_RETRIES {
            let Some(prev) = self.store.get_machine(&base).await? else { return Ok(()) };
            let mut m = prev.clone();
            let before = m.settings.aliases.len();
            m.settings.aliases.retain(|a| a.name != name);
            if m.settings.aliases.len() != before && !self.replaced(&m, &prev).await? {
                continue;
            }
            return Ok(());
        }
        Err(too_busy(arn))
    }

    /// ListStateMachineAliases: oldest first (as AWS answered when recorded); on a version's
    /// ARN, the aliases routing to it.
    pub async fn list_aliases(&self, arn: &str) -> Result<Vec<(String, DateTime<Utc>)>, Error> {
        let (base, q) = split_arn(arn);
        let m = self.store.get_machine(&base).await?.ok_or_else(|| Error::no_machine(arn))?;
        let only = match q {
            Qualifier::Version(n) => {
                if !m.settings.versions.iter().any(|v| v.number == n) {
                    return Err(Error::no_machine(arn));
                }
                Some(n)
            }
            Qualifier::Alias(_) => return Err(Error::no_machine(arn)),
            Qualifier::None => None,
        };
        Ok(m.settings
            .aliases
            .iter()
            .filter(|a| only.is_none_or(|n| a.routing.iter().any(|r| r.0 == n)))
            .map(|a| (alias_arn(&m.arn, &a.name), a.created))
            .collect())
    }

    /// Tags of a state machine or an activity (`ResourceNotFound` for anything else).
    pub async fn tags(&self, arn: &str) -> Result<Vec<(String, String)>, Error> {
        if arn.split(':').nth(5) == Some("activity") {
            let a = self.store.get_activity(arn).await?;
            return Ok(a.ok_or_else(|| no_resource(format!("Resource not found: '{arn}'")))?.tags);
        }
        let (_, q) = split_arn(arn);
        let found = match q {
            Qualifier::None => self.store.get_machine(arn).await?,
            _ => None,
        };
        Ok(found.ok_or_else(|| no_resource(format!("Resource not found: '{arn}'")))?.settings.tags)
    }

    /// TagResource / UntagResource: `add` merges (a later value wins), `remove` drops keys.
    pub async fn retag(&self, arn: &str, add: &[(String, String)], remove: &[String]) -> Result<(), Error> {
        let _writing = self.machine_writes.lock().await;
        check_tags(add)?;
        if arn.split(':').nth(5) == Some("activity") {
            let a = self.store.get_activity(arn).await?;
            let mut a = a.ok_or_else(|| no_resource(format!("Resource not found: '{arn}'")))?;
            a.tags = merge_tags(&a.tags, add, remove, arn)?;
            return self.store.put_activity(&a).await;
        }
        let (_, q) = split_arn(arn);
        for _attempt in 0..CONFLICT_RETRIES {
            let found = match q {
                Qualifier::None => self.store.get_machine(arn).await?,
                _ => None,
            };
            let prev = found.ok_or_else(|| no_resource(format!("Resource not found: '{arn}'")))?;
            let mut m = prev.clone();
            m.settings.tags = merge_tags(&m.settings.tags, add, remove, arn)?;
            if self.replaced(&m, &prev).await? {
                return Ok(());
            }
        }
        Err(too_busy(arn))
    }
}

impl<S: Store, Q: Queue, T: Topics, F: Functions, C: Clock> Runtime<S, Q, T, F, C> {
    /// Stores the logging, tracing and encryption configurations given (`None`: unchanged).
    pub async fn configure(
        &self,
        arn: &str,
        logging: Option<serde_json::Value>,
        tracing: Option<serde_json::Value>,
        encryption: Option<serde_json::Value>,
    ) -> Result<Machine, Error> {
        let _writing = self.machine_writes.lock().await;
        for _attempt in 0..CONFLICT_RETRIES {
            let prev = self.store.get_machine(arn).await?.ok_or_else(|| Error::no_machine(arn))?;
            let mut m = prev.clone();
            let before = m.settings.clone();
            if logging.is_some() {
                m.settings.logging = logging.clone();
            }
            if tracing.is_some() {
                m.settings.tracing = tracing.clone();
            }
            if encryption.is_some() {
                m.settings.encryption = encryption.clone();
            }
            if m.settings != before {
                m.updated = Some(self.clock.now());
                m.revision_id = m.revision();
                if !self.replaced(&m, &prev).await? {
                    continue;
                }
                self.forget_machine(arn)?;
            }
            return Ok(m);
        }
        Err(too_busy(arn))
    }
}
