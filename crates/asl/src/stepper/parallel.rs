//! Parallel states: every branch starts at once, in its own frame, with the same input; the
//! join ([`super::join`]) collects their outputs in branch order.

use super::{Failure, Join, JoinKind, Stepper};
use crate::model::State;

impl Stepper<'_> {
    pub(super) fn run_parallel(&mut self, frame: usize, st: &State, branches: &[usize]) -> Result<(), Failure> {
        let effective = self.effective_input(frame, st)?;
        if let Some(outcome) = self.x.mocks.as_mut().and_then(|m| m.next_call(&st.name)) {
            // Mocked (the TestState API): the branches do not run; the response is the result.
            let result = match outcome {
                crate::mock::MockOutcome::Return(v) => v,
                crate::mock::MockOutcome::Throw { error, cause } => {
                    return Err(Failure::from_parts(Some(error), cause));
                }
            };
            let out = self.process_result(frame, st, result)?;
            self.exit_state(frame, out);
            return Ok(());
        }
        let input = self.parameters(frame, st, effective, None)?;
        self.emit(frame, "ParallelStateStarted", None);
        let n = branches.len();
        let previous = self.x.frames[frame].redrive_join.take();
        let mut join = Join::resumed(JoinKind::Parallel, n, previous.as_deref());
        join.next = n;
        for (i, &scope) in branches.iter().enumerate() {
            if join.succeeded[i] {
                continue; // redriven: this branch succeeded before
            }
            let id = self.spawn(frame, i, scope, input.clone(), false);
            join.children[i] = Some(id);
            join.running += 1;
        }
        self.await_children(frame, join);
        Ok(())
    }
}
