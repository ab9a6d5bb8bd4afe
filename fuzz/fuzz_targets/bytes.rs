//! The fuzz input as a stream of bytes, shared by every target (`#[path]`-included, so each
//! target adds its own generators in its own `impl Bytes` block). Reading past the end
//! gives zeros, so every input decodes to some sequence of calls.

pub struct Bytes<'a>(pub &'a [u8]);

impl Bytes<'_> {
    pub fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |a, _| (a << 8) | u64::from(self.byte()))
    }
}
