//! Unit tests of `writer.rs`.
use crate::sink::batch::{row_ts, Batch};
use crate::sink::classify::{classify, Failure};
use crate::sink::record;

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
    crate::sink::row::StoredRow::write_row_binary(&crate::privacy::Event::sample(), &mut buf);
    assert_eq!(row_ts(&buf), Some(1_700_000_000_000));
}

#[test]
fn a_batch_stops_where_the_table_changes_and_keeps_each_row_in_place() {
    // Two events rows, an email row, an events row: framed as in the log.
    let mut ev = Vec::new();
    crate::sink::row::StoredRow::write_row_binary(&crate::privacy::Event::sample(), &mut ev);
    let mut email = vec![crate::sink::row::EMAIL_TAG];
    email.extend_from_slice(&ev);
    let mut log = Vec::new();
    for p in [&ev, &ev, &email, &ev] {
        record::frame(&mut log, p);
    }
    let b = Batch::frame(&log, 1, 16, usize::MAX);
    assert_eq!(b.rows(), 2, "the email row starts the next batch");
    assert_eq!((b.row(0), b.row(1)), (&ev[..], &ev[..]));
    let rec = (record::FRAME + ev.len()) as u64;
    assert_eq!(b.range(0, 2), (16, 16 + 2 * rec));
    let (rows, bytes) = b.slices(0, 2);
    assert_eq!((rows.count(), bytes), (2, 2 * ev.len()));
    let rest = Batch::frame(&log[2 * rec as usize..], 1, 16 + 2 * rec, usize::MAX);
    assert_eq!(rest.rows(), 1);
    assert_eq!(rest.row(0), &ev[..], "the tag is not part of the row");
    assert_eq!(Batch::frame(&log, 1, 16, 1).rows(), 1, "at most max_rows");
}
