//! One whole packet off a stream, before relaying starts: the client's CONNECT and the
//! engine's CONNACK are each read alone. A packet is whole once its fixed header's remaining
//! length is all there ([`codec::frame`]); what arrives after it stays in the buffer for the
//! relaying that follows.

use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::io::DuplexStream;

use crate::mqtt::codec::{self, FrameError};
use crate::mqtt::transport::Reader;

/// MQTT's own ceiling on a packet (the engine's packets are not ours to bound).
pub(super) const MQTT_MAX_PACKET: usize = 268_435_460;

/// Why no packet could be read from the client.
pub(super) enum ReadFail {
    Closed,
    Io(std::io::Error),
    Frame(FrameError),
}

/// Reads until `buf` holds a whole packet and returns it with its fixed-header length.
pub(super) async fn read_frame(
    reader: &mut Reader,
    buf: &mut BytesMut,
    max: usize,
) -> Result<(BytesMut, usize), ReadFail> {
    loop {
        match codec::frame(buf, max) {
            Ok(Some(f)) => return Ok((buf.split_to(f.len), f.header_len)),
            Ok(None) => {}
            Err(e) => return Err(ReadFail::Frame(e)),
        }
        match reader.read(buf).await {
            Ok(0) => return Err(ReadFail::Closed),
            Ok(_) => {}
            Err(e) => return Err(ReadFail::Io(e)),
        }
    }
}

/// The same from the engine's connection.
pub(super) async fn read_stream_frame(
    stream: &mut DuplexStream,
    buf: &mut BytesMut,
) -> std::io::Result<(BytesMut, usize)> {
    loop {
        match codec::frame(buf, MQTT_MAX_PACKET) {
            Ok(Some(f)) => return Ok((buf.split_to(f.len), f.header_len)),
            Ok(None) => {}
            Err(e) => return Err(std::io::Error::other(e)),
        }
        if stream.read_buf(buf).await? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the engine closed the connection"));
        }
    }
}
