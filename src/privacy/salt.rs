//! Daily salts for the visitor id. One random 32-byte salt per UTC day, kept
//! in ClickHouse (`salts`, through `store::salts`) so every replica hashes
//! alike. Replicas that race
//! to create a day's salt converge on the same winner: the smallest salt
//! stored for that day. Only yesterday's, today's and tomorrow's (made ahead
//! so midnight needs no round trip) exist; older ones are deleted from the
//! table and from memory. Memory goes first, at the first sync or hit of
//! the new day, even while ClickHouse is unreachable (the table follows at
//! the next sync that reaches it). A salt is never logged.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::model::sync::{read, write};
use crate::store;

type HmacSha256 = Hmac<Sha256>;

pub use crate::store::salts::SaltStoreError as SaltError;

/// A day's salt, ready as HMAC key state (the key schedule is done once).
pub struct SaltKey {
    mac: HmacSha256,
}

impl SaltKey {
    pub fn from_bytes(salt: [u8; 32]) -> Self {
        Self {
            mac: HmacSha256::new_from_slice(&salt).expect("HMAC takes any key length"),
        }
    }
    pub(crate) fn mac(&self) -> HmacSha256 {
        self.mac.clone()
    }
}

impl std::fmt::Debug for SaltKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SaltKey(<secret>)")
    }
}

/// The salts in force, shared by every request.
#[derive(Default)]
pub struct Salts {
    keys: RwLock<BTreeMap<i32, Arc<SaltKey>>>,
    /// An import's salts ([`Salts::throwaway`]).
    throwaway: bool,
}

impl Salts {
    pub fn new() -> Self {
        Self::default()
    }

    /// Salts for one import of past days (`tacit import`): a random salt
    /// per day, made on first use, never stored or shared (so an import
    /// never links to live days or to another import), every day kept
    /// until the value is dropped at the end of the import, which destroys
    /// them.
    pub fn throwaway() -> Self {
        Self {
            keys: RwLock::default(),
            throwaway: true,
        }
    }

    /// The key for `day`. If the store never gave one (ClickHouse down across
    /// midnight), a process-local random salt is made so hits still count;
    /// the next successful sync replaces it for later hits.
    pub fn key_for(&self, day: i32) -> Arc<SaltKey> {
        if let Some(k) = read(&self.keys).get(&day) {
            return k.clone();
        }
        let mut keys = write(&self.keys);
        if self.throwaway {
            return keys
                .entry(day)
                .or_insert_with(|| Arc::new(SaltKey::from_bytes(random_salt())))
                .clone();
        }
        // A new day: what is older than yesterday goes now, engine or not.
        keys.retain(|d, _| *d >= day - 1);
        keys.entry(day)
            .or_insert_with(|| {
                tracing::warn!(
                    day,
                    "no shared salt for this day yet; using a process-local salt"
                );
                Arc::new(SaltKey::from_bytes(random_salt()))
            })
            .clone()
    }

    /// Days currently held in memory (for tests).
    pub fn days(&self) -> Vec<i32> {
        read(&self.keys).keys().copied().collect()
    }

    /// Make sure today's and tomorrow's salts exist, adopt the winners for
    /// yesterday..=tomorrow, and destroy everything older.
    pub async fn sync(
        &self,
        store: &store::Store,
        today: i32,
        now_ms: i64,
    ) -> Result<(), SaltError> {
        let client = store.client();
        // Memory first, whatever the engine's state: a salt older than
        // yesterday is destroyed at the moment it is due, not when the
        // engine answers again.
        write(&self.keys).retain(|d, _| *d >= today - 1);
        let have = store::salts::days_from(client, today).await?;
        let missing: Vec<(i32, [u8; 32])> = [today, today + 1]
            .into_iter()
            .filter(|d| !have.contains(d))
            .map(|d| (d, random_salt()))
            .collect();
        store::salts::add(client, &missing, now_ms).await?;
        store::salts::destroy_before(store, today - 1).await?;
        let fresh: BTreeMap<i32, Arc<SaltKey>> = store::salts::winners_from(client, today - 1)
            .await?
            .into_iter()
            .map(|(day, bytes)| (day, Arc::new(SaltKey::from_bytes(bytes))))
            .collect();
        let mut keys = write(&self.keys);
        *keys = fresh;
        Ok(())
    }
}

fn random_salt() -> [u8; 32] {
    let mut s = [0u8; 32];
    rand::rng().fill_bytes(&mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_day_gets_a_local_salt_that_stays_stable() {
        let salts = Salts::new();
        let a = salts.key_for(100);
        let b = salts.key_for(100);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(salts.days(), vec![100]);
        assert_eq!(format!("{a:?}"), "SaltKey(<secret>)");
    }

    #[test]
    fn throwaway_salts_keep_every_day_and_differ_from_any_other() {
        let import = Salts::throwaway();
        let (a, b) = (import.key_for(100), import.key_for(300));
        assert!(Arc::ptr_eq(&a, &import.key_for(100)));
        assert_eq!(import.days(), vec![100, 300]);
        let other = Salts::throwaway();
        let ip = "192.0.2.1".parse().unwrap();
        let id = |k: &SaltKey| crate::privacy::visitor_id(k, "s", ip, "ua");
        assert_ne!(id(&a), id(&other.key_for(100)));
        assert_ne!(id(&a), id(&b));
    }
}
