//! LoRaWAN regions: channel plans and the H3 maps that say which region a location is in.
//!
//! Both are embedded copies of Helium's `lorawan-h3` data (see `data/regions/README.md`), so
//! every party derives and checks beacons from identical bytes.

use h3o::{CellIndex, Resolution};
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// Errors about regions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    #[error("unknown region {0:?} (known: {known})", known = Region::ALL.iter().map(|r| r.name()).collect::<Vec<_>>().join(", "))]
    Unknown(String),
    #[error("embedded channel plan of {0} is invalid: {1}")]
    BadPlan(&'static str, String),
}

macro_rules! regions {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// A LoRaWAN region with a channel plan.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Region { $($variant),* }

        impl Region {
            /// Every region, in a fixed order.
            pub const ALL: &'static [Region] = &[$(Region::$variant),*];

            /// The region's name as used in Helium's data (`US915`, `AS923-1`, ...).
            pub fn name(self) -> &'static str {
                match self { $(Region::$variant => $name),* }
            }

            fn plan_json(self) -> &'static str {
                match self {
                    $(Region::$variant => include_str!(concat!("../data/regions/region_params/", $name, ".json"))),*
                }
            }
        }
    };
}

regions! {
    As923_1 => "AS923-1",
    As923_1b => "AS923-1B",
    As923_1c => "AS923-1C",
    As923_2 => "AS923-2",
    As923_3 => "AS923-3",
    As923_4 => "AS923-4",
    Au915 => "AU915",
    Au915Sb1 => "AU915-SB1",
    Cd900_1a => "CD900-1A",
    Cn470 => "CN470",
    Eu433 => "EU433",
    Eu868 => "EU868",
    In865 => "IN865",
    Kr920 => "KR920",
    Ru864 => "RU864",
    Us915 => "US915",
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Region {
    type Err = RegionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::ALL
            .iter()
            .copied()
            .find(|r| r.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| RegionError::Unknown(s.to_string()))
    }
}

/// One channel of a region's plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Channel {
    /// Centre frequency in Hz.
    #[serde(rename = "channel_frequency")]
    pub frequency_hz: u64,
    /// Bandwidth in Hz.
    #[serde(rename = "bandwidth")]
    pub bandwidth_hz: u32,
    /// Maximum EIRP, dBm x 10.
    #[serde(rename = "max_eirp")]
    pub max_eirp_ddbm: i32,
    /// Allowed spreading factors by maximum packet size, in the plan's order.
    pub spreading: Spreading,
}

/// Spreading factors allowed per packet size.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Spreading {
    /// In the plan's order; the first that fits a packet is used.
    pub tagged_spreading: Vec<TaggedSpreading>,
}

/// A spreading factor usable up to a packet size.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct TaggedSpreading {
    /// `SF7` .. `SF12`.
    pub region_spreading: String,
    /// Largest packet (bytes) this spreading factor may carry.
    pub max_packet_size: u32,
}

impl TaggedSpreading {
    /// The spreading factor as a number.
    pub fn sf(&self) -> Option<u8> {
        self.region_spreading.strip_prefix("SF")?.parse().ok()
    }
}

/// A region's channel plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ChannelPlan {
    /// The channels, in the plan's order (beacon frequency selection indexes into it).
    #[serde(rename = "region_params")]
    pub channels: Vec<Channel>,
}

impl ChannelPlan {
    /// The highest max EIRP of any channel, dBm x 10.
    pub fn max_eirp_ddbm(&self) -> i32 {
        self.channels
            .iter()
            .map(|c| c.max_eirp_ddbm)
            .max()
            .unwrap_or(0)
    }
}

/// The embedded channel plan of `region`.
pub fn channel_plan(region: Region) -> Result<&'static ChannelPlan, RegionError> {
    static PLANS: OnceLock<Vec<Result<ChannelPlan, String>>> = OnceLock::new();
    let plans = PLANS.get_or_init(|| {
        Region::ALL
            .iter()
            .map(|r| {
                let plan: ChannelPlan =
                    serde_json::from_str(r.plan_json()).map_err(|e| e.to_string())?;
                if plan.channels.is_empty() {
                    return Err("no channels".to_string());
                }
                Ok(plan)
            })
            .collect()
    });
    let index = Region::ALL.iter().position(|r| *r == region).unwrap_or(0);
    plans[index]
        .as_ref()
        .map_err(|e| RegionError::BadPlan(region.name(), e.clone()))
}

