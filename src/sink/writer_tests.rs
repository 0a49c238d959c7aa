//! Unit tests of `writer.rs`.
use super::*;
use crate::sink::classify::{classify, Failure};

#[test]
fn data_errors_are_told_from_outages() {
    let bad = clickhouse::error::Error::BadResponse(
        "Code: 33. DB::Exception: Cannot read all data. (CANNOT_READ_ALL_DATA)".into(),
    );
    assert!(matches!(classify(bad), Failure::Data(_)));
    let busy = clickhouse::error::Error::BadResponse(
        "Code: 252. DB::Exception: Too many parts. (TOO_MANY_PARTS)".into(),
    );
    assert!(matches!(classify(busy), Failure::Retry(_)));
    assert!(matches!(
        classify(clickhouse::error::Error::TimedOut),
        Failure::Retry(_)
    ));
}

#[test]
fn the_time_of_a_row_is_read_back() {
    let mut buf = Vec::new();
    crate::privacy::Event::sample().write_row_binary(&mut buf);
    assert_eq!(row_ts(&buf), Some(1_700_000_000_000));
}
