//! How a relayed connection ends. Whichever direction stops first says why ([`End`]): the
//! client or the engine closing or failing, a fault rule dropping the client, the server
//! shutting down, or a packet the gate will not relay. A malformed or oversized packet ends
//! that connection only (on 5 with a DISCONNECT saying why: 0x81 malformed, 0x95 packet too
//! large, 0x82 protocol error; 0x90 and 0x94 for a PUBLISH's bad topic name or alias, 0x8B when
//! the server shuts down). 3.1.1 has no DISCONNECT from the server: the connection is just
//! closed. Every end is journaled as a disconnection, with its reason.

use crate::mqtt::codec::{DisconnectReasonCode, FrameError};

/// Why a connection ended, and what to tell a 5 client first.
pub(super) struct End {
    pub(super) reason: String,
    pub(super) disconnect: Option<DisconnectReasonCode>,
}

impl End {
    pub(super) fn quiet(reason: impl Into<String>) -> End {
        End { reason: reason.into(), disconnect: None }
    }

    pub(super) fn telling(reason: impl Into<String>, code: DisconnectReasonCode) -> End {
        End { reason: reason.into(), disconnect: Some(code) }
    }

    /// A packet that cannot be framed: too large (0x95) or malformed (0x81).
    pub(super) fn frame(e: FrameError) -> End {
        let code = match e {
            FrameError::TooLarge(..) => DisconnectReasonCode::PacketTooLarge,
            FrameError::Malformed => DisconnectReasonCode::MalformedPacket,
        };
        End::telling(e.to_string(), code)
    }
}
