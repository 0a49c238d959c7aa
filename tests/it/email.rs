//! Email beacons against the real engine: opens and clicks counted per
//! campaign, variant and link, people apart from proxies and scanners,
//! signed links only (a tampered one redirects nowhere), and the same
//! answers from the analyst views before and after the day is rolled up.

use std::sync::Arc;

use tacit::config::RawSite;
use tacit::model::clock::{day_of, format_day, Clock, ManualClock, SystemClock};

use crate::common::*;

const KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const SITE: &str = "example.com";
const GMAIL: &str =
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)";
const APPLE_MPP: &str =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)";

fn links(campaign: &str, variant: &str, to: &str) -> (String, String) {
    tacit::beacon::email::links("", SITE, &hex::decode(KEY).unwrap(), campaign, variant, to)
        .unwrap()
}

#[derive(Debug, PartialEq, clickhouse::Row, serde::Deserialize)]
struct Daily {
    campaign: String,
    variant: String,
    class: String,
    opens: u64,
    unique_opens: u64,
    clicks: u64,
    unique_clicks: u64,
    click_to_open: f64,
}

#[derive(Debug, PartialEq, clickhouse::Row, serde::Deserialize)]
struct Link {
    class: String,
    link: String,
    clicks: u64,
    unique_clicks: u64,
}

