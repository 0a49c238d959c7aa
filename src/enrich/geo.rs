//! IP → country (ISO 3166-1 alpha-2), region (ISO 3166-2) and city, from
//! memory-mapped MaxMind DB files. Two schemas: MaxMind's GeoIP2/GeoLite2
//! (nested `country.iso_code`, `subdivisions[].iso_code`, `city.names.en`)
//! and the flat one of the `@ip-location-db/*-mmdb` packages
//! (`country_code`, `state1`, `city`; its regions are names, not ISO codes,
//! so they are not stored). Called only from `privacy/`, which owns the IP.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use maxminddb::{Mmap, Reader};
use serde::Deserialize;

pub use crate::model::facts::GeoInfo;

#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct GeoError {
    pub path: String,
    #[source]
    pub source: maxminddb::MaxMindDbError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Schema {
    GeoIp2,
    Flat,
}

#[derive(Deserialize)]
struct IsoCode<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow)]
    names: Option<BTreeMap<&'a str, &'a str>>,
}

#[derive(Deserialize)]
struct GeoIp2Record<'a> {
    #[serde(borrow)]
    country: Option<IsoCode<'a>>,
    #[serde(borrow)]
    subdivisions: Option<Vec<IsoCode<'a>>>,
    #[serde(borrow)]
    city: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct FlatRecord<'a> {
    #[serde(borrow)]
    country_code: Option<&'a str>,
    #[serde(borrow)]
    city: Option<&'a str>,
}

struct Db {
    reader: Reader<Mmap>,
    schema: Schema,
}

/// The record for `ip`, widening `widest` to its network's prefix length
/// (whether or not the record has data: an answer is cacheable only for a
/// network no consulted record is narrower than).
fn record<'a, T: Deserialize<'a>>(
    reader: &'a Reader<Mmap>,
    ip: IpAddr,
    widest: &mut usize,
) -> Option<T> {
    let (r, len) = reader.lookup_prefix::<T>(ip).ok()?;
    *widest = (*widest).max(len);
    r
}

pub struct Geo {
    dbs: Vec<Db>,
    /// Answers per network (IPv4 /24, IPv6 /48), kept only when every
    /// database's record covers the whole network, so a cached answer is
    /// the one a lookup would give for any address in it.
    cache: quick_cache::sync::Cache<u64, GeoInfo>,
}

/// Networks whose answers are kept.
const CACHED_NETWORKS: usize = 65_536;

/// The network of `ip` as a cache key, and its prefix length.
fn network(ip: IpAddr) -> (u64, usize) {
    match ip {
        IpAddr::V4(v4) => ((u32::from(v4) >> 8) as u64 | 1 << 63, 24),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => network(IpAddr::V4(v4)),
            None => ((u128::from(v6) >> 80) as u64, 48),
        },
    }
}

impl Geo {
    /// Open each file (memory-mapped); the first that knows an address answers.
    pub fn open(paths: &[impl AsRef<Path>]) -> Result<Self, GeoError> {
        let mut dbs = Vec::new();
        for p in paths {
            let p = p.as_ref();
            let reader = Reader::open_mmap(p).map_err(|source| GeoError {
                path: p.display().to_string(),
                source,
            })?;
            let t = reader.metadata.database_type.to_ascii_lowercase();
            let schema =
                if t.starts_with("geoip") || t.starts_with("geolite") || t.starts_with("dbip-") {
                    Schema::GeoIp2
                } else {
                    Schema::Flat
                };
            dbs.push(Db { reader, schema });
        }
        Ok(Self {
            dbs,
            cache: quick_cache::sync::Cache::new(CACHED_NETWORKS),
        })
    }

    pub fn lookup(&self, ip: IpAddr) -> GeoInfo {
        let (key, bits) = network(ip);
        if let Some(hit) = self.cache.get(&key) {
            return hit;
        }
        let (info, widest) = self.lookup_uncached(ip);
        if widest <= bits {
            self.cache.insert(key, info.clone());
        }
        info
    }

