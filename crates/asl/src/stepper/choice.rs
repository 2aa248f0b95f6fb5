//! Choice states: the first rule that holds (JSONata: the first `Condition` that is `true`)
//! picks the next state, else `Default`, else `States.NoChoiceMatched`. The chosen rule's own
//! Assign (and JSONata Output) replace the state's.

use super::context::is_jsonata;
use super::{Failure, Stepper};
use crate::choice::Rule;
use crate::jsonata::{self, Template as JTemplate};
use crate::model::{ChoiceBranch, State};
use serde_json::Value;

impl Stepper<'_> {
    pub(super) fn run_choice(
        &mut self,
        frame: usize,
        st: &State,
        choices: &[ChoiceBranch],
        default: Option<usize>,
    ) -> Result<(), Failure> {
        let effective = self.effective_input(frame, st)?;
        if is_jsonata(st) {
            return self.run_choice_jsonata(frame, st, choices, default, effective);
        }
        let chosen = self.with_ctx(frame, None, |ctx, _| {
            for c in choices {
                if c.rule.eval(&effective, ctx)? {
                    return Ok(Some(c));
                }
            }
            Ok(None)
        });
        let chosen = chosen.map_err(|m: String| self.runtime(frame, m))?;
        let next = self.chosen_or_default(frame, chosen.map(|c| c.next), default)?;
        let assign = chosen.map_or(st.assign.as_ref(), |c| c.assign.as_ref());
        let assigned = self.eval_assign(frame, assign, &effective)?;
        let out = self.output_path(frame, st, effective)?;
        self.pending_assign = assigned;
        self.exit_to(frame, st, next, out);
        Ok(())
    }

    fn run_choice_jsonata(
        &mut self,
        frame: usize,
        st: &State,
        choices: &[ChoiceBranch],
        default: Option<usize>,
        effective: Value,
    ) -> Result<(), Failure> {
        let states = self.states_var(frame, &effective, None, &[]);
        let mut chosen = None;
        for c in choices {
            let Rule::Condition(t) = &c.rule else {
                continue;
            };
            match self.jeval(frame, t, "Condition", &states)? {
                Value::Bool(true) => {
                    chosen = Some(c);
                    break;
                }
                Value::Bool(false) => {}
                other => {
                    let text = match t {
                        JTemplate::Expr(e) => e.text().to_string(),
                        _ => other.to_string(),
                    };
                    return Err(self.query_error(
                        frame,
                        format!(
                            "The JSONata expression '{text}' specified for the field 'Condition' returned an unexpected result type. Expected 'boolean', but was '{}' for value: {other}",
                            jsonata::type_name(&other)
                        ),
                    ));
                }
            }
        }
        let next = self.chosen_or_default(frame, chosen.map(|c| c.next), default)?;
        let (assign, output) = match chosen {
            Some(c) => (c.assign.as_ref(), c.output.as_ref()),
            None => (st.assign.as_ref(), st.jsonata.get("Output")),
        };
        let assigned = self.eval_assign_states(frame, assign, &states)?;
        let out = match output {
            Some(t) => self.jeval(frame, t, "Output", &states)?,
            None => effective,
        };
        self.pending_assign = assigned;
        self.exit_to(frame, st, next, out);
        Ok(())
    }

    fn chosen_or_default(&self, frame: usize, chosen: Option<usize>, default: Option<usize>) -> Result<usize, Failure> {
        chosen.or(default).ok_or_else(|| self.state_error(frame, "States.NoChoiceMatched", "No Matches!"))
    }
}
