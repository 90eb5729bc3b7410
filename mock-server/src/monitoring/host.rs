//! Real facts about the machine the mock runs on (hostname, OS release,
//! kernel, total memory, boot time), read once from `/proc` and `/etc`.

use std::sync::OnceLock;

/// Real facts about the machine the mock runs on, read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    pub hostname: String,
    pub platform: String,
    pub platform_family: String,
    pub platform_version: String,
    pub kernel_version: String,
    /// `uname -m` style (`x86_64`, `aarch64`).
    pub kernel_arch: String,
    /// Go style (`amd64`, `arm64`).
    pub architecture: String,
    /// Bytes.
    pub total_memory: u64,
    /// Unix seconds, when known.
    pub boot_time: Option<i64>,
}

/// Fallback total memory: 16 GiB.
pub const FALLBACK_TOTAL_MEMORY: u64 = 16 << 30;

/// The host's facts, read from `/proc` and `/etc/os-release` on first use.
pub fn host_facts() -> &'static HostFacts {
    static FACTS: OnceLock<HostFacts> = OnceLock::new();
    FACTS.get_or_init(read_host_facts)
}

pub(super) fn read_trimmed(path: &str) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// `x86_64` → `amd64`, `aarch64` → `arm64` (the names Go and Joblet use).
pub fn go_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// `(platform, family, version)` from os-release text.
pub(super) fn parse_os_release(text: &str) -> Option<(String, String, String)> {
    let mut id = None;
    let mut like = None;
    let mut version = None;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').trim_matches('\'').to_owned();
        match k.trim() {
            "ID" => id = Some(v),
            "ID_LIKE" => like = Some(v),
            "VERSION_ID" => version = Some(v),
            _ => {}
        }
    }
    let id = id.filter(|i| !i.is_empty())?.to_ascii_lowercase();
    let family = match id.as_str() {
        "debian" | "ubuntu" | "linuxmint" | "raspbian" | "pop" | "kali" => "debian".to_owned(),
        "rhel" | "centos" | "fedora" | "rocky" | "almalinux" | "amzn" | "ol" => "rhel".to_owned(),
        "alpine" => "alpine".to_owned(),
        "arch" | "manjaro" => "arch".to_owned(),
        "sles" | "opensuse" | "opensuse-leap" | "opensuse-tumbleweed" => "suse".to_owned(),
        _ => like
            .as_deref()
            .and_then(|l| l.split_whitespace().next())
            .map_or_else(|| id.clone(), str::to_owned),
    };
    Some((id, family, version.unwrap_or_default()))
}

pub(super) fn read_host_facts() -> HostFacts {
    let hostname = read_trimmed("/proc/sys/kernel/hostname")
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "joblet-mock".to_owned());
    let (platform, platform_family, platform_version) = ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|p| parse_os_release(&std::fs::read_to_string(p).ok()?))
        .unwrap_or_else(|| ("debian".into(), "debian".into(), "12".into()));
    let kernel_version =
        read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_else(|| "6.1.0".to_owned());
    let total_memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .filter(|b| *b > 0)
        .unwrap_or(FALLBACK_TOTAL_MEMORY);
    let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<i64>().ok())
    });
    let arch = std::env::consts::ARCH;
    HostFacts {
        hostname,
        platform,
        platform_family,
        platform_version,
        kernel_version,
        kernel_arch: arch.to_owned(),
        architecture: go_arch(arch).to_owned(),
        total_memory,
        boot_time,
    }
}
