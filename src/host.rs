//! A description of the server the app runs on, for the `BATCH_PROCESS_DIRECT`
//! fraud-prevention headers of work no user started (the scheduled obligations refresh):
//! local IPs, MAC addresses, OS, device and OS user. Read from the operating system; nothing
//! is sent anywhere.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::Path;

use hmrc_mtd::fraud::DeviceUserAgent;

/// What HMRC's batch headers say about this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDescription {
    /// `Gov-Client-Local-IPs`.
    pub local_ips: Vec<IpAddr>,
    /// `Gov-Client-MAC-Addresses` (`aa:bb:cc:dd:ee:ff`).
    pub mac_addresses: Vec<String>,
    /// `Gov-Client-User-Agent`.
    pub user_agent: DeviceUserAgent,
    /// The OS user the process runs as.
    pub os_user: String,
}

/// Describes this host.
pub fn describe() -> HostDescription {
    HostDescription {
        local_ips: local_ips(),
        mac_addresses: mac_addresses(Path::new("/sys/class/net")),
        user_agent: DeviceUserAgent {
            os_family: os_family(),
            os_version: read_trimmed("/proc/sys/kernel/osrelease")
                .unwrap_or_else(|| std::env::consts::ARCH.to_owned()),
            device_manufacturer: read_trimmed("/sys/class/dmi/id/sys_vendor")
                .unwrap_or_else(|| "Generic".to_owned()),
            device_model: read_trimmed("/sys/class/dmi/id/product_name")
                .unwrap_or_else(|| format!("{} server", std::env::consts::ARCH)),
        },
        os_user: std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| "mtd".to_owned()),
    }
}

/// The address of the interface that routes outwards. Connecting a UDP socket sends no
/// packet; it only asks the kernel which local address it would use. Loopback when the host
/// has no route (an offline machine).
fn local_ips() -> Vec<IpAddr> {
    let routed = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|socket| {
            socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9))?;
            socket.local_addr()
        })
        .map(|addr| addr.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified());
    vec![routed.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))]
}

fn mac_addresses(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut macs: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name() != "lo")
        .filter_map(|e| read_trimmed(e.path().join("address")))
        .filter(|mac| is_mac(mac) && mac != "00:00:00:00:00:00")
        .collect();
    macs.sort();
    macs.dedup();
    macs
}

fn is_mac(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn os_family() -> String {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "macOS",
        "windows" => "Windows",
        "freebsd" => "FreeBSD",
        other => other,
    }
    .to_owned()
}

fn read_trimmed(path: impl AsRef<Path>) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_has_every_batch_value() {
        let host = describe();
        assert!(!host.local_ips.is_empty());
        assert!(!host.user_agent.os_family.is_empty());
        assert!(!host.user_agent.os_version.is_empty());
        assert!(!host.user_agent.device_manufacturer.is_empty());
        assert!(!host.user_agent.device_model.is_empty());
        assert!(!host.os_user.is_empty());
    }

    #[test]
    fn mac_addresses_skip_loopback_and_zero_addresses() {
        let dir = tempfile::tempdir().unwrap();
        for (name, mac) in [
            ("lo", "00:00:00:00:00:00"),
            ("eth0", "02:42:ac:11:00:02"),
            ("dummy0", "00:00:00:00:00:00"),
            ("weird", "not-a-mac"),
        ] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
            std::fs::write(dir.path().join(name).join("address"), format!("{mac}\n")).unwrap();
        }
        assert_eq!(
            mac_addresses(dir.path()),
            vec!["02:42:ac:11:00:02".to_owned()]
        );
    }
}
