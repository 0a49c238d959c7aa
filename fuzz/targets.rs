//! The bodies of the fuzz targets, shared by `cargo fuzz` (the binaries in
//! `fuzz_targets/`) and by `make test`, which replays every checked-in
//! corpus file through them (`tests/cpu/fuzz_corpus.rs`). Each must never
//! panic; where a property must hold, it asserts it.

#![allow(dead_code)]

use std::net::IpAddr;

/// The pixel's query string decoder.
pub fn decode_query(data: &[u8]) {
    let _ = tacit::beacon::decode::query(&String::from_utf8_lossy(data));
}

/// The beacon's JSON decoders (Plausible and Umami), and the site list.
pub fn decode_json(data: &[u8]) {
    if let Ok(hit) = tacit::beacon::decode::json(data) {
        if let Ok(d) = tacit::beacon::decode::domains(&hit) {
            assert!(!d.is_empty() && d.len() <= tacit::beacon::decode::MAX_DOMAINS);
        }
    }
    let _ = tacit::beacon::decode::umami(data);
}

/// Forwarding-chain hops and the client-address walk.
pub fn client_ip(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    for hop in s.split(',') {
        let _ = tacit::privacy::ip::parse_hop(hop);
    }
    let trusted: Vec<tacit::model::net::Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
    let peer: IpAddr = "10.0.0.1".parse().unwrap();
    let ip = tacit::privacy::ip::client_ip(peer, Some(&s), &trusted);
    // The answer is the peer or one of the hops, never anything else.
    assert!(
        ip == peer
            || s.split(',').any(|h| tacit::privacy::ip::parse_hop(h)
                .map(tacit::privacy::ip::canonical)
                == Some(ip))
    );
    let _ = tacit::privacy::ip::truncate(ip);
    let _ = s.parse::<tacit::model::net::Cidr>();
}

/// Path redaction (idempotent) and the query allow-list.
pub fn url_scrub(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let once = tacit::privacy::url::redact_path(&s);
    assert_eq!(tacit::privacy::url::redact_path(&once), once);
    let _ = tacit::privacy::url::kept_query(Some(&s), &["lang".to_string()]);
}

/// The write-ahead log's record reader and the row's site/time reader.
pub fn log_record(data: &[u8]) {
    let (valid, n) = tacit::sink::record::valid_prefix(data);
    assert!(valid <= data.len());
    assert!(n as usize <= data.len() / tacit::sink::record::FRAME + 1);
    let mut at = 0;
    while let tacit::sink::record::Next::Record(payload, used) =
        tacit::sink::record::next(&data[at..])
    {
        let _ = tacit::sink::row::site_and_ts(payload);
        at += used;
    }
    assert_eq!(at, valid);
}

/// Configuration: parsing and validation never panic.
pub fn config(data: &[u8]) {
    if let Ok(raw) = tacit::config::RawConfig::from_toml(&String::from_utf8_lossy(data)) {
        let _ = raw.validate();
    }
}