/// Region map files, in priority order: where two regions list the same cell at the same
/// resolution, the earlier one wins. (`Unknown` lists places with no region; it is last.)
const MAPS: &[(Option<Region>, &[u8])] = &[
    (
        Some(Region::Us915),
        include_bytes!("../data/regions/serialized/US915.res7.h3idx"),
    ),
    (
        Some(Region::Eu868),
        include_bytes!("../data/regions/serialized/EU868.res7.h3idx"),
    ),
    (
        Some(Region::Eu433),
        include_bytes!("../data/regions/serialized/EU433.res7.h3idx"),
    ),
    (
        Some(Region::Cn470),
        include_bytes!("../data/regions/serialized/CN470.res7.h3idx"),
    ),
    (
        Some(Region::Au915),
        include_bytes!("../data/regions/serialized/AU915.res7.h3idx"),
    ),
    (
        Some(Region::Au915Sb1),
        include_bytes!("../data/regions/serialized/AU915-SB1.res7.h3idx"),
    ),
    (
        Some(Region::As923_1),
        include_bytes!("../data/regions/serialized/AS923-1.res7.h3idx"),
    ),
    (
        Some(Region::As923_1b),
        include_bytes!("../data/regions/serialized/AS923-1B.res7.h3idx"),
    ),
    (
        Some(Region::As923_1c),
        include_bytes!("../data/regions/serialized/AS923-1C.res7.h3idx"),
    ),
    (
        Some(Region::As923_2),
        include_bytes!("../data/regions/serialized/AS923-2.res7.h3idx"),
    ),
    (
        Some(Region::As923_3),
        include_bytes!("../data/regions/serialized/AS923-3.res7.h3idx"),
    ),
    (
        Some(Region::As923_4),
        include_bytes!("../data/regions/serialized/AS923-4.res7.h3idx"),
    ),
    (
        Some(Region::Kr920),
        include_bytes!("../data/regions/serialized/KR920.res7.h3idx"),
    ),
    (
        Some(Region::In865),
        include_bytes!("../data/regions/serialized/IN865.res7.h3idx"),
    ),
    (
        Some(Region::Ru864),
        include_bytes!("../data/regions/serialized/RU864.res7.h3idx"),
    ),
    (
        None,
        include_bytes!("../data/regions/serialized/Unknown.res7.h3idx"),
    ),
];

/// Sorted `(cell, region)` pairs of every map, one entry per cell.
fn region_index() -> &'static [(u64, Option<Region>)] {
    static INDEX: OnceLock<Vec<(u64, Option<Region>)>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut all: Vec<(u64, usize)> = Vec::new();
        for (priority, (_, bytes)) in MAPS.iter().enumerate() {
            all.extend(
                bytes
                    .chunks_exact(8)
                    .map(|c| (u64::from_le_bytes(c.try_into().unwrap_or([0; 8])), priority)),
            );
        }
        all.sort_unstable();
        all.dedup_by_key(|(cell, _)| *cell);
        all.into_iter()
            .map(|(cell, priority)| (cell, MAPS[priority].0))
            .collect()
    })
}

/// The region a location is in: the region listing its finest ancestor (res 7 up to 0).
/// `None` when it is in no region.
pub fn region_of(cell: CellIndex) -> Option<Region> {
    let index = region_index();
    let finest = u8::from(cell.resolution()).min(7);
    (0..=finest).rev().find_map(|res| {
        let ancestor = cell.parent(Resolution::try_from(res).ok()?)?;
        let key = u64::from(ancestor);
        index
            .binary_search_by_key(&key, |(c, _)| *c)
            .ok()
            .map(|i| index[i].1)
    })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use h3o::LatLng;

    fn cell(lat: f64, lng: f64) -> CellIndex {
        LatLng::new(lat, lng)
            .expect("coords")
            .to_cell(Resolution::Twelve)
    }

    #[test]
    fn every_embedded_plan_parses() {
        for region in Region::ALL {
            let plan = channel_plan(*region).expect("plan");
            assert!(
                plan.channels
                    .iter()
                    .all(|c| c.bandwidth_hz == 125_000 && c.frequency_hz > 40_000_000)
            );
            assert!(
                plan.channels[0]
                    .spreading
                    .tagged_spreading
                    .iter()
                    .all(|t| t.sf().is_some())
            );
        }
        assert_eq!(
            channel_plan(Region::Us915).expect("plan").max_eirp_ddbm(),
            360
        );
    }

    #[test]
    fn eu433_plan_is_kept_as_published() {
        // Helium's EU433 plan lists 43.3175 MHz (a factor of ten off 433.175 MHz). The data is
        // embedded unchanged so beacons derive exactly as Helium's did; this pins that fact.
        let plan = channel_plan(Region::Eu433).expect("plan");
        assert_eq!(plan.channels[0].frequency_hz, 43_317_500);
    }

    #[test]
    fn names_round_trip() {
        for region in Region::ALL {
            assert_eq!(region.name().parse::<Region>(), Ok(*region));
        }
        assert!("XX123".parse::<Region>().is_err());
    }

    #[test]
    fn real_places_are_in_their_regions() {
        assert_eq!(region_of(cell(37.7749, -122.4194)), Some(Region::Us915)); // San Francisco
        assert_eq!(region_of(cell(48.8566, 2.3522)), Some(Region::Eu868)); // Paris
        assert_eq!(region_of(cell(40.7128, -74.0060)), Some(Region::Us915)); // New York
        assert_eq!(region_of(cell(37.5665, 126.9780)), Some(Region::Kr920)); // Seoul
        assert_eq!(region_of(cell(0.0, -140.0)), None); // Pacific Ocean
    }
}
