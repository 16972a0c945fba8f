//! Simulated adversaries: the attacks of `poc-reference.md` §7 as [`Radio`] wrappers and side
//! tasks around the stock, unmodified `hotspot-agent`.
//!
//! An attacker in this model is the stock agent with a doctored radio (a modified packet
//! forwarder) and, for replays, an extra process talking to the oracle:
//! - [`ForgingRadio`] (`rssi_forger`; also under ring members) rewrites what the radio reports
//!   for a heard beacon (RSSI, SNR, fine timestamp, `tmst`) to what the hotspot's *asserted*
//!   position would plausibly give ([`Forger`]).
//! - [`CollusionRadio`] (`virtual_witness`, `collusion_ring`, and the colluders relaying to a
//!   virtual witness) adds an in-process "internet", the [`InternetHub`]: colluders publish the
//!   beacons they send (and, for relays, hear), and subscribers turn each into a forged
//!   reception. [`NoAir`] is the radio of a hotspot that is not on the air at all.
//! - [`Replayer`] (`replay`) resubmits the hotspot's earlier reports: exact bytes and re-signed
//!   copies with new timestamps.
//! - `spoof_location`, `silent` and `offline` need no code here: an asserted position other
//!   than the true one, `beacon_enabled = false`, and no agent (see `run`).
//!
//! Forgers know who sent each beacon and when from the medium's [`TruthBook`], and the public
//! asserted positions from the [`Directory`]: this models a well-informed attacker (see
//! [`crate::medium::truth`]). Their metadata passes every simple check; catching them takes
//! physics across witnesses (time of flight, the beacon's true origin) and the witness graph.
//!
//! [`Radio`]: hotspot_agent::Radio
//! [`TruthBook`]: crate::medium::TruthBook

mod forge;
mod hub;
mod radio;
mod replay;

use std::collections::HashMap;

use schemas::PublicKey;

pub use forge::{FORGED_RSSI_NOISE_DB, Forger, Heard, SENSITIVITY_MARGIN_DB};
pub use hub::{InternetHub, Subscription};
pub use radio::{Channels, CollusionRadio, ForgingRadio, NoAir};
pub use replay::{ReplayStats, Replayer, ReplayerConfig};

/// Where a hotspot claims to be: what anyone can read from its location assertion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// Asserted latitude, degrees.
    pub lat: f64,
    /// Asserted longitude, degrees.
    pub lng: f64,
    /// Asserted antenna gain, dBi.
    pub gain_dbi: f64,
}

/// The public asserted placement of every hotspot, by key.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    placements: HashMap<PublicKey, Placement>,
}

impl Directory {
    /// A directory of `placements`.
    pub fn new(placements: impl IntoIterator<Item = (PublicKey, Placement)>) -> Self {
        Self {
            placements: placements.into_iter().collect(),
        }
    }

    /// `key`'s asserted placement, if it is a hotspot.
    pub fn get(&self, key: &PublicKey) -> Option<Placement> {
        self.placements.get(key).copied()
    }
}
