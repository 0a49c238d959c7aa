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

pub struct Geo {
    dbs: Vec<Db>,
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
        Ok(Self { dbs })
    }

    pub fn lookup(&self, ip: IpAddr) -> GeoInfo {
        for db in &self.dbs {
            let found = match db.schema {
                Schema::GeoIp2 => db
                    .reader
                    .lookup::<GeoIp2Record>(ip)
                    .ok()
                    .flatten()
                    .map(|r| {
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
                    db.reader
                        .lookup::<FlatRecord>(ip)
                        .ok()
                        .flatten()
                        .map(|r| GeoInfo {
                            country: r.country_code.unwrap_or("").to_string(),
                            region: String::new(),
                            city: r.city.unwrap_or("").to_string(),
                        })
                }
            };
            if let Some(g) = found.filter(|g| g.country.len() == 2) {
                return g;
            }
        }
        GeoInfo::default()
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
