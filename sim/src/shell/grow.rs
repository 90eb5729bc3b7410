//! Growable stacks for the interpreter's recursion points: every nested
//! command, function call, substitution and nested shell is polled through a
//! [`Grow`], so a script's nesting is bounded by
//! [`MAX_CALL_DEPTH`](super::state::MAX_CALL_DEPTH) and memory, never by the
//! stack of the thread that polls the job.

use std::future::Future;
use std::pin::Pin;

pub(crate) type BoxFut<'s, T> = Pin<Box<dyn Future<Output = T> + Send + 's>>;

/// Stack kept free below every recursion point of the interpreter.
const RED_ZONE: usize = 256 * 1024;
/// Size of each extra stack segment.
const STACK_SEGMENT: usize = 4 << 20;

/// A boxed future polled with at least [`RED_ZONE`] bytes of stack, switching
/// to a fresh heap-allocated segment when the thread's stack runs low.
///
/// Scripts recurse (nested compound commands, functions, substitutions,
/// nested shells); each level costs several poll frames, which in debug builds
/// are large. Every recursion point goes through `Grow`, so the depth a script
/// can reach is bounded by [`MAX_CALL_DEPTH`](super::state::MAX_CALL_DEPTH) and memory, never by the stack
/// of the thread that polls the job.
pub(crate) struct Grow<'s, T>(BoxFut<'s, T>);

impl<T> Future for Grow<'_, T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<T> {
        let inner = &mut self.0;
        stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || inner.as_mut().poll(cx))
    }
}

/// Wraps `f` in [`Grow`].
pub(crate) fn grow<'s, T>(f: impl Future<Output = T> + Send + 's) -> Grow<'s, T> {
    Grow(Box::pin(f))
}
