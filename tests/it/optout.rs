//! The opt-out in a real browser: a third-party page's `<img>` cannot undo
//! it (headless Chromium sends the real `Sec-Fetch-*` headers), a link the
//! visitor follows can; and hits carrying the cookie are dropped.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_page_cannot_undo_the_opt_out() {
    let db = TestDb::new("optin");
    let app = start(db.config()).await;
    let base = format!("http://{}", app.beacon_addr);
    let port = free_port();
    let (report, stdout) = browser("optin.mjs", vec![base, port.to_string()]).await;
    assert_eq!(report["optOutStatus"], 200, "{stdout}");
    assert_eq!(report["afterOptOut"], "1", "{stdout}");
    assert_eq!(
        report["imgStatus"], 403,
        "the cross-site <img> is refused: {stdout}"
    );
    assert_eq!(report["afterImg"], "1", "still opted out: {stdout}");
    assert_eq!(report["navStatus"], 200, "{stdout}");
    assert!(
        report["afterNav"].is_null(),
        "the visitor's own click opts back in: {stdout}"
    );
    app.shutdown().await;
}
