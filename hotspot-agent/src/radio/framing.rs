//! Length-delimited protobuf framing (`prost::Message::encode_length_delimited`) with a bound
//! on the message size, for reading a byte stream incrementally.

/// Largest varint length prefix, bytes.
const MAX_VARINT_LEN: usize = 10;

/// Why a byte stream is not a sequence of length-delimited messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// The length prefix is not a valid varint.
    #[error("invalid length prefix")]
    BadLength,
    /// A message is larger than allowed.
    #[error("message of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// Declared length.
        len: u64,
        /// The limit.
        max: usize,
    },
}

/// Finds the first complete message in `buf`: `Ok(Some((header_len, body_len)))` when
/// `buf[header_len..header_len + body_len]` is a whole message, `Ok(None)` when more bytes are
/// needed.
pub fn next_message(buf: &[u8], max: usize) -> Result<Option<(usize, usize)>, FramingError> {
    let mut len: u64 = 0;
    for (i, byte) in buf.iter().take(MAX_VARINT_LEN).enumerate() {
        let bits = u64::from(byte & 0x7f);
        if i == MAX_VARINT_LEN - 1 && *byte > 1 {
            return Err(FramingError::BadLength);
        }
        len |= bits << (7 * i);
        if byte & 0x80 == 0 {
            let body = usize::try_from(len).ok().filter(|l| *l <= max);
            let body = body.ok_or(FramingError::TooLarge { len, max })?;
            let header = i + 1;
            return Ok((buf.len() >= header + body).then_some((header, body)));
        }
    }
    if buf.len() >= MAX_VARINT_LEN {
        return Err(FramingError::BadLength);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use schemas::proto::{MediumTxDone, medium_down};

    fn encoded(tmst: u32) -> Vec<u8> {
        let msg = schemas::proto::MediumDown {
            msg: Some(medium_down::Msg::TxDone(MediumTxDone {
                tmst,
                ..Default::default()
            })),
        };
        msg.encode_length_delimited_to_vec()
    }

    #[test]
    fn finds_messages_in_a_stream_read_piecewise() {
        let mut stream = encoded(1);
        stream.extend(encoded(300));
        let (header, body) = next_message(&stream, 1024).expect("ok").expect("complete");
        assert_eq!(header, 1);
        let first =
            schemas::proto::MediumDown::decode(&stream[header..header + body]).expect("decode");
        assert!(matches!(
            first.msg,
            Some(medium_down::Msg::TxDone(MediumTxDone { tmst: 1, .. }))
        ));
        let rest = &stream[header + body..];
        for cut in 0..rest.len() {
            assert_eq!(
                next_message(&rest[..cut], 1024),
                Ok(None),
                "prefix of {cut} bytes"
            );
        }
        assert!(next_message(rest, 1024).expect("ok").is_some());
    }

    #[test]
    fn refuses_oversized_and_malformed_prefixes() {
        let big = [0x80, 0x80, 0x04]; // 65536
        assert_eq!(
            next_message(&big, 4096),
            Err(FramingError::TooLarge {
                len: 65536,
                max: 4096
            })
        );
        assert_eq!(
            next_message(&[0xff; 10], 4096),
            Err(FramingError::BadLength)
        );
        assert_eq!(next_message(&[0xff; 9], 4096), Ok(None));
        assert_eq!(next_message(&[], 4096), Ok(None));
        assert_eq!(next_message(&[0], 4096), Ok(Some((1, 0))));
    }
}
