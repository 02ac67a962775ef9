//! Sans-IO decoder for HTTP/1.1 `Transfer-Encoding: chunked` bodies: feed it whatever the
//! socket returned, get the body bytes appended to a buffer; it keeps its place across
//! reads, so a chunk header may be split anywhere.

/// Where the decoder is in the chunk grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hex size (and any `;extension`) up to CRLF.
    Size {
        value: u64,
        digits: u8,
        in_ext: bool,
    },
    /// Inside chunk data with this many bytes left.
    Data(u64),
    /// The CRLF after chunk data.
    DataEnd { seen_cr: bool },
    /// After the zero-size chunk: trailer lines until an empty one.
    Trailer { line_len: u32, seen_cr: bool },
    /// The body is complete.
    Done,
}

/// The body is not valid chunked encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed chunked body: {0}")]
pub struct ChunkedError(&'static str);

/// The decoder.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder {
            state: State::Size {
                value: 0,
                digits: 0,
                in_ext: false,
            },
        }
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> ChunkedDecoder {
        ChunkedDecoder::default()
    }

    /// Whether the terminating chunk and trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes `input`, appending body bytes to `out`; returns how many input bytes were
    /// used (all of them unless the body ended inside `input`).
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, ChunkedError> {
        let mut i = 0;
        while i < input.len() {
            match &mut self.state {
                State::Done => return Ok(i),
                State::Data(left) => {
                    let take = (*left).min((input.len() - i) as u64) as usize;
                    out.extend_from_slice(&input[i..i + take]);
                    i += take;
                    *left -= take as u64;
                    if *left == 0 {
                        self.state = State::DataEnd { seen_cr: false };
                    }
                }
                State::DataEnd { seen_cr } => {
                    let b = input[i];
                    i += 1;
                    match (b, *seen_cr) {
                        (b'\r', false) => *seen_cr = true,
                        (b'\n', _) => self.state = ChunkedDecoder::default().state,
                        _ => return Err(ChunkedError("chunk data not followed by CRLF")),
                    }
                }
                State::Size {
                    value,
                    digits,
                    in_ext,
                } => {
                    let b = input[i];
                    i += 1;
                    match b {
                        b'\n' => {
                            if *digits == 0 {
                                return Err(ChunkedError("missing chunk size"));
                            }
                            self.state = if *value == 0 {
                                State::Trailer {
                                    line_len: 0,
                                    seen_cr: false,
                                }
                            } else {
                                State::Data(*value)
                            };
                        }
                        b'\r' => {}
                        _ if *in_ext => {}
                        b';' | b' ' | b'\t' => *in_ext = true,
                        _ => {
                            let d = (b as char)
                                .to_digit(16)
                                .ok_or(ChunkedError("chunk size is not hexadecimal"))?;
                            if *digits >= 15 {
                                return Err(ChunkedError("chunk size too large"));
                            }
                            *value = *value * 16 + u64::from(d);
                            *digits += 1;
                        }
                    }
                }
                State::Trailer { line_len, seen_cr } => {
                    let b = input[i];
                    i += 1;
                    match b {
                        b'\n' if *line_len == 0 => {
                            self.state = State::Done;
                            return Ok(i);
                        }
                        b'\n' => {
                            *line_len = 0;
                            *seen_cr = false;
                        }
                        b'\r' => *seen_cr = true,
                        _ => *line_len += 1,
                    }
                }
            }
        }
        Ok(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] =
        b"5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\nNEXT";

    #[test]
    fn whole_body_then_stops_at_the_end() {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        let used = d.decode(BODY, &mut out).unwrap();
        assert_eq!(out, b"helloabcdefghijklmnopqrstuvwxyz");
        assert!(d.is_done());
        assert_eq!(&BODY[used..], b"NEXT");
    }

    #[test]
    fn split_at_every_byte() {
        for cut in 0..BODY.len() {
            let mut d = ChunkedDecoder::new();
            let mut out = Vec::new();
            let a = d.decode(&BODY[..cut], &mut out).unwrap();
            // Everything is used up to the end of the body; "NEXT" never is.
            assert_eq!(a, cut.min(BODY.len() - 4));
            d.decode(&BODY[a..], &mut out).unwrap();
            assert_eq!(out, b"helloabcdefghijklmnopqrstuvwxyz", "cut {cut}");
            assert!(d.is_done());
        }
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let mut out = Vec::new();
        assert!(ChunkedDecoder::new().decode(b"zz\r\n", &mut out).is_err());
        assert!(ChunkedDecoder::new().decode(b"\r\n", &mut out).is_err());
        assert!(ChunkedDecoder::new().decode(b"2\r\nabX", &mut out).is_err());
        assert!(ChunkedDecoder::new()
            .decode(b"ffffffffffffffff\r\n", &mut out)
            .is_err());
    }
}
