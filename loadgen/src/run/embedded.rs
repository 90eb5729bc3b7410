//! The embedded `joblet-mock` that a run without targets loads: started on a
//! runtime of its own before the run, shut down after it. It needs the
//! `embedded` cargo feature (on by default); without it there is no
//! embedded mock, and [`super::config`] refuses a run without targets.

#[cfg(feature = "embedded")]
use std::time::Duration;

use super::config::RunError;

/// How often the embedded mock samples a running job's metrics (a node
/// samples every 1 to 5 s): short, so that the `metrics` scenario sees
/// events within a short run.
#[cfg(feature = "embedded")]
pub(crate) const METRICS_INTERVAL: Duration = Duration::from_millis(100);

/// A running embedded mock.
#[cfg(feature = "embedded")]
#[derive(Debug)]
pub(crate) struct Embedded {
    runtime: tokio::runtime::Runtime,
    mock: Option<joblet_mock::RunningMock>,
}

#[cfg(feature = "embedded")]
impl Embedded {
    /// Starts a mock serving `api`, with the default settings but for the
    /// job metrics sampling interval ([`METRICS_INTERVAL`]).
    pub(crate) fn start(api: joblet_testkit::contract::Api) -> Result<Self, RunError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("embedded-mock")
            .enable_all()
            .build()
            .map_err(|e| RunError::Io("embedded mock runtime".into(), e))?;
        let mock = runtime
            .block_on(
                joblet_mock::MockServer::builder()
                    .config(joblet_mock::MockConfig {
                        api,
                        metrics_interval: METRICS_INTERVAL,
                        ..Default::default()
                    })
                    .start(),
            )
            .map_err(|e| RunError::Mock(e.to_string()))?;
        Ok(Self {
            runtime,
            mock: Some(mock),
        })
    }

    /// `HOST:PORT` of the mock.
    pub(crate) fn addr(&self) -> String {
        self.mock
            .as_ref()
            .map(|m| m.addr().to_string())
            .unwrap_or_default()
    }

    /// Shuts the mock and its runtime down.
    pub(crate) fn stop(mut self) {
        if let Some(mock) = self.mock.take() {
            let _ = self.runtime.block_on(mock.shutdown());
        }
        self.runtime.shutdown_timeout(Duration::from_secs(2));
    }
}

/// Built without the `embedded` feature: no embedded mock can exist.
#[cfg(not(feature = "embedded"))]
#[derive(Debug)]
pub(crate) enum Embedded {}

#[cfg(not(feature = "embedded"))]
impl Embedded {
    /// Fails: a run needs a target ([`super::config`] says so before this).
    pub(crate) fn start(_api: joblet_testkit::contract::Api) -> Result<Self, RunError> {
        Err(RunError::Config(super::config::NO_TARGET.into()))
    }

    pub(crate) fn addr(&self) -> String {
        match *self {}
    }

    pub(crate) fn stop(self) {
        match self {}
    }
}
