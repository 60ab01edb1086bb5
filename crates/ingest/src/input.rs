//! Bytes in: a file or any reader, plain or gzip (recognised by its magic bytes, not its name),
//! gzip members one after another (`cat a.gz b.gz`, as Shodan downloads sometimes are).
//!
//! The decoder reads its compressed input through [`Counting`], a `BufRead` that counts the
//! bytes the decoder consumed, so a corrupt or cut stream is reported at the compressed offset
//! where decompression stopped — a number a person can check with `dd` or `gzip -t`.

use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;

/// Size of the buffer in front of the file or the decoder.
pub const READ_BUF: usize = 256 * 1024;

/// A `BufRead` that counts consumed bytes and, when asked, newlines among them.
pub struct Counting<R> {
    inner: R,
    consumed: u64,
    newlines: u64,
    count_newlines: bool,
}

impl<R: BufRead> Counting<R> {
    pub fn new(inner: R, count_newlines: bool) -> Self {
        Counting {
            inner,
            consumed: 0,
            newlines: 0,
            count_newlines,
        }
    }

    /// Bytes consumed so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Newlines among the consumed bytes (when counting was asked for).
    pub fn newlines(&self) -> u64 {
        self.newlines
    }
}

impl<R: BufRead> Read for Counting<R> {
    /// Delegates to the inner reader, so a `BufReader` hands large reads straight to the file
    /// without copying them through its buffer.
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        if self.count_newlines {
            self.newlines += memchr::memchr_iter(b'\n', &out[..n]).count() as u64;
        }
        self.consumed += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if self.count_newlines {
            if let Ok(buf) = self.inner.fill_buf() {
                let n = amt.min(buf.len());
                self.newlines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
            }
        }
        self.consumed += amt as u64;
        self.inner.consume(amt);
    }
}

/// An input, decompressed if it was gzip.
pub enum Input<R: Read> {
    Plain(Counting<BufReader<R>>),
    Gzip(Box<MultiGzDecoder<Counting<BufReader<R>>>>),
}

/// Where a read error happened, to build the right [`crate::IngestError`].
pub enum ReadFailure {
    /// Reading the plain input failed at this offset.
    Plain { offset: u64, source: io::Error },
    /// Decompression failed at this compressed offset.
    Gzip {
        compressed_offset: u64,
        source: io::Error,
    },
}

impl<R: Read> Input<R> {
    /// Looks at the first bytes to choose plain or gzip.
    pub fn open(reader: R) -> io::Result<Input<R>> {
        let mut buffered = BufReader::with_capacity(READ_BUF, reader);
        // Two bytes of magic. A file fills the buffer on the first read; a pipe that hands over a
        // single first byte is read as plain (no gzip writer produces such a pipe in practice).
        let is_gzip = loop {
            match buffered.fill_buf() {
                Ok(buf) => break buf.starts_with(&[0x1f, 0x8b]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        let counting = Counting::new(buffered, false);
        Ok(if is_gzip {
            Input::Gzip(Box::new(MultiGzDecoder::new(counting)))
        } else {
            Input::Plain(counting)
        })
    }

    /// Whether the input is gzip.
    pub fn is_gzip(&self) -> bool {
        matches!(self, Input::Gzip(_))
    }

    /// Bytes consumed from the underlying reader (compressed bytes for gzip).
    pub fn raw_position(&self) -> u64 {
        match self {
            Input::Plain(c) => c.consumed(),
            Input::Gzip(d) => d.get_ref().consumed(),
        }
    }

    /// Reads decompressed bytes; an error says where it happened.
    pub fn read_some(&mut self, out: &mut [u8]) -> Result<usize, ReadFailure> {
        loop {
            let r = match self {
                Input::Plain(c) => c.read(out),
                Input::Gzip(d) => d.read(out),
            };
            match r {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(match self {
                        Input::Plain(c) => ReadFailure::Plain {
                            offset: c.consumed(),
                            source,
                        },
                        Input::Gzip(d) => ReadFailure::Gzip {
                            compressed_offset: d.get_ref().consumed(),
                            source,
                        },
                    })
                }
            }
        }
    }
}

/// The decompressed input as a `Read` that remembers its first failure, for the sequential
/// parsers (XML, JSON documents) that only see `io::Error`s.
pub struct Tracked<'a, R: Read> {
    pub input: &'a mut Input<R>,
    pub failure: Option<ReadFailure>,
    pub bytes: u64,
}

impl<R: Read> Read for Tracked<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.failure.is_some() {
            return Err(io::Error::other("input failed"));
        }
        match self.input.read_some(out) {
            Ok(n) => {
                self.bytes += n as u64;
                Ok(n)
            }
            Err(f) => {
                self.failure = Some(f);
                Err(io::Error::other("input failed"))
            }
        }
    }
}
