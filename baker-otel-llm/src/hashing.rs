//! Pre-hashed lookup maps for short label strings: the hot paths (metric labels, span names,
//! price lookups) hash borrowed strings once and verify keys after a hit.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Small, fast, non-cryptographic hasher (the rustc "Fx" mix) for short label strings. Keys are
/// always verified after a hit, so collisions only cost the fallback.
#[derive(Default, Clone, Copy)]
pub(crate) struct Fx(u64);

impl Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0xf135_7aea_2e62_a9c5;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(26) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(26) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        // Length separates ("ab","c") from ("a","bc").
        self.0 = (self.0.rotate_left(26) ^ bytes.len() as u64).wrapping_mul(K);
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(26) ^ v).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Hash of a tuple of borrowed strings (`None` hashes differently from `""`).
#[inline]
pub(crate) fn hash_strs(parts: &[Option<&str>]) -> u64 {
    let mut h = Fx::default();
    for p in parts {
        match p {
            Some(s) => h.write(s.as_bytes()),
            None => h.write_u64(u64::MAX),
        }
    }
    h.finish()
}

/// A map pre-hashed by the caller: the `u64` key is already a hash.
pub(crate) type PreHashed<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

/// Passes a pre-computed `u64` hash through.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}
