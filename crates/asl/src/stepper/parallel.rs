//! Parallel states: every branch starts at once, in its own frame, with the same input; the
//! join ([`super::join`]) collects their outputs in branch order.

use super::{Failure, Join, JoinKind, Stepper};
use crate::model::State;

impl Stepper<'_> {
    pub(super) fn run_parallel(&mut self, frame: usize, st: &State, branches: &[usize]) -> Result<(), Failure> {
        let effective = self.effective_input(frame, st)?;
        let input = self.parameters(frame, st, effective, None)?;
        self.emit(frame, "ParallelStateStarted", None);
        let n = branches.len();
        let mut join = Join::new(JoinKind::Parallel, n);
        join.next = n;
        for (i, &scope) in branches.iter().enumerate() {
            let id = self.spawn(frame, i, scope, input.clone(), false);
            join.children[i] = Some(id);
            join.running += 1;
        }
        self.await_children(frame, join);
        Ok(())
    }
}
