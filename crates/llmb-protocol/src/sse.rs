//! A sans-IO Server-Sent-Events decoder: bytes in, complete events out.
//!
//! Events end at a blank line. Lines end with `\n` or `\r\n` (a lone `\r` is not treated
//! as a line end: no OpenAI-compatible server sends one). Only `data:` and `event:` fields
//! are kept; comments (`:`), `id:` and `retry:` are skipped. An event that arrives whole in
//! one `push` is handed out as a slice of the input, without copying.

/// One complete SSE event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// The `event:` field, if any.
    pub event: Option<&'a [u8]>,
    /// The `data:` payload; several `data:` lines are joined with `\n`.
    pub data: &'a [u8],
}

impl SseEvent<'_> {
    /// True for the OpenAI end-of-stream marker `data: [DONE]`.
    pub fn is_done(&self) -> bool {
        self.data == b"[DONE]"
    }
}

/// Incremental decoder; keeps only the bytes of an event not yet complete.
#[derive(Debug, Default)]
pub struct SseDecoder {
    pending: Vec<u8>,
    joined: Vec<u8>,
}

impl SseDecoder {
    /// A decoder with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes received but not yet part of a complete event.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Feeds bytes; calls `on_event` for each event completed by them, in order.
    /// Returning `false` from `on_event` stops decoding and drops the rest of the input.
    pub fn push(&mut self, input: &[u8], on_event: &mut dyn FnMut(SseEvent<'_>) -> bool) {
        if self.pending.is_empty() {
            let consumed = scan(input, &mut self.joined, on_event);
            self.pending.extend_from_slice(&input[consumed..]);
        } else {
            let mut buf = std::mem::take(&mut self.pending);
            buf.extend_from_slice(input);
            let consumed = scan(&buf, &mut self.joined, on_event);
            buf.drain(..consumed);
            self.pending = buf;
        }
    }
}

/// Dispatches every complete event in `s`; returns how many bytes were consumed.
/// Each byte is looked at once: `memchr` finds the line ends and each line is read as a
/// field where it lies.
fn scan(s: &[u8], joined: &mut Vec<u8>, on_event: &mut dyn FnMut(SseEvent<'_>) -> bool) -> usize {
    let mut event_start = 0;
    let mut line_start = 0;
    let mut block = Block::default();
    while let Some(off) = memchr::memchr(b'\n', &s[line_start..]) {
        let nl = line_start + off;
        let line = trim_cr(&s[line_start..nl]);
        line_start = nl + 1;
        if !line.is_empty() {
            block.line(line, joined);
            continue;
        }
        event_start = line_start;
        let done = std::mem::take(&mut block);
        let data = match done.data_lines {
            0 => continue,
            1 => done.first,
            _ => joined.as_slice(),
        };
        if !on_event(SseEvent {
            event: done.event,
            data,
        }) {
            return s.len();
        }
    }
    event_start
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The fields of the event being read. Its first `data:` line stays a slice of the input;
/// a second one starts joining them into the decoder's buffer.
#[derive(Default)]
struct Block<'a> {
    event: Option<&'a [u8]>,
    first: &'a [u8],
    data_lines: usize,
}

impl<'a> Block<'a> {
    /// Reads one non-empty line of the event.
    fn line(&mut self, line: &'a [u8], joined: &mut Vec<u8>) {
        if line[0] == b':' {
            return; // a comment
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                self.data_lines += 1;
                if self.data_lines == 1 {
                    self.first = value;
                } else {
                    if self.data_lines == 2 {
                        joined.clear();
                        joined.extend_from_slice(self.first);
                    }
                    joined.push(b'\n');
                    joined.extend_from_slice(value);
                }
            }
            b"event" => self.event = Some(value),
            _ => {}
        }
    }
}

/// Appends one `data:` event (and its blank line) to `out`.
pub fn encode_data(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(dec: &mut SseDecoder, input: &[u8]) -> Vec<(Option<String>, String)> {
        let mut out = Vec::new();
        dec.push(input, &mut |ev| {
            out.push((
                ev.event.map(|e| String::from_utf8_lossy(e).into_owned()),
                String::from_utf8_lossy(ev.data).into_owned(),
            ));
            true
        });
        out
    }

    #[test]
    fn whole_events_in_one_push() {
        let mut d = SseDecoder::new();
        let evs = collect(&mut d, b"data: {\"a\":1}\n\ndata: [DONE]\n\n");
        assert_eq!(
            evs,
            vec![(None, "{\"a\":1}".into()), (None, "[DONE]".into())]
        );
        assert_eq!(d.pending_len(), 0);
    }

    #[test]
    fn split_across_pushes_at_every_byte() {
        let input = b"data: one\r\n\r\n: comment\nevent: error\ndata:two\n\ndata: x\ndata: y\n\n";
        for cut in 0..input.len() {
            let mut d = SseDecoder::new();
            let mut evs = collect(&mut d, &input[..cut]);
            evs.extend(collect(&mut d, &input[cut..]));
            assert_eq!(
                evs,
                vec![
                    (None, "one".into()),
                    (Some("error".into()), "two".into()),
                    (None, "x\ny".into())
                ],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn incomplete_event_is_kept() {
        let mut d = SseDecoder::new();
        assert!(collect(&mut d, b"data: par").is_empty());
        assert_eq!(d.pending_len(), 9);
        assert_eq!(collect(&mut d, b"tial\n\n"), vec![(None, "partial".into())]);
        assert_eq!(d.pending_len(), 0);
    }

    #[test]
    fn events_without_data_are_skipped() {
        let mut d = SseDecoder::new();
        assert!(collect(&mut d, b": keep-alive\n\nid: 3\n\n").is_empty());
    }

    #[test]
    fn stop_early() {
        let mut d = SseDecoder::new();
        let mut n = 0;
        d.push(b"data: a\n\ndata: b\n\n", &mut |_| {
            n += 1;
            false
        });
        assert_eq!(n, 1);
    }

    #[test]
    fn done_marker() {
        let ev = SseEvent {
            event: None,
            data: b"[DONE]",
        };
        assert!(ev.is_done());
    }
}
