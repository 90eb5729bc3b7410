//! The runtime YAML that BuildRuntime builds and ValidateRuntimeYAML checks
//! (RT-YAML-2): typed parsing and the server's schema rules.
//!
//! The text is decoded as a Joblet node's `yaml.v3` decodes it: non-strict
//! (unknown keys are ignored), scalars kept as written (`version: 3.10` is
//! `"3.10"`), an empty document an empty specification. A text that does not
//! decode (not YAML, or a key of the wrong shape, such as `pip: numpy`) is one
//! error, `invalid YAML: <parser message>`. Otherwise every rule is checked
//! and every violation collected, in the order of RT-YAML-2; together they
//! read `validation errors:\n  - a\n  - b` ([`SpecErrors`]).

use std::collections::BTreeMap;

use serde::Deserialize;

/// The only `schema_version` there is.
pub const SCHEMA_VERSION: &str = "1.0";
/// The languages `base.language` may name.
pub const LANGUAGES: [&str; 5] = ["python", "java", "node", "go", "rust"];
/// The operating systems of a `platforms` entry (`<os>-<arch>`).
pub const PLATFORM_OS: [&str; 3] = ["ubuntu", "rhel", "amzn"];
/// The architectures of a `platforms` entry (`<os>-<arch>`).
pub const PLATFORM_ARCH: [&str; 2] = ["amd64", "arm64"];
/// The longest `description`, in characters.
pub const MAX_DESCRIPTION: usize = 256;
/// The longest `name`, in characters (`^[a-z0-9][a-z0-9.-]{0,63}$`).
pub const MAX_NAME: usize = 64;

/// The document as it decodes: every key optional, unknown keys ignored.
#[derive(Debug, Default, Deserialize)]
struct Document {
    schema_version: Option<String>,
    name: Option<String>,
    version: Option<String>,
    description: Option<String>,
    base: Option<RawBase>,
    pip: Option<Vec<String>>,
    pip_options: Option<Words>,
    npm: Option<Vec<String>>,
    environment: Option<BTreeMap<String, String>>,
    requirements: Option<RawRequirements>,
    platforms: Option<Vec<String>>,
    hooks: Option<RawHooks>,
    libraries: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
struct RawBase {
    language: Option<String>,
    version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawRequirements {
    gpu: Option<bool>,
    cuda_version: Option<String>,
    min_memory: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawHooks {
    timeout: Option<String>,
    pre_install: Option<Words>,
    post_install: Option<Words>,
}

/// A value written as one string or as a list of strings (`pip_options`,
/// hook scripts).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Words {
    One(String),
    Many(Vec<String>),
}

impl Words {
    fn into_vec(self) -> Vec<String> {
        match self {
            Words::One(s) if s.is_empty() => Vec::new(),
            Words::One(s) => vec![s],
            Words::Many(v) => v,
        }
    }

    /// A script: the lines of a list joined with newlines.
    fn into_script(self) -> String {
        match self {
            Words::One(s) => s,
            Words::Many(v) => v.join("\n"),
        }
    }
}

/// What the node needs to run the runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    pub gpu: bool,
    pub cuda_version: String,
    pub min_memory: String,
}

/// Scripts run around the package installation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    /// As written, ending in `s`, `m` or `h`; empty when not set.
    pub timeout: String,
    pub pre_install: String,
    pub post_install: String,
}

/// A runtime YAML that passed every rule of RT-YAML-2.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeSpec {
    pub name: String,
    /// `X.Y.Z`.
    pub version: String,
    pub description: String,
    /// `base.language`.
    pub language: String,
    /// `base.version`.
    pub language_version: String,
    pub pip: Vec<String>,
    pub pip_options: Vec<String>,
    pub npm: Vec<String>,
    pub environment: BTreeMap<String, String>,
    pub requirements: Requirements,
    /// `<os>-<arch>` entries, as written.
    pub platforms: Vec<String>,
    pub hooks: Hooks,
    pub libraries: Vec<String>,
}

