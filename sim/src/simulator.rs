//! The entry point: a [`Simulator`] holds the scenarios and the
//! unknown-command policy and runs a job's command to completion.

use std::sync::Arc;

use crate::context::{ExecContext, UnknownCommand};
use crate::host::{Clock, Output};
use crate::observe::Observer;
use crate::scenario::{Lifecycle, Resources, Scenario};
use crate::shell::{Shell, as_builtin, builtin_name, is_shell};

/// Runs simulated commands.
#[derive(Debug, Clone, Default)]
pub struct Simulator {
    scenarios: Arc<Vec<Scenario>>,
    unknown: UnknownCommand,
}

impl Simulator {
    /// A simulator with these scenarios and unknown-command policy.
    pub fn new(scenarios: Vec<Scenario>, unknown: UnknownCommand) -> Self {
        Self {
            scenarios: Arc::new(scenarios),
            unknown,
        }
    }

    /// The scripted commands, in the order they are tried (first match wins).
    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }

    /// What a command that is neither built in nor scripted does.
    pub fn unknown_command(&self) -> UnknownCommand {
        self.unknown
    }

    /// The scenario a job running `command args…` plays: the first match,
    /// unless the command is built in (a builtin or a shell runs instead).
    fn scenario_for(&self, command: &str, args: &[String]) -> Option<&Scenario> {
        // The common case, on the RunJob path: no scenario files at all.
        if self.scenarios.is_empty() {
            return None;
        }
        let base = command.rsplit('/').next().unwrap_or(command);
        let absolute = command.starts_with('/');
        if builtin_name(command).is_some()
            || is_shell(command)
            || (absolute && (as_builtin(base).is_some() || matches!(base, "sh" | "bash")))
        {
            return None;
        }
        self.scenarios.iter().find(|s| s.matches(command, args))
    }

    /// The stages, failure and timeout of the scenario a job running
    /// `command args…` plays (`None`: none, or it only has steps).
    pub fn lifecycle(&self, command: &str, args: &[String]) -> Option<Lifecycle> {
        self.scenario_for(command, args)
            .map(Scenario::lifecycle)
            .filter(|l| !l.is_empty())
    }

    /// The monitoring figures of the scenario a job running `command args…` plays.
    pub fn resources(&self, command: &str, args: &[String]) -> Option<Resources> {
        self.scenario_for(command, args)?.resources
    }

    /// Runs `command args…` to completion, writing its output to `out` (in
    /// batches, see [`Output`]) and waiting on `ctx.clock`, and returns the
    /// exit code. Cancel-safe: dropping the future stops the job.
    pub async fn run<O: Output, C: Clock>(
        &self,
        command: &str,
        args: &[String],
        ctx: &ExecContext<C>,
        out: &mut O,
    ) -> i32 {
        self.run_observed(command, args, ctx, out, &mut ()).await
    }

    /// [`run`](Self::run), reporting the job's processes and file writes to
    /// `observer` as they happen (see [`Observer`]).
    pub async fn run_observed<O: Output, C: Clock, W: Observer>(
        &self,
        command: &str,
        args: &[String],
        ctx: &ExecContext<C>,
        out: &mut O,
        observer: &mut W,
    ) -> i32 {
        let mut argv = Vec::with_capacity(args.len() + 1);
        argv.push(command.to_owned());
        argv.extend(args.iter().cloned());
        let mut sh = Shell::new(
            ctx,
            Arc::clone(&self.scenarios),
            self.unknown,
            out,
            observer,
        );
        sh.run_top(argv).await
    }
}
