//! The HTTP front door: every request of every HTTP listener comes in here and goes through
//! these files in this order, each importing only those after it:
//! [`listener`] (accept loops) → [`connection`] (TLS, HTTP/1.1 and HTTP/2, the connection's
//! facts; dropped connections and proxy tunnels carried out) → [`run_selection`] (which
//! namespace) → the namespace's [`door`] → [`proxy`] (CONNECT and absolute-form requests) →
//! [`route`] (which service) → [`exchange`] (the journal record of the exchange) → [`fault`]
//! (a fired fault's action), and [`handler`], what they all hand requests to. [`deadlines`] bounds
//! a connection in time; [`unread_body`] keeps a connection open after a service refused a
//! request without reading its body.

pub mod connection;
pub mod deadlines;
pub mod door;
pub mod exchange;
pub mod fault;
pub mod handler;
pub mod listener;
pub mod proxy;
pub mod route;
pub mod run_selection;
pub mod unread_body;
