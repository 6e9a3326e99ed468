//! The MQTT gate (docs/providers/iotopen.md#mqtt-broker): rumqttd is the broker engine (routing, QoS,
//! retained messages, sessions), reached through in-process pipes; this gate owns every public MQTT
//! listener (TCP, TLS, WebSocket at `/mqtt`) and reads each packet with rumqttd's own codec to:
//!
//! - authenticate CONNECT through the provider's `Authority`, answering a refused CONNACK with
//!   the proper code (3.1.1: 0x04 bad user name or password, 0x05 not authorized; 5: 0x86,
//!   0x87) where rumqttd alone would just drop the socket;
//! - authorize every SUBSCRIBE filter and PUBLISH topic (and the will) through the provider's
//!   `Session`: a denied filter gets a SUBACK failure code (0x80; 0x87 on 5) while the allowed
//!   ones of the same SUBSCRIBE still reach the engine; a denied publish is dropped and, at QoS
//!   1 or 2, acknowledged (PUBACK/PUBREC with 0x87 on 5) so the client does not resend it;
//! - hand every accepted publish to the provider (current values, history) and record connect,
//!   subscribe, publish, denial and disconnect events in the journal;
//! - bound everything a client controls: TLS and WebSocket handshakes and the CONNECT share one
//!   deadline, packets have a maximum size, connections (and those not yet authenticated) a
//!   maximum count. Malformed input closes that one connection and nothing else.
//!
//! The files, in the order a connection meets them: `hub` (the broker started, and listeners
//! for each namespace), `listeners` (accept loops and handshakes), `transport` (TCP, TLS or
//! WebSocket as one byte stream), `relay` (one connection: CONNECT, then both directions),
//! `space` (a run's names in the shared engine), `engine` (the embedded rumqttd and the
//! server-side publisher), `engine_ids` (the client ids it sees), `codec` (framing and rumqttd's codec),
//! `read_room` (how much a read is given); `options` and
//! `shutdown` beside them. What a provider sees of MQTT is in `contract/mqtt.rs`.
//!
//! Every namespace of the server (the default one, and each run) has listeners of its own,
//! with a gate that asks that namespace's authority and journals into its journal; all relay
//! into the one engine, a run's under its own prefix (`MqttHub::open`).

pub mod codec;
mod engine;
mod engine_ids;
mod hub;
mod listeners;
mod options;
mod pending;
mod read_room;
mod relay;
mod shutdown;
mod space;
mod transport;

pub(crate) use hub::{start, MqttHub};
pub use options::MqttOptions;
pub(crate) use shutdown::stopped;
pub(crate) use space::Space;
