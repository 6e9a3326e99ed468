//! A client connection as one byte stream, whatever carries it: plain TCP, TLS, or WebSocket
//! (MQTT over WebSocket sends the MQTT byte stream in binary messages; one message may hold
//! several packets or part of one, so the gate frames the bytes itself, as on TCP).
//!
//! Each connection is split in a reading half and a writing half, so the gate can relay both
//! directions at once: a client that stops reading only ever stalls its own connection.

use std::io;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::read_room::ReadRoom;

type Tls = TlsStream<TcpStream>;
type Ws = WebSocketStream<TcpStream>;

/// Which listener a connection came through; its name is the `transport` of journal events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tcp,
    Tls,
    Ws,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tcp => "tcp",
            Kind::Tls => "tls",
            Kind::Ws => "ws",
        }
    }
}

pub enum Transport {
    Tcp(TcpStream),
    Tls(Box<Tls>),
    Ws(Box<Ws>),
}

impl Transport {
    pub fn split(self) -> (Reader, Writer) {
        match self {
            Transport::Tcp(s) => {
                let (r, w) = s.into_split();
                (Reader::new(ReadStream::Tcp(r)), Writer::Tcp(w))
            }
            Transport::Tls(s) => {
                let (r, w) = tokio::io::split(*s);
                (Reader::new(ReadStream::Tls(r)), Writer::Tls(w))
            }
            Transport::Ws(s) => {
                let (w, r) = (*s).split();
                (Reader::new(ReadStream::Ws(r)), Writer::Ws(w))
            }
        }
    }
}

pub struct Reader {
    stream: ReadStream,
    room: ReadRoom,
}

enum ReadStream {
    Tcp(OwnedReadHalf),
    Tls(ReadHalf<Tls>),
    Ws(SplitStream<Ws>),
}

impl Reader {
    fn new(stream: ReadStream) -> Reader {
        Reader { stream, room: ReadRoom::default() }
    }

    /// Appends what arrives to `buf`; `Ok(0)` at the end of the stream. Cancel-safe.
    pub async fn read(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        let room = self.room.make(buf);
        let read = self.read_into(buf).await?;
        self.room.read(read, room);
        Ok(read)
    }

    async fn read_into(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        match &mut self.stream {
            ReadStream::Tcp(r) => r.read_buf(buf).await,
            ReadStream::Tls(r) => r.read_buf(buf).await,
            ReadStream::Ws(r) => loop {
                match r.next().await {
                    None | Some(Ok(Message::Close(_))) => return Ok(0),
                    Some(Ok(Message::Binary(bytes))) if bytes.is_empty() => continue,
                    Some(Ok(Message::Binary(bytes))) => {
                        buf.extend_from_slice(&bytes);
                        return Ok(bytes.len());
                    }
                    Some(Ok(Message::Text(_))) => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "MQTT over WebSocket must use binary messages",
                        ))
                    }
                    // Pings are answered by tungstenite itself.
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(io::Error::other(e)),
                }
            },
        }
    }
}

pub enum Writer {
    Tcp(OwnedWriteHalf),
    Tls(WriteHalf<Tls>),
    Ws(SplitSink<Ws, Message>),
}

impl Writer {
    pub async fn write(&mut self, bytes: Bytes) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        match self {
            Writer::Tcp(w) => w.write_all(&bytes).await,
            Writer::Tls(w) => {
                w.write_all(&bytes).await?;
                w.flush().await
            }
            Writer::Ws(w) => w.send(Message::Binary(bytes)).await.map_err(io::Error::other),
        }
    }

    /// Closes the connection politely (TLS close_notify, WebSocket close frame).
    pub async fn close(&mut self) {
        let _ = match self {
            Writer::Tcp(w) => w.shutdown().await,
            Writer::Tls(w) => w.shutdown().await,
            Writer::Ws(w) => w.close().await.map_err(io::Error::other),
        };
    }
}
