//! One client connection through the gate, file by file in the order the connection meets it:
//!
//! 1. [`held`]: the slots the listeners gave it, one of them until CONNECT is through.
//! 2. [`gate`]: the gate of its namespace, which judges and journals; [`serve`]: its life.
//! 3. [`connect`]: CONNECT, within the handshake deadline: protocol level, credentials, will.
//!    [`connack`]: the CONNECT goes on to the engine, the engine's CONNACK back to the client.
//! 4. Both directions, concurrently. Client to engine ([`upstream`]): PUBLISH topics
//!    ([`publish`]) and SUBSCRIBE filters ([`subscribe`]) are authorized ([`authorize`],
//!    after any fault rule, [`fault`]); everything else is relayed untouched, as raw bytes.
//!    Engine to client ([`downstream`]): each PUBLISH judged for the receiving connection,
//!    within the client's receive window ([`flow`]); relayed untouched but for merged SUBACKs.
//! 5. [`end`]: why it ends, and what a 5 client is told then. [`conn`] is what both directions
//!    share; [`frames`] reads the first packet of each side.
//!
//! In a run's namespace ([`Space`](crate::mqtt::space::Space)), what the engine routes by is
//! renamed on the way: client id, will topic, PUBLISH topics and SUBSCRIBE/UNSUBSCRIBE filters
//! get the run's prefix going in, and PUBLISH topics lose it coming out (then those packets are
//! re-encoded, not relayed as raw bytes). The default namespace relays as described above.

mod authorize;
mod conn;
mod connack;
mod connect;
mod downstream;
mod end;
mod fault;
mod flow;
mod frames;
mod gate;
mod held;
mod publish;
mod serve;
mod subscribe;
mod upstream;

pub use gate::{Gate, SERVICE};
pub use held::Held;
pub use serve::serve;
