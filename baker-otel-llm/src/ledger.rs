//! Bounded per-conversation cost state: segmented LRU with idle expiry.
//!
//! A conversation enters a *probation* segment on its first cost and is promoted to the
//! *protected* segment on its second. When the ledger is full, a new conversation evicts the
//! least-recently-used probation entry first, so a flood of one-off (e.g. forged) ids only churns
//! probation and cannot reset the totals of conversations that are really in use. Entries idle
//! longer than the TTL are dropped (their total restarts at zero). Nothing is ever cleared as a
//! whole.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// Default number of conversations tracked.
pub(crate) const DEFAULT_CAPACITY: usize = 10_000;
/// Default idle time after which a conversation's total is forgotten.
pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug)]
struct Slot {
    total: f64,
    tick: u64,
    last: Instant,
    protected: bool,
}

#[derive(Debug)]
pub(crate) struct Ledger {
    capacity: usize,
    protected_cap: usize,
    ttl: Duration,
    tick: u64,
    map: HashMap<String, Slot>,
    probation: BTreeMap<u64, String>,
    protected: BTreeMap<u64, String>,
}

impl Ledger {
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            // 80 % protected; at least one probation slot so new ids always get in.
            protected_cap: (capacity * 4 / 5).min(capacity - 1),
            ttl,
            tick: 0,
            map: HashMap::new(),
            probation: BTreeMap::new(),
            protected: BTreeMap::new(),
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The total of `key`, if tracked and not expired at `now`.
    #[cfg(test)]
    pub(crate) fn total(&self, key: &str, now: Instant) -> Option<f64> {
        self.map
            .get(key)
            .filter(|s| now.saturating_duration_since(s.last) <= self.ttl)
            .map(|s| s.total)
    }

    /// Adds `amount` to `key`'s total; returns (before, after).
    pub(crate) fn add(&mut self, key: &str, amount: f64, now: Instant) -> (f64, f64) {
        self.expire(now);
        self.tick += 1;
        let tick = self.tick;
        if let Some(slot) = self.map.get_mut(key) {
            let before = slot.total;
            slot.total += amount;
            let after = slot.total;
            let old = slot.tick;
            let was_protected = slot.protected;
            slot.tick = tick;
            slot.last = now;
            slot.protected = true;
            if was_protected {
                self.protected.remove(&old);
            } else {
                self.probation.remove(&old);
            }
            self.protected.insert(tick, key.to_owned());
            self.demote_overflow();
            return (before, after);
        }
        if self.map.len() >= self.capacity {
            self.evict_one();
        }
        self.map.insert(
            key.to_owned(),
            Slot {
                total: amount,
                tick,
                last: now,
                protected: false,
            },
        );
        self.probation.insert(tick, key.to_owned());
        (0.0, amount)
    }

    /// Keeps the protected segment within its share: its LRU entry goes back to probation.
    fn demote_overflow(&mut self) {
        while self.protected.len() > self.protected_cap {
            let Some((old, key)) = self.protected.pop_first() else {
                return;
            };
            self.tick += 1;
            let tick = self.tick;
            if let Some(slot) = self.map.get_mut(&key) {
                slot.protected = false;
                slot.tick = tick;
            }
            let _ = old;
            self.probation.insert(tick, key);
        }
    }

    fn evict_one(&mut self) {
        let victim = self
            .probation
            .pop_first()
            .or_else(|| self.protected.pop_first());
        if let Some((_, key)) = victim {
            self.map.remove(&key);
        }
    }

    /// Drops entries idle longer than the TTL (oldest first in each segment; amortised).
    fn expire(&mut self, now: Instant) {
        for protected in [false, true] {
            loop {
                let order = if protected {
                    &mut self.protected
                } else {
                    &mut self.probation
                };
                let Some((_, key)) = order.first_key_value() else {
                    break;
                };
                let expired = self
                    .map
                    .get(key)
                    .is_none_or(|s| now.saturating_duration_since(s.last) > self.ttl);
                if !expired {
                    break;
                }
                if let Some((_, key)) = order.pop_first() {
                    self.map.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_new_ids_does_not_reset_conversations_in_use() {
        let mut l = Ledger::new(1_000, DEFAULT_TTL);
        let t = Instant::now();
        for i in 0..100 {
            let k = format!("real-{i}");
            l.add(&k, 1.0, t);
            l.add(&k, 1.0, t);
        }
        for i in 0..100_000 {
            l.add(&format!("forged-{i}"), 0.01, t);
        }
        assert!(l.len() <= 1_000);
        for i in 0..100 {
            assert_eq!(l.total(&format!("real-{i}"), t), Some(2.0), "real-{i}");
        }
        // The newest forged ids are tracked; the old ones were evicted one by one.
        assert!(l.total("forged-99999", t).is_some());
        assert!(l.total("forged-0", t).is_none());
    }

    #[test]
    fn least_recently_used_is_evicted_first_and_idle_entries_expire() {
        let mut l = Ledger::new(3, Duration::from_secs(60));
        let t = Instant::now();
        l.add("a", 1.0, t);
        l.add("b", 1.0, t);
        l.add("c", 1.0, t);
        l.add("a", 1.0, t); // a: used again
        l.add("d", 1.0, t); // evicts b (LRU in probation), not a
        assert_eq!(l.total("a", t), Some(2.0));
        assert_eq!(l.total("b", t), None);
        assert_eq!(l.total("c", t), Some(1.0));
        let later = t + Duration::from_secs(61);
        assert_eq!(l.add("a", 1.0, later), (0.0, 1.0), "expired total restarts");
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn capacity_one_still_tracks_the_newest() {
        let mut l = Ledger::new(1, DEFAULT_TTL);
        let t = Instant::now();
        l.add("a", 1.0, t);
        l.add("a", 1.0, t);
        assert_eq!(l.add("b", 1.0, t), (0.0, 1.0));
        assert_eq!(l.len(), 1);
    }
}
