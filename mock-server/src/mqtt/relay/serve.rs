//! One connection's life. Its CONNECT is read and judged ([`connect`](super::connect)) and
//! passed on to the engine ([`connack`](super::connack)); a connection refused there ends
//! there. Then both directions run at once, client to engine and engine to client, until one
//! of them ends or the server stops; the end is told to a 5 client (a DISCONNECT with a reason
//! code, when the end has one), the connection closed and the disconnection journaled.

use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::watch;
use tokio::time::Instant;

use super::conn::Conn;
use super::connack::pass_on;
use super::connect::accept;
use super::downstream::downstream;
use super::end::End;
use super::gate::Gate;
use super::held::Held;
use super::upstream::upstream;
use crate::mqtt::codec::DisconnectReasonCode;
use crate::mqtt::shutdown::stopped;
use crate::mqtt::transport::{Kind, Reader, Transport};

/// Serves one connection until either side closes it or the server stops.
pub async fn serve(
    gate: &Gate,
    transport: Transport,
    kind: Kind,
    deadline: Instant,
    mut held: Held,
    mut shutdown: watch::Receiver<bool>,
) {
    let name = kind.name();
    let (mut reader, mut writer) = transport.split();
    let mut inbuf = BytesMut::new();
    let (client, hello) = match accept(gate, name, &mut reader, &mut inbuf, deadline).await {
        Ok(accepted) => accepted,
        Err(rejected) => return rejected.close(gate, name, &mut writer).await,
    };
    let (engine, engine_buf) = match pass_on(gate, name, &client, hello, &mut writer, &mut held).await {
        Ok(linked) => linked,
        Err(rejected) => return rejected.close(gate, name, &mut writer).await,
    };
    let (engine_read, engine_write) = tokio::io::split(engine);
    let conn = Conn::new(client, name, writer, engine_write);
    let end = tokio::select! {
        end = upstream(gate, &conn, &mut reader, inbuf) => end,
        end = downstream(gate, &conn, engine_read, engine_buf) => end,
        _ = stopped(&mut shutdown) => End::telling("the server is shutting down", DisconnectReasonCode::ServerShuttingDown),
    };
    // At shutdown nothing waits for the client.
    let told = end.disconnect.is_some_and(|code| code != DisconnectReasonCode::ServerShuttingDown);
    conn.close(end.disconnect).await;
    gate.disconnected(conn.transport, Some(&conn.client_id), &end.reason);
    if told {
        drain(&mut reader).await;
    }
}

/// How long a client told why its connection ends may go on sending before the socket goes.
const LINGER: Duration = Duration::from_millis(500);

/// Reads and drops what the client still sends after its DISCONNECT, until it closes or
/// [`LINGER`] passes: a socket closed with unread bytes is reset, and a reset can reach the
/// client before the DISCONNECT it has not read yet (a client answering PUBRECs that came
/// before it then fails on a broken pipe instead of reading why).
async fn drain(reader: &mut Reader) {
    let mut sink = BytesMut::with_capacity(4096);
    let _ = tokio::time::timeout(LINGER, async {
        loop {
            sink.clear();
            match reader.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
}
