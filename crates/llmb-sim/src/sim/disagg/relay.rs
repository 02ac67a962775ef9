//! A decode worker's response body on its way to the client: each frame passed on as it
//! arrives, untouched; a silence longer than the stream deadline or a broken upstream ends
//! it early: an SSE stream with an `error` event and no `[DONE]` (cleanly, so the event is
//! sure to be delivered), a JSON body by breaking the connection. At its end the connection
//! goes back to the pool and the request is counted; dropped early (the client left), the
//! upstream connection closes, which stops the worker's generation.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use super::metrics::RequestGuard;
use super::pool::{Conn, Lease};

/// Where the relay is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Streaming,
    Done,
}

/// What the relay needs to know about the answer.
#[derive(Debug, Clone, Copy)]
pub(super) struct RelayPlan {
    /// Output tokens the answer carries (counted if it ends complete).
    pub output_tokens: u64,
    /// An SSE stream (a failure is announced with an `error` event).
    pub sse: bool,
    /// Longest silence allowed.
    pub idle: Duration,
}

/// The relayed body.
#[derive(Debug)]
pub struct Relay {
    inner: Incoming,
    conn: Option<Conn>,
    lease: Lease,
    guard: RequestGuard,
    output_tokens: u64,
    sse: bool,
    idle: Duration,
    last_frame: Instant,
    timer: Pin<Box<Sleep>>,
    state: State,
}

impl Relay {
    /// Relays `inner` (the decode answer on `conn`, from the worker `lease` holds) for the
    /// request `guard` counts.
    pub(super) fn new(
        (inner, conn, lease): (Incoming, Conn, Lease),
        guard: RequestGuard,
        how: RelayPlan,
    ) -> Relay {
        let now = Instant::now();
        let RelayPlan {
            output_tokens,
            sse,
            idle,
        } = how;
        Relay {
            inner,
            conn: Some(conn),
            lease,
            guard,
            output_tokens,
            sse,
            idle,
            last_frame: now,
            timer: Box::pin(tokio::time::sleep_until(now + idle)),
            state: State::Streaming,
        }
    }

    fn fail(&mut self, why: &str) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let w = self.lease.worker();
        let message = format!(
            "{} worker {} failed mid-stream: {why}",
            w.role().as_str(),
            w.url()
        );
        // Dropping the connection closes it: the worker stops generating.
        self.conn = None;
        self.state = State::Done;
        if self.sse {
            let event = serde_json::json!({"error": {
                "message": message, "type": "worker_error", "code": 502,
                "worker": w.url().as_str(), "role": w.role().as_str(),
            }});
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(format!(
                "data: {event}\n\n"
            ))))));
        }
        Poll::Ready(Some(Err(std::io::Error::other(message))))
    }
}

impl Body for Relay {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.state == State::Done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.last_frame = Instant::now();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                this.state = State::Done;
                this.guard.succeed(this.output_tokens);
                if let Some(c) = this.conn.take() {
                    c.release();
                }
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => this.fail(&llmb_protocol::error_chain(&e)),
            Poll::Pending => {
                // The timer is re-armed only when it fires, not on every frame.
                while this.timer.as_mut().poll(cx).is_ready() {
                    let due = this.last_frame + this.idle;
                    if due <= Instant::now() {
                        return this.fail(&format!("it sent nothing for {:?}", this.idle));
                    }
                    this.timer.as_mut().reset(due);
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match self.state {
            State::Streaming => self.inner.size_hint(),
            State::Done => SizeHint::default(),
        }
    }
}
