//! Registering the state machine a deployment runs, from the function's environment.
//!
//! There is no Step Functions service to hold state machines: the `start-execution` function
//! stores the deployment's machine in the execution store on its cold start
//! ([`register_machine_from_env`]), before it serves any request, so the machine exists before
//! any execution of it (and so before the step driver needs it). The template puts the
//! definition in the function's environment with its `${Name}` variables already substituted by
//! CloudFormation (`Fn::Sub` with the resources' ARNs and URLs, as SAM's
//! `DefinitionSubstitutions` would). Registering again (every cold start) replaces the machine
//! with the same definition.
//!
//! | variable | meaning |
//! |---|---|
//! | `STEPWISE_MACHINE_NAME` | the state machine's name (its ARN is `arn:aws:states:REGION:ACCOUNT:stateMachine:NAME`) |
//! | `STEPWISE_MACHINE_DEFINITION` | the ASL definition (JSON text) |
//! | `STEPWISE_MACHINE_ROLE_ARN` | the role executions report (`$$.Execution.RoleArn`); default `arn:aws:iam::ACCOUNT:role/stepwise` |
//! | `STEPWISE_MACHINE_TYPE` | `STANDARD` (default) or `EXPRESS` |

use serde_json::Value;
use stepwise_runtime::ports::{Clock, Functions, Machine, Queue, Store, Topics};
use stepwise_runtime::{Error, Invalid, Runtime};
use tracing::info;

/// A state machine to register, as the environment describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineEnv {
    /// Name.
    pub name: String,
    /// The ASL definition.
    pub definition: Value,
    /// The role ARN, if given.
    pub role_arn: Option<String>,
    /// EXPRESS (true) or STANDARD.
    pub express: bool,
}

impl MachineEnv {
    /// Reads the machine from variables looked up with `var` (see the
    /// [module documentation](self)): `Ok(None)` when `STEPWISE_MACHINE_NAME` or
    /// `STEPWISE_MACHINE_DEFINITION` is unset or empty (nothing to register).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<MachineEnv>, Error> {
        let get = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let (Some(name), Some(text)) = (get("STEPWISE_MACHINE_NAME"), get("STEPWISE_MACHINE_DEFINITION")) else {
            return Ok(None);
        };
        let definition = serde_json::from_str(&text).map_err(|e| {
            Error::invalid(Invalid::Definition, format!("STEPWISE_MACHINE_DEFINITION is not JSON: {e}"))
        })?;
        let express = match get("STEPWISE_MACHINE_TYPE").as_deref() {
            None | Some("STANDARD") => false,
            Some("EXPRESS") => true,
            Some(other) => {
                return Err(Error::validation(format!(
                    "STEPWISE_MACHINE_TYPE must be STANDARD or EXPRESS, got '{other}'"
                )))
            }
        };
        Ok(Some(MachineEnv { name, definition, role_arn: get("STEPWISE_MACHINE_ROLE_ARN"), express }))
    }

    /// Reads the machine from the process environment ([`MachineEnv::from_vars`]).
    pub fn from_env() -> Result<Option<MachineEnv>, Error> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// Validates the definition and stores the machine (`InvalidDefinition` with AWS's
    /// diagnostics when it is not a valid state machine).
    pub async fn register<S, Q, T, F, C>(&self, rt: &Runtime<S, Q, T, F, C>) -> Result<Machine, Error>
    where
        S: Store,
        Q: Queue,
        T: Topics,
        F: Functions,
        C: Clock,
    {
        let role =
            self.role_arn.clone().unwrap_or_else(|| format!("arn:aws:iam::{}:role/stepwise", rt.config().account));
        let m = rt.create_machine(&self.name, self.definition.clone(), &role, self.express).await?;
        info!(state_machine_arn = %m.arn, "state machine registered");
        Ok(m)
    }
}

/// Registers the state machine the environment describes ([`MachineEnv`]); `Ok(None)` when it
/// describes none.
pub async fn register_machine_from_env<S, Q, T, F, C>(rt: &Runtime<S, Q, T, F, C>) -> Result<Option<Machine>, Error>
where
    S: Store,
    Q: Queue,
    T: Topics,
    F: Functions,
    C: Clock,
{
    match MachineEnv::from_env()? {
        Some(m) => m.register(rt).await.map(Some),
        None => Ok(None),
    }
}
