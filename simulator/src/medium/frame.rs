//! Length-delimited protobuf frames on a stream (prost's `encode_length_delimited`: a varint
//! length, then the message), with a cap on the length read.

use prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Largest frame the medium reads or writes, bytes.
pub const MAX_FRAME_BYTES: usize = 4 * 1024;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The length prefix announces more than [`MAX_FRAME_BYTES`].
    #[error("frame of {0} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(u64),
    /// The length prefix is not a varint of at most ten bytes.
    #[error("frame length is not a valid varint")]
    BadLength,
    /// The stream ended inside a frame.
    #[error("stream ended inside a frame")]
    Truncated,
    /// Reading the stream failed.
    #[error("stream read failed: {0}")]
    Io(#[from] std::io::Error),
    /// The frame is not the expected protobuf message.
    #[error("undecodable message: {0}")]
    Decode(#[from] prost::DecodeError),
}

/// Reads one frame and decodes it; `Ok(None)` when the stream ends cleanly between frames.
pub async fn read_frame<M, R>(reader: &mut R) -> Result<Option<M>, FrameError>
where
    M: Message + Default,
    R: AsyncRead + Unpin,
{
    let Some(len) = read_length(reader).await? else {
        return Ok(None);
    };
    let mut buf = vec![0; len];
    reader
        .read_exact(&mut buf)
        .await
        .map_err(eof_is_truncation)?;
    Ok(Some(M::decode(buf.as_slice())?))
}

/// Encodes `message` as one frame.
pub fn encode_frame<M: Message>(message: &M) -> Vec<u8> {
    message.encode_length_delimited_to_vec()
}

/// Reads the varint length prefix, refusing lengths above the cap as soon as they show.
async fn read_length<R: AsyncRead + Unpin>(reader: &mut R) -> Result<Option<usize>, FrameError> {
    let mut value: u64 = 0;
    for index in 0..10 {
        let mut byte = [0u8; 1];
        if reader.read(&mut byte).await? == 0 {
            return if index == 0 {
                Ok(None)
            } else {
                Err(FrameError::Truncated)
            };
        }
        value |= u64::from(byte[0] & 0x7f) << (7 * index);
        if value > MAX_FRAME_BYTES as u64 {
            return Err(FrameError::TooLarge(value));
        }
        if byte[0] & 0x80 == 0 {
            // At most MAX_FRAME_BYTES, so it fits.
            return Ok(Some(value as usize));
        }
    }
    Err(FrameError::BadLength)
}

fn eof_is_truncation(error: std::io::Error) -> FrameError {
    if error.kind() == std::io::ErrorKind::UnexpectedEof {
        FrameError::Truncated
    } else {
        FrameError::Io(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::proto::{MediumTransmit, MediumUp, medium_up};

    fn up(payload_len: usize) -> MediumUp {
        let transmit = MediumTransmit {
            payload: vec![7; payload_len],
            ..Default::default()
        };
        MediumUp {
            msg: Some(medium_up::Msg::Transmit(transmit)),
        }
    }

    async fn read_all(bytes: &[u8]) -> Vec<Result<Option<MediumUp>, String>> {
        let mut reader = bytes;
        let mut out = Vec::new();
        loop {
            let next = read_frame::<MediumUp, _>(&mut reader)
                .await
                .map_err(|e| e.to_string());
            let done = !matches!(next, Ok(Some(_)));
            out.push(next);
            if done {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn frames_round_trip_and_end_cleanly() {
        let mut bytes = encode_frame(&up(3));
        bytes.extend(encode_frame(&up(0)));
        let got = read_all(&bytes).await;
        assert_eq!(got, vec![Ok(Some(up(3))), Ok(Some(up(0))), Ok(None)]);
    }

    #[tokio::test]
    async fn oversized_truncated_and_garbage_frames_fail() {
        let big = encode_frame(&up(MAX_FRAME_BYTES));
        assert!(
            read_all(&big).await[0]
                .as_ref()
                .is_err_and(|e| e.contains("exceeds"))
        );
        let long_zero_varint = [0x80; 11];
        assert_eq!(
            read_all(&long_zero_varint).await[0],
            Err("frame length is not a valid varint".into())
        );
        let cut = &encode_frame(&up(10))[..5];
        assert_eq!(
            read_all(cut).await[0],
            Err("stream ended inside a frame".into())
        );
        assert_eq!(
            read_all(&[0x80]).await[0],
            Err("stream ended inside a frame".into())
        );
        let garbage = [3, 0xff, 0xff, 0xff];
        assert!(
            read_all(&garbage).await[0]
                .as_ref()
                .is_err_and(|e| e.contains("undecodable"))
        );
    }
}
