//! [`Behaviour`]: how a simulated hotspot behaves.

use serde::{Deserialize, Serialize};

/// How a simulated hotspot behaves: honest, or one of the attacks of `poc-reference.md` §7
/// (implemented in [`crate::adversary`]).
#[derive(Deserialize, Serialize, Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Behaviour {
    /// Follows the protocol and reports the truth.
    #[default]
    Honest,
    /// Radio at its true position (`lat`/`lng`), asserted at `asserted_lat`/`asserted_lng`,
    /// which must be a different place; otherwise runs the stock agent.
    SpoofLocation,
    /// Rewrites the RSSI, SNR and fine timestamp of every frame it hears to what its asserted
    /// position would plausibly give.
    RssiForger,
    /// Has no radio on the air: gets beacons from its `colluders` over the internet and reports
    /// them with forged radio metadata; its own beacons go only to its colluders, who witness
    /// them the same way.
    VirtualWitness,
    /// Member of the collusion ring named by `ring`: members witness each other's beacons over
    /// the internet with forged metadata (and forge what they hear over the air).
    CollusionRing,
    /// Runs the stock agent and resubmits its earlier reports: the exact bytes, and copies
    /// re-signed with new timestamps.
    Replay,
    /// Never beacons, witnesses honestly.
    Silent,
    /// Onboarded (asserted) but never runs.
    Offline,
}

impl Behaviour {
    /// Every behaviour, in declaration order.
    pub const ALL: [Behaviour; 8] = [
        Behaviour::Honest,
        Behaviour::SpoofLocation,
        Behaviour::RssiForger,
        Behaviour::VirtualWitness,
        Behaviour::CollusionRing,
        Behaviour::Replay,
        Behaviour::Silent,
        Behaviour::Offline,
    ];

    /// The scenario name (snake case), e.g. `"spoof_location"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Behaviour::Honest => "honest",
            Behaviour::SpoofLocation => "spoof_location",
            Behaviour::RssiForger => "rssi_forger",
            Behaviour::VirtualWitness => "virtual_witness",
            Behaviour::CollusionRing => "collusion_ring",
            Behaviour::Replay => "replay",
            Behaviour::Silent => "silent",
            Behaviour::Offline => "offline",
        }
    }

    /// Whether the hotspot has a radio on the simulated air (a node of the medium).
    pub fn has_radio(self) -> bool {
        !matches!(self, Behaviour::VirtualWitness | Behaviour::Offline)
    }
}

impl std::fmt::Display for Behaviour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
