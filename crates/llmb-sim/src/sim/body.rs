//! The response body type: a whole buffer, a generation polled chunk by chunk (its error
//! ends the connection abruptly: how a reset mid-stream is simulated), or a worker's
//! response relayed by the disaggregated frontend.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// A response body.
#[derive(Debug)]
pub enum SimBody {
    /// All at once.
    Full(Option<Bytes>),
    /// Chunk by chunk, as the generation produces them.
    Generate(Box<super::generate::Generation>),
    /// A decode worker's body, passed on as it arrives.
    Relay(Box<super::disagg::relay::Relay>),
}

impl SimBody {
    /// A whole body.
    pub fn full(b: impl Into<Bytes>) -> SimBody {
        SimBody::Full(Some(b.into()))
    }
}

impl Body for SimBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            SimBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            SimBody::Generate(g) => g.poll_bytes(cx).map(|o| o.map(|r| r.map(Frame::data))),
            SimBody::Relay(r) => Pin::new(r.as_mut()).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            SimBody::Full(b) => b.is_none(),
            SimBody::Generate(_) => false,
            SimBody::Relay(r) => r.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            SimBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            SimBody::Full(None) => SizeHint::with_exact(0),
            SimBody::Generate(_) => SizeHint::default(),
            SimBody::Relay(r) => r.size_hint(),
        }
    }
}