impl RuntimeSpec {
    /// Whether a pre- or post-install hook is set (`spec_info.has_hooks`).
    pub fn has_hooks(&self) -> bool {
        !self.hooks.pre_install.is_empty() || !self.hooks.post_install.is_empty()
    }
}

/// Why a runtime YAML is refused: one entry per broken rule, in the order of
/// RT-YAML-2. Displays as the server joins them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", join(.0))]
pub struct SpecErrors(pub Vec<String>);

/// `validation errors:\n  - a\n  - b`.
fn join(errors: &[String]) -> String {
    let mut text = String::from("validation errors:");
    for e in errors {
        text.push_str("\n  - ");
        text.push_str(e);
    }
    text
}

/// Parses and checks a runtime YAML (RT-YAML-2). Never panics.
pub fn parse(text: &str) -> Result<RuntimeSpec, SpecErrors> {
    let doc: Document =
        serde_norway::from_str(text).map_err(|e| SpecErrors(vec![format!("invalid YAML: {e}")]))?;
    let errors = check(&doc);
    if !errors.is_empty() {
        return Err(SpecErrors(errors));
    }
    Ok(into_spec(doc))
}

/// The text of a required field, or `<field> is required` when it is missing
/// or empty.
fn required<'a>(errors: &mut Vec<String>, field: &str, value: Option<&'a str>) -> Option<&'a str> {
    match value {
        Some(v) if !v.is_empty() => Some(v),
        _ => {
            errors.push(format!("{field} is required"));
            None
        }
    }
}

/// Every broken rule of `doc`, in the order of RT-YAML-2.
fn check(doc: &Document) -> Vec<String> {
    let mut errors = Vec::new();
    if let Some(v) = required(&mut errors, "schema_version", doc.schema_version.as_deref())
        && v != SCHEMA_VERSION
    {
        errors.push(format!(
            "unsupported schema_version: {v} (expected {SCHEMA_VERSION})"
        ));
    }
    if let Some(n) = required(&mut errors, "name", doc.name.as_deref())
        && !valid_name(n)
    {
        errors.push(format!("invalid name: {n}"));
    }
    if let Some(v) = required(&mut errors, "version", doc.version.as_deref())
        && !valid_version(v)
    {
        errors.push(format!(
            "invalid version: {v} (expected semantic version X.Y.Z)"
        ));
    }
    if let Some(d) = required(&mut errors, "description", doc.description.as_deref()) {
        let length = d.chars().count();
        if length > MAX_DESCRIPTION {
            errors.push(format!(
                "description too long: {length} characters (max {MAX_DESCRIPTION})"
            ));
        }
    }
    let base = doc.base.as_ref();
    if let Some(l) = required(
        &mut errors,
        "base.language",
        base.and_then(|b| b.language.as_deref()),
    ) && !LANGUAGES.contains(&l)
    {
        errors.push(format!(
            "unsupported language: {l} (supported: {})",
            LANGUAGES.join(", ")
        ));
    }
    required(
        &mut errors,
        "base.version",
        base.and_then(|b| b.version.as_deref()),
    );
    for p in doc.platforms.iter().flatten() {
        if !valid_platform(p) {
            errors.push(format!("unsupported platform: {p}"));
        }
    }
    if let Some(t) = doc.hooks.as_ref().and_then(|h| h.timeout.as_deref())
        && !valid_timeout(t)
    {
        errors.push(format!(
            "invalid hooks.timeout: {t} (must end in s, m or h)"
        ));
    }
    errors
}

/// `^[a-z0-9][a-z0-9.-]{0,63}$`.
pub fn valid_name(name: &str) -> bool {
    let lower_or_digit = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut chars = name.chars();
    chars.next().is_some_and(lower_or_digit)
        && name.len() <= MAX_NAME
        && chars.all(|c| lower_or_digit(c) || c == '.' || c == '-')
}

