//! An in-memory memory store: notes per conversation, keyword search.

use std::sync::RwLock;

/// One stored memory.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryItem {
    /// Conversation the memory belongs to (`None` = shared knowledge).
    pub conversation_id: Option<String>,
    /// Text.
    pub text: String,
}

/// A thread-safe in-memory store.
///
/// ```
/// let store = agent_pipeline::memory::MemoryStore::seeded();
/// store.insert(Some("c1"), "the user prefers tea");
/// assert_eq!(store.search(Some("c1"), "what does the user prefer?", 1)[0].text, "the user prefers tea");
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    items: RwLock<Vec<MemoryItem>>,
}

/// Most items kept; the oldest conversation memories are evicted first.
pub const CAPACITY: usize = 10_000;

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

    /// Stores a memory.
    pub fn insert(&self, conversation_id: Option<&str>, text: &str) {
        let mut items = self.items.write().unwrap_or_else(|e| e.into_inner());
        if items.len() >= CAPACITY {
            if let Some(pos) = items.iter().position(|m| m.conversation_id.is_some()) {
                items.remove(pos);
            }
        }
        items.push(MemoryItem {
            conversation_id: conversation_id.map(str::to_owned),
            text: text.to_owned(),
        });
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
        let items = self.items.read().unwrap_or_else(|e| e.into_inner());
        let mut scored: Vec<(usize, &MemoryItem)> = items
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
        self.items.read().map(|i| i.len()).unwrap_or(0)
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate bytes held.
    ///
    /// ```
    /// assert!(agent_pipeline::memory::MemoryStore::seeded().size_bytes() > 100);
    /// ```
    pub fn size_bytes(&self) -> u64 {
        self.items
            .read()
            .map(|i| {
                i.iter()
                    .map(|m| {
                        (m.text.len() + m.conversation_id.as_ref().map_or(0, String::len) + 48)
                            as u64
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
}
