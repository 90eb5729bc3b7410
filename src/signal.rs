//! Graceful stop on SIGINT and SIGTERM for the binaries.

/// SIGINT and SIGTERM, registered when this is made, not when first
/// awaited: a signal that arrives after a binary printed its ready line must
/// stop it gracefully, however late its futures first poll the wait (tokio
/// registers a handler only when `signal()` is called; until then SIGTERM
/// kills the process, as seen in the mock's end-to-end tests).
#[derive(Debug)]
pub struct ShutdownSignal {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl ShutdownSignal {
    /// Registers the handlers (inside the runtime).
    pub fn register() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                (Ok(int), Ok(term)) => Self {
                    signals: Some((int, term)),
                },
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!(
                        "cannot listen for SIGINT/SIGTERM ({e}): only Ctrl-C stops this process"
                    );
                    Self { signals: None }
                }
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Waits for the first of them.
    pub async fn wait(self) {
        #[cfg(unix)]
        match self.signals {
            Some((mut int, mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
