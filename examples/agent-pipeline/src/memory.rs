//! An in-memory memory store: notes per conversation, keyword search.

use std::collections::VecDeque;
use std::sync::RwLock;

/// One stored memory.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryItem {
    /// Conversation the memory belongs to (`None` = shared knowledge).
    pub conversation_id: Option<String>,
    /// Text.
    pub text: String,
}

impl MemoryItem {
    /// Bytes counted for the item (text, id and a fixed overhead).
    fn bytes(&self) -> u64 {
        (self.text.len() + self.conversation_id.as_ref().map_or(0, String::len) + 48) as u64
    }
}

/// A thread-safe in-memory store, bounded in items and in bytes: what clients send cannot make
/// it grow without limit (each text is cut to [`MAX_ITEM_BYTES`], conversation memories are
/// evicted oldest first, in O(1), past [`CAPACITY`] items or [`MAX_TOTAL_BYTES`]).
///
/// ```
/// let store = agent_pipeline::memory::MemoryStore::seeded();
/// store.insert(Some("c1"), "the user prefers tea");
/// assert_eq!(store.search(Some("c1"), "what does the user prefer?", 1)[0].text, "the user prefers tea");
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Shared knowledge (`conversation_id: None`), never evicted.
    shared: Vec<MemoryItem>,
    /// Conversation memories, oldest first.
    conversations: VecDeque<MemoryItem>,
    /// [`MemoryItem::bytes`] of every item held.
    bytes: u64,
}

impl Inner {
    fn len(&self) -> usize {
        self.shared.len() + self.conversations.len()
    }
    fn iter(&self) -> impl Iterator<Item = &MemoryItem> {
        self.shared.iter().chain(self.conversations.iter())
    }
}

/// Most items kept; the oldest conversation memories are evicted first.
pub const CAPACITY: usize = 10_000;
/// Longest text stored, in bytes: a longer one is cut on a char boundary (a client may post
/// messages up to the HTTP body limit).
pub const MAX_ITEM_BYTES: usize = 16 * 1024;
/// Most bytes held (texts, ids and a fixed per-item overhead); the oldest conversation
/// memories are evicted to stay under it.
pub const MAX_TOTAL_BYTES: u64 = 32 * 1024 * 1024;

