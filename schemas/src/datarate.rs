//! Spreading factor and bandwidth of a [`DataRate`].

use crate::proto::DataRate;

impl DataRate {
    /// The data rate for a spreading factor (7..=12) and bandwidth in Hz (125, 250 or 500 kHz).
    pub fn from_sf_bw(sf: u8, bandwidth_hz: u32) -> Option<Self> {
        let base = match bandwidth_hz {
            125_000 => 0,
            250_000 => 6,
            500_000 => 12,
            _ => return None,
        };
        if !(7..=12).contains(&sf) {
            return None;
        }
        Self::try_from(base + 1 + (12 - sf as i32)).ok()
    }

    /// Spreading factor, or `None` for [`DataRate::Unspecified`].
    pub fn spreading_factor(self) -> Option<u8> {
        let v = self as i32;
        (v != 0).then(|| 12 - ((v - 1) % 6) as u8)
    }

    /// Bandwidth in Hz, or `None` for [`DataRate::Unspecified`].
    pub fn bandwidth_hz(self) -> Option<u32> {
        match self as i32 {
            1..=6 => Some(125_000),
            7..=12 => Some(250_000),
            13..=18 => Some(500_000),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_rate() {
        for sf in 7..=12u8 {
            for bw in [125_000, 250_000, 500_000] {
                let dr = DataRate::from_sf_bw(sf, bw).expect("valid");
                assert_eq!(dr.spreading_factor(), Some(sf));
                assert_eq!(dr.bandwidth_hz(), Some(bw));
            }
        }
        assert_eq!(DataRate::from_sf_bw(9, 125_000), Some(DataRate::Sf9bw125));
        assert_eq!(DataRate::from_sf_bw(6, 125_000), None);
        assert_eq!(DataRate::from_sf_bw(9, 62_500), None);
        assert_eq!(DataRate::Unspecified.spreading_factor(), None);
    }
}