/// `X.Y.Z`, each part one or more ASCII digits.
pub fn valid_version(version: &str) -> bool {
    let parts: Vec<&str> = version.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `<os>-<arch>` with an OS of [`PLATFORM_OS`] and an architecture of
/// [`PLATFORM_ARCH`].
pub fn valid_platform(platform: &str) -> bool {
    platform
        .split_once('-')
        .is_some_and(|(os, arch)| PLATFORM_OS.contains(&os) && PLATFORM_ARCH.contains(&arch))
}

/// A hook timeout ends in `s`, `m` or `h` (an empty one is unset).
pub fn valid_timeout(timeout: &str) -> bool {
    timeout.is_empty() || timeout.ends_with(['s', 'm', 'h'])
}

/// The checked document as a specification.
fn into_spec(doc: Document) -> RuntimeSpec {
    let base = doc.base.unwrap_or_default();
    let requirements = doc.requirements.unwrap_or_default();
    let hooks = doc.hooks.unwrap_or_default();
    RuntimeSpec {
        name: doc.name.unwrap_or_default(),
        version: doc.version.unwrap_or_default(),
        description: doc.description.unwrap_or_default(),
        language: base.language.unwrap_or_default(),
        language_version: base.version.unwrap_or_default(),
        pip: doc.pip.unwrap_or_default(),
        pip_options: doc.pip_options.map(Words::into_vec).unwrap_or_default(),
        npm: doc.npm.unwrap_or_default(),
        environment: doc.environment.unwrap_or_default(),
        requirements: Requirements {
            gpu: requirements.gpu.unwrap_or(false),
            cuda_version: requirements.cuda_version.unwrap_or_default(),
            min_memory: requirements.min_memory.unwrap_or_default(),
        },
        platforms: doc.platforms.unwrap_or_default(),
        hooks: Hooks {
            timeout: hooks.timeout.unwrap_or_default(),
            pre_install: hooks
                .pre_install
                .map(Words::into_script)
                .unwrap_or_default(),
            post_install: hooks
                .post_install
                .map(Words::into_script)
                .unwrap_or_default(),
        },
        libraries: doc.libraries.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde::Serialize;

    use super::*;

    const FIXTURE: &str = include_str!("../../fixtures/runtimes/python-ml.yaml");

    fn errors(text: &str) -> Vec<String> {
        parse(text).expect_err("refused").0
    }

    /// A valid document with `extra` appended (later keys are new ones).
    fn valid_with(extra: &str) -> String {
        format!(
            "schema_version: \"1.0\"\nname: demo\nversion: 1.2.3\ndescription: d\n\
             base:\n  language: go\n  version: \"1.22\"\n{extra}"
        )
    }

    #[test]
    fn rt_yaml_2_the_fixture_validates_with_every_field() {
        let spec = parse(FIXTURE).expect("fixtures/runtimes/python-ml.yaml is valid");
        assert_eq!(
            (spec.name.as_str(), spec.version.as_str()),
            ("python-ml", "1.0.0")
        );
        assert_eq!(
            (spec.language.as_str(), spec.language_version.as_str()),
            ("python", "3.11")
        );
        assert_eq!(
            spec.pip,
            ["numpy==1.26.4", "pandas==2.2.2", "scikit-learn==1.5.0"]
        );
        assert_eq!(spec.pip_options, ["--no-cache-dir"]);
        assert_eq!(spec.environment["OMP_NUM_THREADS"], "4");
        assert_eq!(spec.requirements.min_memory, "2GB");
        assert!(!spec.requirements.gpu);
        assert_eq!(
            spec.platforms,
            ["ubuntu-amd64", "ubuntu-arm64", "rhel-amd64"]
        );
        assert_eq!(spec.hooks.timeout, "10m");
        assert!(spec.hooks.pre_install.is_empty());
        assert!(spec.has_hooks());
        assert_eq!(spec.libraries, ["libgomp1"]);
    }

    #[test]
    fn rt_yaml_2_each_rule_has_its_message() {
        let cases: [(&str, &str); 9] = [
            (
                "schema_version: \"2.0\"",
                "unsupported schema_version: 2.0 (expected 1.0)",
            ),
            ("name: Demo_1", "invalid name: Demo_1"),
            ("name: -demo", "invalid name: -demo"),
            (
                "version: \"1.2\"",
                "invalid version: 1.2 (expected semantic version X.Y.Z)",
            ),
            (
                "version: v1.2.3",
                "invalid version: v1.2.3 (expected semantic version X.Y.Z)",
            ),
            (
                "base: {language: ruby, version: \"3.3\"}",
                "unsupported language: ruby (supported: python, java, node, go, rust)",
            ),
            (
                "platforms: [ubuntu-amd64, debian-amd64]",
                "unsupported platform: debian-amd64",
            ),
            (
                "platforms: [amzn-x86_64]",
                "unsupported platform: amzn-x86_64",
            ),
            (
                "hooks: {timeout: \"30\"}",
                "invalid hooks.timeout: 30 (must end in s, m or h)",
            ),
        ];
        for (line, message) in cases {
            // A later duplicate key is refused by the parser, so each case
            // replaces the valid line it breaks.
            let key = line.split(':').next().unwrap();
            let base = valid_with("");
            let kept: Vec<&str> = base
                .lines()
                .filter(|l| !l.starts_with(&format!("{key}:")))
                .filter(|l| !(key == "base" && l.starts_with("  ")))
                .collect();
            let text = format!("{}\n{line}\n", kept.join("\n"));
            assert_eq!(errors(&text), [message], "{text}");
        }
        let long = "é".repeat(MAX_DESCRIPTION + 1);
        let text = valid_with("").replace("description: d", &format!("description: {long}"));
        assert_eq!(
            errors(&text),
            ["description too long: 257 characters (max 256)"]
        );
        let text = valid_with("").replace(
            "description: d",
            &format!("description: {}", "é".repeat(256)),
        );
        assert!(parse(&text).is_ok(), "256 characters are allowed");
    }

    #[test]
    fn rt_yaml_2_all_violations_are_collected_in_rule_order_and_joined() {
        let text = "schema_version: \"0.9\"\nname: Bad Name\ndescription: \"\"\n\
                    base: {language: cobol}\nplatforms: [windows-amd64]\nhooks: {timeout: 5x}\n";
        let e = parse(text).unwrap_err();
        assert_eq!(
            e.0,
            [
                "unsupported schema_version: 0.9 (expected 1.0)",
                "invalid name: Bad Name",
                "version is required",
                "description is required",
                "unsupported language: cobol (supported: python, java, node, go, rust)",
                "base.version is required",
                "unsupported platform: windows-amd64",
                "invalid hooks.timeout: 5x (must end in s, m or h)",
            ]
        );
        assert!(
            e.to_string().starts_with(
                "validation errors:\n  - unsupported schema_version: 0.9 (expected 1.0)\n  - invalid name: Bad Name\n  - version is required"
            ),
            "{e}"
        );
    }

    #[test]
    fn rt_yaml_2_an_empty_document_misses_every_required_field() {
        let required = [
            "schema_version is required",
            "name is required",
            "version is required",
            "description is required",
            "base.language is required",
            "base.version is required",
        ];
        for text in ["", "  \n", "# only a comment\n", "{}"] {
            assert_eq!(errors(text), required, "{text:?}");
        }
    }

    #[test]
    fn rt_yaml_2_sdk_readme_style_yaml_is_refused() {
        // SDK 2.5.2's README shape: a flat language, base_packages,
        // pip_packages, no schema_version and no base (§2.6, §5.12).
        let text = "name: my-runtime\nversion: 1.0.0\ndescription: A custom runtime\n\
                    language: python\nbase_packages: [curl]\npip_packages: [numpy]\n";
        assert_eq!(
            errors(text),
            [
                "schema_version is required",
                "base.language is required",
                "base.version is required",
            ]
        );
    }

    #[test]
    fn rt_yaml_2_unknown_keys_are_ignored_and_scalars_read_as_written() {
        let text = valid_with("colour: red\nbase_extra: {x: 1}\n")
            .replace("schema_version: \"1.0\"", "schema_version: 1.0")
            .replace("version: \"1.22\"", "version: 1.20\n  flavour: alpine");
        let spec = parse(&text).expect("unknown keys are ignored; 1.0 reads as \"1.0\"");
        assert_eq!(spec.language_version, "1.20");
        let spec = parse(&valid_with("environment: {THREADS: 4, RATIO: 0.50}\n")).unwrap();
        assert_eq!(spec.environment["THREADS"], "4");
        assert_eq!(spec.environment["RATIO"], "0.50");
    }

    #[test]
    fn rt_yaml_2_words_take_a_string_or_a_list() {
        let spec = parse(&valid_with(
            "pip_options: --no-deps\nhooks:\n  pre_install: [apt-get update, apt-get install -y curl]\n",
        ))
        .unwrap();
        assert_eq!(spec.pip_options, ["--no-deps"]);
        assert_eq!(
            spec.hooks.pre_install,
            "apt-get update\napt-get install -y curl"
        );
        assert!(spec.has_hooks());
        let spec = parse(&valid_with("hooks: {timeout: 1h, post_install: \"\"}\n")).unwrap();
        assert!(!spec.has_hooks(), "an empty hook is no hook");
    }

    #[test]
    fn rt_yaml_2_text_that_does_not_decode_is_one_error() {
        for text in [
            "name: [unclosed",
            "just a sentence",
            "- a\n- b\n",
            &valid_with("pip: numpy\n"),
            "a: 1\n---\nb: 2\n",
        ] {
            let e = errors(text);
            assert_eq!(e.len(), 1, "{text:?}: {e:?}");
            assert!(e[0].starts_with("invalid YAML: "), "{text:?}: {e:?}");
        }
    }

    #[test]
    fn rt_yaml_2_field_rules() {
        assert!(valid_name("a"));
        assert!(valid_name("0.x-y"));
        assert!(valid_name(&"a".repeat(MAX_NAME)));
        assert!(!valid_name(&"a".repeat(MAX_NAME + 1)));
        for bad in ["", ".a", "-a", "A", "a_b", "a b", "ä"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        assert!(valid_version("0.0.0"));
        assert!(valid_version("10.20.30"));
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "1..3",
            "1.2.x",
            "+1.2.3",
            "1.2.3-rc1",
            "١.٢.٣",
        ] {
            assert!(!valid_version(bad), "{bad:?}");
        }
        for os in PLATFORM_OS {
            for arch in PLATFORM_ARCH {
                assert!(valid_platform(&format!("{os}-{arch}")));
            }
        }
        for bad in [
            "ubuntu",
            "ubuntu_amd64",
            "ubuntu-amd64-x",
            "Ubuntu-amd64",
            "-amd64",
        ] {
            assert!(!valid_platform(bad), "{bad:?}");
        }
        for ok in ["30s", "5m", "1h", ""] {
            assert!(valid_timeout(ok), "{ok:?}");
        }
        for bad in ["30", "5d", "1H"] {
            assert!(!valid_timeout(bad), "{bad:?}");
        }
    }

    /// The document as a client writes it, for the property below.
    #[derive(Debug, Clone, Serialize)]
    struct Written {
        schema_version: String,
        name: String,
        version: String,
        description: String,
        base: WrittenBase,
        pip: Vec<String>,
        npm: Vec<String>,
        environment: BTreeMap<String, String>,
        requirements: WrittenRequirements,
        platforms: Vec<String>,
        hooks: WrittenHooks,
        libraries: Vec<String>,
    }

    #[derive(Debug, Clone, Serialize)]
    struct WrittenBase {
        language: String,
        version: String,
    }

    #[derive(Debug, Clone, Serialize)]
    struct WrittenRequirements {
        gpu: bool,
        cuda_version: String,
        min_memory: String,
    }

    #[derive(Debug, Clone, Serialize)]
    struct WrittenHooks {
        timeout: String,
        pre_install: String,
        post_install: String,
    }

    fn written() -> impl Strategy<Value = Written> {
        let words = || proptest::collection::vec("[a-z][a-z0-9_.=-]{0,12}", 0..4);
        let platform = (0..PLATFORM_OS.len(), 0..PLATFORM_ARCH.len())
            .prop_map(|(o, a)| format!("{}-{}", PLATFORM_OS[o], PLATFORM_ARCH[a]));
        (
            (
                "[a-z0-9][a-z0-9.-]{0,63}",
                "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
                "\\PC{1,256}",
                0..LANGUAGES.len(),
                "[0-9]{1,2}(\\.[0-9]{1,2}){0,2}",
            ),
            (
                words(),
                words(),
                proptest::collection::btree_map("[A-Z_][A-Z0-9_]{0,8}", "\\PC{0,16}", 0..4),
                (any::<bool>(), "([0-9]{1,2}\\.[0-9])?", "([0-9]{1,3}GB)?"),
                proptest::collection::vec(platform, 0..4),
                ("([0-9]{1,3}[smh])?", "\\PC{0,20}", "\\PC{0,20}"),
                words(),
            ),
        )
            .prop_map(
                |(
                    (name, version, description, language, language_version),
                    (pip, npm, environment, (gpu, cuda, memory), platforms, hooks, libraries),
                )| Written {
                    schema_version: SCHEMA_VERSION.into(),
                    name,
                    version,
                    description,
                    base: WrittenBase {
                        language: LANGUAGES[language].into(),
                        version: language_version,
                    },
                    pip,
                    npm,
                    environment,
                    requirements: WrittenRequirements {
                        gpu,
                        cuda_version: cuda,
                        min_memory: memory,
                    },
                    platforms,
                    hooks: WrittenHooks {
                        timeout: hooks.0,
                        pre_install: hooks.1,
                        post_install: hooks.2,
                    },
                    libraries,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// RT-YAML-1: whatever the text, an answer and no panic.
        #[test]
        fn rt_yaml_2_never_panics_on_any_text(text in "\\PC{0,300}") {
            let _ = parse(&text);
        }

        /// The same with YAML's own punctuation, which reaches deeper into
        /// the parser and the decoder.
        #[test]
        fn rt_yaml_2_never_panics_on_yaml_like_text(
            text in "([a-z_]{1,12}:|- |[\\[\\]{},:&*!|>'\"#%@?-]|[a-z0-9. ]{1,8}|\n {0,4}){0,60}",
        ) {
            match parse(&text) {
                Ok(spec) => prop_assert!(!spec.name.is_empty() && !spec.version.is_empty()),
                Err(SpecErrors(errors)) => prop_assert!(!errors.is_empty()),
            }
        }

        /// A document built from valid fields validates, and reads back as written.
        #[test]
        fn rt_yaml_2_valid_documents_validate(doc in written()) {
            let text = serde_norway::to_string(&doc).unwrap();
            let spec = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(&spec.name, &doc.name);
            prop_assert_eq!(&spec.version, &doc.version);
            prop_assert_eq!(&spec.description, &doc.description);
            prop_assert_eq!(&spec.language, &doc.base.language);
            prop_assert_eq!(&spec.language_version, &doc.base.version);
            prop_assert_eq!(&spec.pip, &doc.pip);
            prop_assert_eq!(&spec.npm, &doc.npm);
            prop_assert_eq!(&spec.environment, &doc.environment);
            prop_assert_eq!(spec.requirements.gpu, doc.requirements.gpu);
            prop_assert_eq!(&spec.platforms, &doc.platforms);
            prop_assert_eq!(&spec.hooks.timeout, &doc.hooks.timeout);
            prop_assert_eq!(&spec.libraries, &doc.libraries);
            prop_assert_eq!(
                spec.has_hooks(),
                !doc.hooks.pre_install.is_empty() || !doc.hooks.post_install.is_empty()
            );
        }
    }
}