    /// The answer, and the longest prefix of the records consulted.
    fn lookup_uncached(&self, ip: IpAddr) -> (GeoInfo, usize) {
        let mut widest = 0;
        for db in &self.dbs {
            let found = match db.schema {
                Schema::GeoIp2 => record::<GeoIp2Record>(&db.reader, ip, &mut widest).map(|r| {
                    let country = r.country.and_then(|c| c.iso_code).unwrap_or("").to_string();
                    let region = r
                        .subdivisions
                        .and_then(|s| s.into_iter().next())
                        .and_then(|s| s.iso_code)
                        .filter(|_| !country.is_empty())
                        .map(|s| format!("{country}-{s}"))
                        .unwrap_or_default();
                    let city = r
                        .city
                        .and_then(|c| c.names)
                        .and_then(|n| n.get("en").copied())
                        .unwrap_or("")
                        .to_string();
                    GeoInfo {
                        country,
                        region,
                        city,
                    }
                }),
                Schema::Flat => {
                    record::<FlatRecord>(&db.reader, ip, &mut widest).map(|r| GeoInfo {
                        country: r.country_code.unwrap_or("").to_string(),
                        region: String::new(),
                        city: r.city.unwrap_or("").to_string(),
                    })
                }
            };
            if let Some(g) = found.filter(|g| g.country.len() == 2) {
                return (g, widest);
            }
        }
        (GeoInfo::default(), widest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::bots::vendor;

    #[test]
    fn geoip2_schema_gives_country_region_city() {
        let g = Geo::open(&[vendor("test/GeoIP2-City-Test.mmdb")])
            .expect("run scripts/fetch-data first");
        let london = g.lookup("81.2.69.142".parse().unwrap());
        assert_eq!(
            london,
            GeoInfo {
                country: "GB".into(),
                region: "GB-ENG".into(),
                city: "London".into()
            }
        );
        let se = g.lookup("89.160.20.128".parse().unwrap());
        assert_eq!((se.country.as_str(), se.region.as_str()), ("SE", "SE-E"));
        assert_eq!(g.lookup("127.0.0.1".parse().unwrap()), GeoInfo::default());
    }

    #[test]
    fn flat_schema_gives_country() {
        let g = Geo::open(&[vendor("dbip-country.mmdb")]).expect("run scripts/fetch-data first");
        assert_eq!(g.lookup("81.2.69.142".parse().unwrap()).country, "GB");
        assert_eq!(g.lookup("8.8.8.8".parse().unwrap()).country, "US");
        assert_eq!(g.lookup("10.0.0.1".parse().unwrap()).country, "");
    }

    #[test]
    fn cached_answers_are_the_lookups_answers() {
        let g = Geo::open(&[
            vendor("test/GeoIP2-City-Test.mmdb"),
            vendor("dbip-country.mmdb"),
        ])
        .unwrap();
        // Every address of a few networks, twice: the second pass is served
        // from the cache where a whole network shares one record.
        for base in ["81.2.69.0", "89.160.20.0", "8.8.8.0", "2.125.160.0"] {
            let b: std::net::Ipv4Addr = base.parse().unwrap();
            for pass in 0..2 {
                for last in 0..=255u32 {
                    let ip = IpAddr::V4((u32::from(b) | last).into());
                    assert_eq!(g.lookup(ip), g.lookup_uncached(ip).0, "{ip} pass {pass}");
                }
            }
        }
        assert!(!g.cache.is_empty(), "networks with one record are cached");
    }

    #[test]
    fn files_are_tried_in_order() {
        let g = Geo::open(&[
            vendor("test/GeoIP2-Country-Test.mmdb"),
            vendor("dbip-country.mmdb"),
        ])
        .unwrap();
        // Not in MaxMind's small test file; answered by the second.
        assert_eq!(g.lookup("8.8.8.8".parse().unwrap()).country, "US");
        assert!(Geo::open(&["/nonexistent.mmdb"]).is_err());
    }
}