async fn views(db: &TestDb) -> (Vec<Daily>, Vec<Link>) {
    let c = db.client();
    let daily = c
        .query(
            "SELECT campaign, variant, class, sum(opens) AS opens, sum(unique_opens) AS unique_opens,
                    sum(clicks) AS clicks, sum(unique_clicks) AS unique_clicks,
                    round(if(unique_opens = 0, 0, unique_clicks / unique_opens), 4) AS click_to_open
             FROM analytics_email_daily WHERE site = ?
             GROUP BY campaign, variant, class ORDER BY campaign, variant, class",
        )
        .bind(SITE)
        .fetch_all()
        .await
        .unwrap();
    let links = c
        .query(
            "SELECT class, link, sum(clicks) AS clicks, sum(unique_clicks) AS unique_clicks
             FROM analytics_email_links_daily WHERE site = ? AND campaign = 'spring'
             GROUP BY class, link ORDER BY class, link",
        )
        .bind(SITE)
        .fetch_all()
        .await
        .unwrap();
    (daily, links)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opens_and_clicks_per_campaign_and_link_and_no_open_redirect() {
    let db = TestDb::new("email");
    let mut raw = db.config();
    raw.sites[0].email_key = KEY.into();
    raw.sites.push(RawSite {
        domain: "b.example".into(),
        ..Default::default()
    });
    let clock = ManualClock::new(settled_now(&db).await);
    let app = start_with_clock(raw, Arc::new(clock.clone())).await;
    let at = app.beacon_addr;
    let send = |path: String, ip: &'static str, ua: &'static str| async move {
        get(at, &path, &[("x-forwarded-for", ip), ("user-agent", ua)]).await
    };
    let (open, click_a) = links(
        "spring",
        "",
        "https://example.com/sale/shoes?utm_source=mail",
    );
    let (_, click_b) = links("spring", "", "https://example.com/about");
    let (open_autumn, _) = links("autumn", "b", "https://example.com/");
    let (r1, r2, r3, scanner) = (
        "81.2.69.160",
        "81.2.69.161",
        "89.160.20.112",
        "175.16.199.5",
    );

    // Three readers open; the first twice, and once the autumn mail.
    for ip in [r1, r2, r3, r1] {
        let (s, h, body) = send(open.clone(), ip, BROWSER_UA).await;
        assert_eq!((s, body.len()), (200, 43));
        assert_eq!(h["content-type"], "image/gif");
    }
    assert_eq!(send(open_autumn, r1, BROWSER_UA).await.0, 200);
    // Machines open on delivery: Gmail's proxy (its agent), Apple's relay
    // (its network).
    assert_eq!(send(open.clone(), "66.102.8.10", GMAIL).await.0, 200);
    assert_eq!(send(open.clone(), "17.142.160.59", APPLE_MPP).await.0, 200);
    // Two minutes later, readers click; the redirect is to the signed target.
    clock.advance(120_000);
    for (link, ip) in [(&click_a, r1), (&click_b, r2), (&click_a, r2)] {
        let (s, h, _) = send(link.clone(), ip, BROWSER_UA).await;
        assert_eq!(s, 302);
        assert!(h["location"]
            .to_str()
            .unwrap()
            .starts_with("https://example.com/"));
    }
    // A scanner on an unlisted network follows every link at once: its
    // first request looks like a person, the clicks after it are a burst.
    assert_eq!(send(open.clone(), scanner, BROWSER_UA).await.0, 200);
    clock.advance(300);
    assert_eq!(send(click_a.clone(), scanner, BROWSER_UA).await.0, 302);
    clock.advance(300);
    assert_eq!(send(click_b.clone(), scanner, BROWSER_UA).await.0, 302);

    // Refused, and redirected nowhere: a tampered target, a tampered or
    // missing signature, an unsigned site, a recipient-like campaign.
    let evil = click_a.replace("sale%2Fshoes", "evil");
    let bad_sig = format!("{}0000", &click_a[..click_a.len() - 4]);
    let no_sig = click_a.split("&sig=").next().unwrap().to_string();
    let elsewhere = click_a.replace(
        "to=https%3A%2F%2Fexample.com",
        "to=https%3A%2F%2Fevil.example",
    );
    for bad in [evil, bad_sig, no_sig, elsewhere] {
        let (s, h, body) = send(bad.clone(), r1, BROWSER_UA).await;
        assert_eq!(s, 400, "{bad}");
        assert!(h.get("location").is_none(), "{bad} redirected");
        assert!(
            String::from_utf8_lossy(&body).contains("signature"),
            "{bad}"
        );
    }
    let (s, _, body) = send("/e/o.gif?c=x&s=b.example".into(), r1, BROWSER_UA).await;
    assert_eq!(s, 400);
    assert!(String::from_utf8_lossy(&body).contains("email_key"));
    let (s, _, _) = send(
        "/e/o.gif?c=someone%40mail.example&s=example.com".into(),
        r1,
        BROWSER_UA,
    )
    .await;
    assert_eq!(s, 400);

    db.wait_rows("email_events", 13, 20).await;
    app.shutdown().await;

    let (daily, links) = views(&db).await;
    println!("campaigns: {daily:#?}\nlinks: {links:#?}");
    let row = |c: &str, v: &str, class: &str, o, uo, k, uk, cto| Daily {
        campaign: c.into(),
        variant: v.into(),
        class: class.into(),
        opens: o,
        unique_opens: uo,
        clicks: k,
        unique_clicks: uk,
        click_to_open: cto,
    };
    assert_eq!(
        daily,
        vec![
            row("autumn", "b", "human", 1, 1, 0, 0, 0.0),
            // r1 twice, r2, r3, the scanner's first request.
            row("spring", "", "human", 5, 4, 3, 2, 0.5),
            row("spring", "", "machine", 2, 2, 2, 1, 0.5),
        ]
    );
    let link = |class: &str, l: &str, k, uk| Link {
        class: class.into(),
        link: l.into(),
        clicks: k,
        unique_clicks: uk,
    };
    assert_eq!(
        links,
        vec![
            link("human", "example.com/about", 1, 1),
            link("human", "example.com/sale/shoes", 2, 2),
            link("machine", "example.com/about", 1, 1),
            link("machine", "example.com/sale/shoes", 1, 1),
        ]
    );
    let reasons: Vec<(String, String, u64)> = db
        .client()
        .query("SELECT machine, operator, count() FROM email_events WHERE class = 'machine' GROUP BY machine, operator ORDER BY machine")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        reasons,
        vec![
            ("agent".into(), "".into(), 1),
            ("burst".into(), "".into(), 2),
            ("network".into(), "apple".into(), 1),
        ]
    );

    // The day rolled up: the views answer the same from the aggregate tier.
    let day = day_of(clock.now_ms());
    tacit::analytics::rollup::rollup_day(&db.store(), day, 7)
        .await
        .unwrap();
    let rolled: u64 = db
        .client()
        .query("SELECT sum(events) FROM rollup_email_daily WHERE link = '' AND day = toDate(?)")
        .bind(format_day(day))
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(rolled, 13);
    assert_eq!(views(&db).await, (daily, links));
    // A rolled-up day whose counts match is not due again.
    let due = tacit::analytics::rollup::due(
        &db.store(),
        tacit::analytics::rollup::Schedule {
            event_ttl_days: 30,
            delay: std::time::Duration::ZERO,
        },
        clock.now_ms() + 3 * 86_400_000,
    )
    .await
    .unwrap();
    assert!(!due.contains(&day), "{due:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_exports_count_readers_only_and_suppress_small_campaigns() {
    use rand::SeedableRng;
    let db = TestDb::new("email_export");
    let mut raw = db.config();
    let cfg = raw.clone().validate().unwrap();
    tacit::store::migrate::migrate(&cfg.clickhouse, 0)
        .await
        .unwrap();
    let today = today(&db).await;
    let day = format_day(today - 2);
    // big: 6 readers open, 3 of them click; mid: 4 readers; small: 2
    // readers and 20 machine opens (which never count).
    raw_query(
        &db.url,
        &format!(
            "INSERT INTO `{}`.email_events (site, ts, kind, campaign, variant, link_host, link_path, visitor_id, consent, class, machine, operator)
             SELECT '{SITE}', toDateTime64('{day} 09:00:00', 3, 'UTC') + toIntervalSecond(number), k, c, '', '', '', v, 'full', cl, if(cl = 'machine', 'network', ''), if(cl = 'machine', 'apple', '')
             FROM (
                 SELECT number, tupleElement(r, 1) AS c, tupleElement(r, 2) AS k, tupleElement(r, 3) AS v, tupleElement(r, 4) AS cl
                 FROM (SELECT number, arrayJoin(
                     arrayConcat(
                         arrayMap(i -> ('big', 'open', i, 'human'), range(1, 7)),
                         arrayMap(i -> ('big', 'click', i, 'human'), range(1, 4)),
                         arrayMap(i -> ('mid', 'open', 20 + i, 'human'), range(1, 5)),
                         arrayMap(i -> ('small', 'open', 40 + i, 'human'), range(1, 3)),
                         arrayMap(i -> ('small', 'open', 100 + i, 'machine'), range(1, 21)))) AS r
                     FROM numbers(1))
             )",
            db.name
        ),
    )
    .await;
    assert_eq!(db.count("email_events").await, 6 + 3 + 4 + 2 + 20);
    raw.sites[0].email_key = KEY.into();
    raw.exports = vec![toml::from_str(&format!(
        "name = \"mail\"\npartner = \"acme\"\nsites = [\"{SITE}\"]\nperiod = \"day\"\nmin_visitors = 3\n\
         dimensions = [\"email_campaign\"]\nmetrics = [\"visitors\", \"events\"]"
    ))
    .unwrap()];
    let cfg = raw.clone().validate().unwrap();
    let released = tacit::export::release(
        &db.store(),
        &cfg.exports[0],
        &day,
        SystemClock.now_ms(),
        30,
        tacit::export::ReleaseChannel::Cli,
        &mut rand::rngs::StdRng::seed_from_u64(1),
    )
    .await
    .unwrap();
    let text = String::from_utf8(released.bytes.clone()).unwrap();
    println!("{text}");
    assert!(text.contains("big,6,9"), "{text}");
    // (mid may be withheld too, as the complement that keeps small's
    // count from being derived; see docs/disclosure-control.md.)
    assert!(
        !text.contains("small"),
        "a campaign of 2 readers is withheld: {text}"
    );
    assert!(
        !text.contains(",22") && !text.contains(",20"),
        "machines never count: {text}"
    );

    // Email exports stay email exports, for the whole partner.
    let bad = |dims: &str, metrics: &str, extra: &str| {
        let mut r = raw.clone();
        r.exports = vec![toml::from_str(&format!(
            "name = \"mail\"\npartner = \"acme\"\nsites = [\"{SITE}\"]\nperiod = \"day\"\n\
             dimensions = [{dims}]\nmetrics = [{metrics}]"
        ))
        .unwrap()];
        if !extra.is_empty() {
            r.exports.push(toml::from_str(extra).unwrap());
        }
        r.validate().unwrap_err().to_string()
    };
    let e = bad("\"email_campaign\", \"country\"", "\"visitors\"", "");
    assert!(e.contains("dimensions") && e.contains("country"), "{e}");
    let e = bad("\"email_campaign\"", "\"visits\"", "");
    assert!(e.contains("metrics") && e.contains("visits"), "{e}");
    let e = bad(
        "\"email_campaign\"",
        "\"visitors\"",
        &format!("name = \"web\"\npartner = \"acme\"\nsites = [\"{SITE}\"]\nperiod = \"day\"\ndimensions = [\"country\"]\nmetrics = [\"visitors\"]"),
    );
    assert!(e.contains("all web or all email"), "{e}");
}

/// A mail proxy fetches every recipient's images from a few networks: the
/// per-network rate limit must not turn its opens into drops, while any
/// other network stays limited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_proxies_are_not_rate_limited_and_others_are() {
    let db = TestDb::new("email_limit");
    let mut raw = db.config();
    raw.sites[0].email_key = KEY.into();
    raw.server.rate_limit_per_second = 1;
    raw.server.rate_limit_burst = 2;
    let app = start(raw).await;
    let (open, _) = links("news", "", "https://example.com/");
    for (ip, ua) in [("66.102.8.10", GMAIL), ("81.2.69.160", BROWSER_UA)] {
        for _ in 0..6 {
            let (s, _, _) = get(
                app.beacon_addr,
                &open,
                &[("x-forwarded-for", ip), ("user-agent", ua)],
            )
            .await;
            assert_eq!(s, 200);
        }
    }
    let metrics = app.metrics.clone();
    app.shutdown().await;
    let per_class: Vec<(String, u64)> = db
        .client()
        .query("SELECT toString(class) AS c, count() FROM email_events GROUP BY c ORDER BY c")
        .fetch_all()
        .await
        .unwrap();
    // The other network gets its burst of 2 (3 if a second passed).
    let human = per_class[0].1;
    assert_eq!(
        per_class[1],
        ("machine".into(), 6),
        "every proxy open stored"
    );
    assert!(
        per_class[0].0 == "human" && (2..=3).contains(&human),
        "{per_class:?}"
    );
    assert_eq!(
        metrics.dropped(tacit::ingest::DropReason::RateLimited),
        6 - human
    );
}

