//! LoRaWAN framing of beacons: a beacon travels as a LoRaWAN *Proprietary* PHY payload, the MHDR
//! byte `0xE0` (MType 0b111, major version 0) followed by the beacon data.

/// MHDR of a Proprietary frame: MType `0b111`, RFU 0, major version LoRaWAN R1.
pub const PROPRIETARY_MHDR: u8 = 0xE0;
/// Mask of the MType bits of an MHDR byte.
const MTYPE_MASK: u8 = 0b1110_0000;

/// Wraps `data` in a Proprietary PHY payload.
pub fn proprietary_frame(data: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(1 + data.len());
    frame.push(PROPRIETARY_MHDR);
    frame.extend_from_slice(data);
    frame
}

/// The payload of a Proprietary PHY payload, or `None` for any other frame type (or an empty
/// frame). Only the MType bits of the MHDR are checked, as gateway-rs does.
pub fn parse_proprietary(frame: &[u8]) -> Option<&[u8]> {
    let (&mhdr, payload) = frame.split_first()?;
    (mhdr & MTYPE_MASK == PROPRIETARY_MHDR & MTYPE_MASK).then_some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_beacon() {
        let data: Vec<u8> = (0..51).collect();
        let frame = proprietary_frame(&data);
        assert_eq!(frame.len(), 52);
        assert_eq!(frame[0], 0xE0);
        assert_eq!(parse_proprietary(&frame), Some(&data[..]));
    }

    #[test]
    fn other_frame_types_are_not_beacons() {
        // Unconfirmed data up (0x40), join request (0x00), confirmed data down (0xA0).
        for mhdr in [0x40u8, 0x00, 0xA0, 0x80, 0x20, 0x60, 0xC0] {
            assert_eq!(parse_proprietary(&[mhdr, 1, 2, 3]), None, "MHDR {mhdr:#x}");
        }
        assert_eq!(parse_proprietary(&[]), None);
    }

    #[test]
    fn an_empty_proprietary_frame_has_an_empty_payload() {
        assert_eq!(parse_proprietary(&[0xE0]), Some(&[][..]));
        // RFU/major bits do not change the frame type.
        assert_eq!(parse_proprietary(&[0xE1, 9]), Some(&[9][..]));
    }
}
