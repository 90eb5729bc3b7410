//! The embedded mock a run or a replay without a target certifies (cargo
//! feature `embedded`). Built without it, asking for one (no target,
//! `--mock-profile`, the `mutants` subcommand) is a usage error.

use joblet_testkit::contract::Api;

use super::error::CliError;
use crate::ctx::Targets;

/// What `--mock-profile` holds: the mock's profile, or (without the embedded
/// mock) whatever was given, to refuse it.
#[cfg(feature = "embedded")]
pub(crate) type ProfileArg = joblet_mock::Profile;
/// What `--mock-profile` holds: the mock's profile, or (without the embedded
/// mock) whatever was given, to refuse it. (The flag's field spells the type
/// out: clap tells an optional flag by its `Option<..>`.)
#[cfg(not(feature = "embedded"))]
pub(crate) type ProfileArg = Option<String>;

/// Why this binary cannot start a mock of its own.
pub const NO_EMBEDDED: &str = "this joblet-conformance was built without the embedded mock \
     (cargo feature `embedded`): it certifies only the targets it is given";

/// The usage error of asking a binary without the embedded mock for one;
/// `what` names what asked.
#[cfg(not(feature = "embedded"))]
pub(crate) fn no_embedded(what: &str) -> CliError {
    CliError::Usage(format!("{what}: {NO_EMBEDDED}"))
}

/// Refuses `--mock-profile` when there is no embedded mock.
#[cfg(not(feature = "embedded"))]
pub(crate) fn check_profile(profile: &ProfileArg) -> Result<(), CliError> {
    match profile {
        Some(_) => Err(no_embedded("--mock-profile")),
        None => Ok(()),
    }
}

/// Refuses `--mock-profile` when there is no embedded mock: with one, any
/// profile is fine.
#[cfg(feature = "embedded")]
pub(crate) fn check_profile(profile: &ProfileArg) -> Result<(), CliError> {
    let _ = profile;
    Ok(())
}

/// The profile's name when it is not the default (`documented`) one.
#[cfg(feature = "embedded")]
pub(crate) fn non_default_profile(profile: &ProfileArg) -> Option<&'static str> {
    (*profile != joblet_mock::Profile::Documented).then(|| profile.name())
}

/// The profile's name when it is not the default one: never, without the
/// embedded mock ([`check_profile`] refuses any).
#[cfg(not(feature = "embedded"))]
pub(crate) fn non_default_profile(profile: &ProfileArg) -> Option<&'static str> {
    let _ = profile;
    None
}

/// An embedded mock started for a run or a replay, and the targets that
/// reach it.
#[derive(Debug)]
pub(crate) struct LocalMock {
    /// Plaintext main target, viewer and no-role over mutual TLS.
    pub(crate) targets: Targets,
    /// The profile's name.
    pub(crate) profile: &'static str,
    #[cfg(feature = "embedded")]
    embedded: crate::embedded::Embedded,
}

impl LocalMock {
    /// Starts an embedded mock of `profile` speaking `api` on loopback ports.
    #[cfg(feature = "embedded")]
    pub(crate) async fn start(profile: &ProfileArg, api: Api) -> Result<Self, CliError> {
        use super::error::Context as _;
        let embedded = crate::embedded::Embedded::start(joblet_mock::MockConfig {
            profile: *profile,
            api,
            ..joblet_mock::MockConfig::default()
        })
        .await
        .context("starting the embedded mock")?;
        Ok(Self {
            targets: embedded.targets.clone(),
            profile: profile.name(),
            embedded,
        })
    }

    /// Without the embedded mock: the usage error of a run without a target.
    #[cfg(not(feature = "embedded"))]
    pub(crate) async fn start(profile: &ProfileArg, api: Api) -> Result<Self, CliError> {
        let _ = (profile, api);
        Err(no_embedded("no --target, --node or JOBLET_HOST"))
    }

    /// Stops the mock.
    pub(crate) async fn shutdown(self) {
        #[cfg(feature = "embedded")]
        self.embedded.shutdown().await;
    }
}

#[cfg(all(test, not(feature = "embedded")))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_the_embedded_mock_asking_for_one_is_a_usage_error() {
        let e = LocalMock::start(&None, Api::Both).await.unwrap_err();
        assert!(matches!(e, CliError::Usage(_)), "{e:?}");
        assert!(e.to_string().contains(NO_EMBEDDED), "{e}");
        let e = check_profile(&Some("server-v1".into())).unwrap_err();
        assert!(e.to_string().starts_with("--mock-profile: "), "{e}");
        assert!(check_profile(&None).is_ok());
        assert_eq!(non_default_profile(&None), None);
    }
}
