//! The TestState API on the runtime: the state runs in memory (`stepwise_asl::test_state`),
//! its unmocked Task calls going through the runtime's ports like an execution's (functions,
//! queues, topics, AWS services), a mocked result checked against the service's API model
//! where the AWS port has one.

use super::Runtime;
use crate::ports::{Clock, Functions, Queue, Store, Topics};
use crate::{Error, Invalid};
use serde_json::Value;
use stepwise_asl::test_state::{self, FieldValidation, TestStateEnv, TestStateError, TestStateRequest};

impl<S: Store, Q: Queue, T: Topics, F: Functions, C: Clock> Runtime<S, Q, T, F, C> {
    /// TestState: runs one state of `req.definition` and answers as AWS does. `region` is the
    /// region the request was signed for (the invented execution's), else the runtime's.
    pub async fn test_state(&self, req: &TestStateRequest, region: Option<&str>) -> Result<Value, Error> {
        let region = region.unwrap_or(&self.config.region).to_string();
        let action_id = format!("test-state#{}", stepwise_asl::uuid::v4(rand::random(), rand::random()));
        let mut services = self.port_services("", &action_id);
        // The state's calls are made as the request's role (TestState's `roleArn`).
        let identity = req
            .role_arn
            .as_deref()
            .filter(|r| !r.is_empty())
            .map(|r| stepwise_asl::integrations::aws::Identity::of_execution(r, "test-state", ""));
        services.identity = identity.as_ref();
        let aws = self.aws.clone();
        let check = move |resource: &str, result: &Value, mode: FieldValidation| {
            aws.check_result(resource, result, mode == FieldValidation::Strict)
        };
        let mut random = rand::random::<u64>;
        let env = TestStateEnv {
            account: &self.config.account,
            region: &region,
            now: self.clock.now(),
            random: &mut random,
            check_mock: Some(&check),
        };
        let answer = test_state::test_state(req, &mut services, env).await;
        if let Some(e) = services.failure {
            return Err(e);
        }
        answer.map_err(|e| match e {
            TestStateError::InvalidDefinition(m) => Error::invalid(Invalid::Definition, m),
            TestStateError::Validation(m) => Error::validation(m),
        })
    }
}