/// `s` cut to at most `max` bytes on a char boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl MemoryStore {
    /// An empty store.
    ///
    /// ```
    /// assert_eq!(agent_pipeline::memory::MemoryStore::new().len(), 0);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// A store with a few shared notes, as a real deployment would have.
    ///
    /// ```
    /// assert!(agent_pipeline::memory::MemoryStore::seeded().len() > 0);
    /// ```
    pub fn seeded() -> Self {
        let s = Self::new();
        for note in [
            "Orders ship from the Baker Street warehouse within two working days",
            "Refunds are processed within five days of the returned item arriving",
            "The customer baker-street-221b has a standing order of 12 boxes of tea per month",
            "Support hours are 9:00 to 17:00 London time, Monday to Friday",
        ] {
            s.insert(None, note);
        }
        s
    }

    /// Stores a memory, its text cut to [`MAX_ITEM_BYTES`]. A conversation memory evicts the
    /// oldest ones as needed to keep the store within [`CAPACITY`] and [`MAX_TOTAL_BYTES`];
    /// shared notes are never evicted (and a conversation memory that does not fit beside
    /// them is not kept).
    ///
    /// ```
    /// let store = agent_pipeline::memory::MemoryStore::new();
    /// store.insert(Some("c1"), &"x".repeat(1 << 20));
    /// assert!(store.size_bytes() <= agent_pipeline::memory::MAX_ITEM_BYTES as u64 + 64);
    /// ```
    pub fn insert(&self, conversation_id: Option<&str>, text: &str) {
        let item = MemoryItem {
            conversation_id: conversation_id.map(str::to_owned),
            text: truncate(text, MAX_ITEM_BYTES).to_owned(),
        };
        let size = item.bytes();
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if item.conversation_id.is_none() {
            inner.bytes += size;
            inner.shared.push(item);
            return;
        }
        while inner.len() >= CAPACITY || inner.bytes + size > MAX_TOTAL_BYTES {
            match inner.conversations.pop_front() {
                Some(old) => inner.bytes -= old.bytes(),
                None => break,
            }
        }
        if inner.len() >= CAPACITY || inner.bytes + size > MAX_TOTAL_BYTES {
            return;
        }
        inner.bytes += size;
        inner.conversations.push_back(item);
    }

    /// The `top_k` memories visible to the conversation that share the most words with `query`.
    pub fn search(
        &self,
        conversation_id: Option<&str>,
        query: &str,
        top_k: usize,
    ) -> Vec<MemoryItem> {
        let words: Vec<String> = query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 2)
            .map(str::to_lowercase)
            .collect();
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let mut scored: Vec<(usize, &MemoryItem)> = inner
            .iter()
            .filter(|m| {
                m.conversation_id.is_none() || m.conversation_id.as_deref() == conversation_id
            })
            .map(|m| {
                let text = m.text.to_lowercase();
                (
                    words.iter().filter(|w| text.contains(w.as_str())).count(),
                    m,
                )
            })
            .filter(|(s, _)| *s > 0)
            .collect();
        scored.sort_by_key(|s| std::cmp::Reverse(s.0));
        scored
            .into_iter()
            .take(top_k)
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// Number of memories.
    ///
    /// ```
    /// assert!(agent_pipeline::memory::MemoryStore::new().is_empty());
    /// ```
    pub fn len(&self) -> usize {
        self.inner.read().map(|i| i.len()).unwrap_or(0)
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every item, shared notes first (tests).
    #[cfg(test)]
    fn items_for_test(&self) -> Vec<MemoryItem> {
        self.inner.read().unwrap().iter().cloned().collect()
    }

    /// Bytes held (texts, ids and a fixed per-item overhead), at most [`MAX_TOTAL_BYTES`]
    /// beside the shared notes.
    ///
    /// ```
    /// assert!(agent_pipeline::memory::MemoryStore::seeded().size_bytes() > 100);
    /// ```
    pub fn size_bytes(&self) -> u64 {
        self.inner.read().map(|i| i.bytes).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a hostile client can make the Brain keep: messages of axum's 2 MB body limit.
    #[test]
    fn the_store_holds_a_bounded_number_of_bytes() {
        const ITEM_BOUND: u64 = 64 * 1024;
        const TOTAL_BOUND: u64 = 64 * 1024 * 1024;
        let store = MemoryStore::seeded();
        let shared = store.len();
        let huge = "é".repeat(1024 * 1024); // 2 MB, multi-byte
        for i in 0..200 {
            store.insert(Some(&format!("c{}", i % 7)), &huge);
            assert!(
                store.size_bytes() <= TOTAL_BOUND,
                "{} bytes after {i} messages",
                store.size_bytes()
            );
        }
        // Each stored message is cut (on a char boundary), and the shared notes are kept.
        let items = store.items_for_test();
        assert!(items
            .iter()
            .filter(|m| m.conversation_id.is_some())
            .all(|m| (m.text.len() as u64) <= ITEM_BOUND && m.text.starts_with('é')));
        assert_eq!(
            items.iter().filter(|m| m.conversation_id.is_none()).count(),
            shared
        );
        // Many small messages: the count bound holds, the newest survive, the oldest go.
        for i in 0..(CAPACITY + 500) {
            store.insert(Some("c-small"), &format!("note {i}"));
        }
        assert!(store.len() <= CAPACITY);
        let items = store.items_for_test();
        assert!(items
            .iter()
            .any(|m| m.text == format!("note {}", CAPACITY + 499)));
        assert!(!items.iter().any(|m| m.text == "note 0"));
        assert_eq!(
            items.iter().filter(|m| m.conversation_id.is_none()).count(),
            shared
        );
        assert_eq!(
            store.search(None, "warehouse", 1)[0].text,
            "Orders ship from the Baker Street warehouse within two working days"
        );
    }
}