/// Generated email opens and clicks for `days` (the cookbook's data):
/// three campaigns, a variant, three links, a pool of daily visitor ids
/// (some anonymous), a share from machines; nothing on a schema older than
/// the email tables (the upgrade test).
pub(crate) async fn load_generated_opens(db: &TestDb, days: &[i32]) {
    let email = raw_query(&db.url, &format!("EXISTS TABLE `{}`.email_events", db.name)).await;
    for &d in days.iter().filter(|_| email.trim() == "1") {
        raw_query(
            &db.url,
            &format!(
                "INSERT INTO `{}`.email_events (site, ts, kind, campaign, variant, link_host, link_path, visitor_id, consent, class, machine, operator)
                 SELECT '{SITE}', toDateTime64('{}', 3, 'UTC') + toIntervalMillisecond(number * 7919 % 86400000) AS ts,
                        if(number % 4 = 0, 'click', 'open') AS kind,
                        ['spring', 'autumn', 'news'][intDiv(number, 7) % 3 + 1], if(number % 5 = 0, 'b', ''),
                        if(kind = 'click', 'example.com', ''), if(kind = 'click', ['/a', '/b', '/c'][number % 3 + 1], ''),
                        if(number % 50 = 0, 0, cityHash64(number % 300) % 400 + 1) AS v,
                        if(v = 0, 'anonymous', 'full'),
                        if(number % 6 = 0, 'machine', 'human') AS class,
                        if(class = 'machine', 'network', ''), if(class = 'machine', 'apple', '')
                 FROM numbers({})",
                db.name,
                format_day(d),
                1500 + (d % 7) * 50
            ),
        )
        .await;
    }
}
