//! How an insert failed: ClickHouse refusing the rows themselves (a
//! parse or type error: retrying cannot help, the batch is split to find
//! them), or anything else (the same rows are retried with the same token).

/// How an insert failed.
pub enum Failure {
    /// ClickHouse refused the data itself: retrying will not help.
    Data(clickhouse::error::Error),
    /// Anything else: retry the same rows with the same token.
    Retry(clickhouse::error::Error),
}

/// ClickHouse error codes that mean the rows themselves are bad.
const DATA_ERRORS: &[u32] = &[
    6, 26, 27, 32, 33, 38, 41, 53, 69, 70, 72, 117, 130, 131, 190,
];

pub fn classify(e: clickhouse::error::Error) -> Failure {
    if let clickhouse::error::Error::BadResponse(msg) = &e {
        let code = msg
            .split("Code: ")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|c| c.parse::<u32>().ok());
        if code.is_some_and(|c| DATA_ERRORS.contains(&c)) {
            return Failure::Data(e);
        }
    }
    Failure::Retry(e)
}
