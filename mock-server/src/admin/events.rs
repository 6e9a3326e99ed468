//! `GET /__admin/events` (filtered by provider, service, kind and sequence number), `DELETE`, and
//! `GET /__admin/events/stream`, the same events live as server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use super::reply::error;
use super::state::AdminState;
use crate::journal::{Event, EventFilter, Following, Notice, MAX_FOLLOWERS};

pub async fn events(
    State(s): State<AdminState>,
    filter: Result<Query<EventFilter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(filter) = match filter {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", format!("query: {}", e.body_text())),
    };
    let journal = s.ns.journal();
    let page = Page {
        events: journal.events(&filter),
        next_seq: journal.next_seq(),
        dropped: journal.dropped(),
        capacity: journal.capacity(),
    };
    Json(page).into_response()
}

/// The answer, serialized straight from the events: a full journal through `json!` built a
/// tree of maps several times the size of the text.
#[derive(Serialize)]
struct Page {
    events: Vec<Event>,
    next_seq: u64,
    dropped: u64,
    capacity: usize,
}

pub async fn clear_events(State(s): State<AdminState>) -> Response {
    s.ns.journal().clear();
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /__admin/events/stream`: the journal as server-sent events, live. First the kept
/// events the query matches (the same filters as `GET /__admin/events`), then each new one as
/// it is recorded: `id: <seq>`, `event: journal`, `data: <the event's JSON>`. A reader that
/// falls more than 1 024 notices behind is told
/// `event: lagged` with `{"missed": N}` and goes on with the newest; a cleared journal is
/// `event: cleared`. `Last-Event-ID` (what an `EventSource` sends when it reconnects) resumes
/// after that event. At most [`MAX_FOLLOWERS`] streams at once per namespace: 503 beyond.
pub async fn stream(
    State(s): State<AdminState>,
    headers: HeaderMap,
    filter: Result<Query<EventFilter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(mut filter) = match filter {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", format!("query: {}", e.body_text())),
    };
    if let Some(last) = headers.get("last-event-id") {
        match last.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()) {
            Some(seq) => filter.since = Some(filter.since.map_or(seq, |since| since.max(seq))),
            None => {
                return error(StatusCode::BAD_REQUEST, "bad_request", "Last-Event-ID: not an event sequence number")
            }
        }
    }
    let Some(following) = s.ns.journal().follow(&filter) else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_streams",
            format!("{MAX_FOLLOWERS} event streams are open on this namespace already; close one"),
        );
    };
    let feed = Feed { following, next_kept: 0, filter };
    let events = futures_util::stream::unfold(feed, Feed::next);
    let mut response = Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A comment line this often keeps proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One stream's place: in the kept events, then in the notices.
struct Feed {
    following: Following,
    next_kept: usize,
    filter: EventFilter,
}

impl Feed {
    async fn next(mut self) -> Option<(Result<SseEvent, Infallible>, Feed)> {
        if let Some(event) = self.following.kept.get(self.next_kept) {
            self.next_kept += 1;
            let message = journal_message(event);
            return Some((Ok(message), self));
        }
        self.following.kept = Vec::new();
        loop {
            let message = match self.following.notices.recv().await {
                Ok(Notice::Recorded(event)) if self.filter.matches(&event) => journal_message(&event),
                Ok(Notice::Recorded(_)) => continue,
                Ok(Notice::Cleared) => SseEvent::default().event("cleared").data("{}"),
                Err(RecvError::Lagged(missed)) => {
                    SseEvent::default().event("lagged").data(format!("{{\"missed\":{missed}}}"))
                }
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok(message), self));
        }
    }
}

fn journal_message(event: &Event) -> SseEvent {
    let data = serde_json::to_string(event).unwrap_or_else(|_| "{}".to_owned());
    SseEvent::default().id(event.seq.to_string()).event("journal").data(data)
}
