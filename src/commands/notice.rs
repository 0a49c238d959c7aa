//! `tacit policy`: a plain-language account, generated from the validated
//! configuration, of what tacit collects, how each item is transformed, how
//! long each table keeps it, and what may leave the company. Written so a
//! company can adapt it for the "automatically collected information" part
//! of its privacy notice. Markdown, or JSON for tooling.

use serde::Serialize;

use crate::config::{Config, ConsentRule, IpRule, LocationRule, ReferrerRule, VersionRule};

#[derive(Debug, Serialize)]
pub struct Item {
    pub item: &'static str,
    pub received: &'static str,
    pub stored: String,
}

#[derive(Debug, Serialize)]
pub struct Retention {
    pub table: &'static str,
    pub holds: &'static str,
    pub kept_for: String,
}

#[derive(Debug, Serialize)]
pub struct Notice {
    pub sites: Vec<String>,
    pub collected: Vec<Item>,
    pub not_collected: Vec<&'static str>,
    pub visitor_counting: String,
    pub choices: Vec<String>,
    pub retention: Vec<Retention>,
    pub disclosures: String,
    /// Email measurement, in plain words (or that there is none).
    pub email: Vec<String>,
}

fn email_text(cfg: &Config) -> Vec<String> {
    let sites: Vec<&str> = cfg
        .sites
        .iter()
        .filter(|s| s.email_key.is_some())
        .map(|s| s.domain.as_str())
        .collect();
    if sites.is_empty() {
        return vec!["Emails are not measured: no site is configured for email beacons.".into()];
    }
    let p = &cfg.policy;
    vec![
        format!("Emails sent for {} may contain a tiny image and links that pass through this collector, to count how a campaign did: whether its emails were opened and its links clicked.", sites.join(", ")),
        "When the image is loaded (an open) or a link is followed (a click), what is received is the campaign's name, an optional variant name, for a click the page the link leads to, and, as with any web request, the IP address and the user-agent string.".into(),
        "What is kept: the campaign and variant, whether it was an open or a click, the time, for a click the site name and path of the page it leads to (path parts that look like e-mail addresses, numbers, identifiers or tokens replaced, no query string), the same daily visitor identifier as for page views, and whether the request came from a person or a machine.".into(),
        "No recipient is identified. Nothing in the image or link names the recipient: any other part of the address, such as an e-mail address or a subscriber number added by a mailing tool, is ignored and never stored. The daily identifier cannot be linked to an e-mail address, and changes every day, so the counts of unique opens are approximate (one reader on two devices counts twice; many readers behind one mail proxy count once).".into(),
        "Mail services and security scanners often load images and follow links themselves (Apple Mail Privacy Protection, Gmail's image proxy, corporate link scanners). Such requests are counted separately as machine opens and clicks, recognised by their user agent, by the published address ranges of those services, or by clicks that follow within seconds of the first request.".into(),
        format!("The choices above apply: the opt-out cookie, and Do Not Track and Global Privacy Control, work the same way for emails (a click still leads to its page). Email records are kept {} days; the daily counts made from them, {} months.", p.event_ttl_days, p.aggregate_ttl_months),
    ]
}

fn consent_text(signal: &str, rule: ConsentRule) -> String {
    match rule {
        ConsentRule::Drop => format!("Browsers that send {signal} are not recorded at all; only the number of such requests is counted."),
        ConsentRule::Anonymous => format!("Browsers that send {signal} are counted without a visitor identifier, so they add to page views but cannot be recognised as the same visitor."),
        ConsentRule::Ignore => format!("The {signal} signal is not acted on."),
    }
}

pub fn notice(cfg: &Config) -> Notice {
    let p = &cfg.policy;
    let ip = match p.ip {
        IpRule::Drop => "Not stored. The address is used in memory to find the country and to compute the daily visitor identifier, then discarded.".to_string(),
        IpRule::Truncate => "Only the network part is stored (the first three parts of an IPv4 address, the first 48 bits of an IPv6 address); the full address is discarded.".to_string(),
    };
    let location = match p.location {
        LocationRule::None => "Not stored.".to_string(),
        LocationRule::Country => "The country, looked up from the IP address.".to_string(),
        LocationRule::Region => "The country and region (state or province), looked up from the IP address. Never the city or anything finer.".to_string(),
        LocationRule::City => "The country, region and city, looked up from the IP address.".to_string(),
    };
    let version = |what: &str, r: VersionRule| match r {
        VersionRule::Major => format!("The {what} name and major version number."),
        VersionRule::None => format!("The {what} name only, no version."),
    };
    let referrer = match p.referrer {
        ReferrerRule::Host => "Only the site name (host) of the referring page, and a category such as search, social, email or paid. The referring page's path and query are discarded; visits from the site's own pages are not recorded as referrals.",
        ReferrerRule::Drop => "Only a category (direct, search, social, email, paid, referral); the referring site itself is not stored.",
    };
    let mut page =
        "The site name and page path. Query strings and #fragments are discarded".to_string();
    if !p.query_params.is_empty() {
        page.push_str(&format!(
            " except the parameters {}",
            p.query_params.join(", ")
        ));
    }
    page.push('.');
    if p.redact_paths {
        page.push_str(" Path parts that look like e-mail addresses, long numbers, unique identifiers or tokens are replaced by `:redacted`.");
    }
    page.push_str(" Marketing campaign tags (utm_source, utm_medium, utm_campaign, utm_content, utm_term) are kept; ad click identifiers only mark the visit as paid and are not stored.");
    let scrubbed = if p.redact_paths {
        " Values that look like e-mail addresses, phone numbers or other long numbers, unique identifiers or tokens are replaced by `:redacted`; others are kept to 200 characters."
    } else {
        ""
    };
    page.push_str(scrubbed);
    let listed: Vec<String> = cfg
        .sites
        .iter()
        .filter_map(|s| {
            s.allowed_properties.as_ref().map(|a| {
                format!(
                    "{}: {}",
                    s.domain,
                    if a.is_empty() {
                        "none".into()
                    } else {
                        a.join(", ")
                    }
                )
            })
        })
        .collect();
    let mut events = "As sent by the site, limited to 30 properties".to_string();
    if !listed.is_empty() {
        events.push_str(&format!(
            " and, where a site lists them, to the properties it allows ({})",
            listed.join("; ")
        ));
    }
    events.push_str("; with a purchase, its amount and currency; with an engagement event, how far the page was scrolled and how long it was in view.");
    events.push_str(scrubbed);
    let collected = vec![
        Item { item: "Page address", received: "the full URL of the page viewed", stored: page },
        Item { item: "Referring page", received: "the full URL of the page that linked to it", stored: referrer.to_string() },
        Item { item: "IP address", received: "the address the request came from", stored: ip },
        Item { item: "Location", received: "derived from the IP address", stored: location },
        Item { item: "Browser", received: "the browser's user-agent string", stored: version("browser", p.browser_version) + " The user-agent string itself is discarded (only its first 1 KiB is read at all). Requests from known bots and automated browsers are not recorded." },
        Item { item: "Operating system", received: "the browser's user-agent string", stored: version("operating system", p.os_version) },
        Item { item: "Device type", received: "the browser's user-agent string, its mobile hint (the Sec-CH-UA-Mobile header some browsers send with every request) and the width of the browser window", stored: "Desktop, mobile, tablet or other; the hint itself is not stored.".into() },
        Item { item: "Screen size", received: "the width of the browser window", stored: "The width in pixels and a size class (mobile, tablet, laptop, desktop).".into() },
        Item { item: "Language", received: "the browser's language preferences", stored: "The primary language only (for example \"de\" for Swiss German).".into() },
        Item { item: "Events", received: "the name of an action (page view, sign-up) and properties the site chooses to send", stored: events },
        Item { item: "Time", received: "the time of the request", stored: "The time the request was received.".into() },
    ];
    let not_collected = vec![
        "No cookies or similar identifiers are used to recognise visitors (the only cookie is the one that records an opt-out).",
        "No full IP address, user-agent string, query string or page fragment is written to disk, logs or exports.",
        "No data from other sources is combined with these records.",
    ];
    let visitor_counting = "To count unique visitors without cookies, tacit combines the site name, IP address and user-agent string with a random secret that changes every day (UTC) and computes a one-way hash. Only the hash is stored. The secret for a day is deleted two days later, after which no one, including the site operator, can recompute or link the identifiers, and the same person gets an unrelated identifier each day. Each page view or event also records which visit it belongs to, as a number computed from that day's identifier and the time of the visit's first page view: it is no more linkable across days than the identifier itself.".to_string();
    let mut choices = vec![
        consent_text("Do Not Track (DNT)", p.dnt),
        consent_text("Global Privacy Control (Sec-GPC)", p.gpc),
    ];
    if p.opt_out {
        choices.push("Any visitor can opt out by opening the `/opt-out` address of the collector; this stores a single cookie in their browser, and requests carrying it are not recorded. `/opt-in` removes it.".into());
    }
    if !p.exclude_countries.is_empty() {
        choices.push(format!(
            "Requests from these countries are not recorded: {}.",
            p.exclude_countries.join(", ")
        ));
    }
    let kept = |t: &str| crate::store::tiers::kept_for(t, p).unwrap_or_default();
    let retention = vec![
        Retention { table: "events", holds: "one record per page view or event, as described above", kept_for: kept("events") },
        Retention { table: "sessions", holds: "one record per visit: the daily visitor identifier, when the visit began and ended, and the pages and events in it, in order", kept_for: kept("sessions") },
        Retention { table: "aggregates", holds: "exact counts per site and hour or day (visitors, visits, bounces, page views, goal conversions, funnel steps), computed once a day is over; no visitor identifiers, no per-visit records, nothing more precise than the hour", kept_for: kept("rollup_daily") },
        Retention { table: "email_events", holds: "one record per email open or click, as described under Email measurement", kept_for: kept("email_events") },
        Retention { table: "dropped_hits", holds: "how many requests were not recorded, per site, day and reason", kept_for: kept("dropped_hits") },
        Retention { table: "import_staging", holds: "only while past traffic is imported (tacit import): the imported page views and events (the fields of events; identifiers under the import's own daily secrets, destroyed when it ends; another tracker's session identifiers only ever as such an identifier, never stored)", kept_for: "until the import ends (at most 6 hours)".into() },
        Retention { table: "import uploads", holds: "a file uploaded to the admin listener to be imported (POST /api/import), as it was sent: an access log holds addresses and browser descriptions, an export its tracker's session identifiers", kept_for: "on the collector's disk (readable by tacit only) while it is imported; deleted when the import ends, whatever its outcome".into() },
        Retention { table: "import_days, imports", holds: "which days of a site hold imported data, and a record of each import (file name and checksum, counts)", kept_for: format!("{}; the import records until the site's imports are removed", kept("import_days")) },
        Retention { table: "salts", holds: "the daily secrets used for visitor identifiers", kept_for: "2 days, then destroyed".into() },
        Retention { table: "disclosures", holds: "a record of each release of statistics to a partner (who, when, which categories, how many groups), and a note of each site whose data was removed on request", kept_for: "permanently, so that disclosures can be reported".into() },
        Retention { table: "purges", holds: "each removal of a site's data on its owner's request: the site, when, and how many records were removed", kept_for: "permanently, as evidence of the removal".into() },
        Retention { table: "write-ahead log", holds: "the same records as above, on the collector's disk until the database has them", kept_for: "until delivered to the database (seconds normally; longer while it is unreachable)".into() },
        Retention { table: "quarantine", holds: "records the database refused as malformed (the same fields as a page view or email record), with the reason, in one file per day on the collector's disk, for an operator to check and re-send", kept_for: format!("{} days after the day of its records, then the day's file is deleted by the running collector at its first check of the new day (within a minute)", p.event_ttl_days) },
    ];
    let mut retention = retention;
    retention.extend(partner_stores(cfg));
    let disclosures = if cfg.exports.is_empty() {
        "No data is shared with third parties.".to_string()
    } else {
        let mut partners: Vec<String> = Vec::new();
        for e in &cfg.exports {
            let cats: std::collections::BTreeSet<&str> = e
                .dimensions
                .iter()
                .map(|d| d.category().describe())
                .collect();
            partners.push(format!(
                "{} receives {} statistics ({}) in which every reported group counts at least {} distinct visitors{}",
                e.partner,
                e.period.adjective(),
                cats.into_iter().collect::<Vec<_>>().join("; ").to_lowercase(),
                e.min_visitors,
                noise_text(e)
            ));
        }
        format!(
            "Only aggregate statistics that identify no one are shared. {}. Smaller groups are withheld, together with enough other figures that, using everything the same third party has received, no withheld group can be narrowed to fewer possible values than the stated protection level; each period is released once, and every disclosure is recorded.",
            partners.join(". ")
        )
    };
    Notice {
        sites: cfg.sites.iter().map(|s| s.domain.clone()).collect(),
        collected,
        not_collected,
        visitor_counting,
        choices,
        retention,
        disclosures,
        email: email_text(cfg),
    }
}

/// Partner exports (issue 26): the audit store and the budget account,
/// with their retention, and the noise each noisy export adds.
fn partner_stores(cfg: &Config) -> Vec<Retention> {
    if cfg.exports.is_empty() {
        return Vec::new();
    }
    let kept = |t: &str| crate::store::tiers::kept_for(t, &cfg.policy).unwrap_or_default();
    vec![
        Retention { table: "export_cells", holds: "for each release to a partner, every figure of it, released or withheld (with the exact number of visitors of withheld groups), so that later releases are checked against everything the partner holds", kept_for: format!("{}; removed with a site's data", kept("export_cells")) },
        Retention { table: "export_atoms", holds: "which combinations of the partner's breakdowns (for example a country and a device) had at least one visitor, per site and day, in released periods; no counts", kept_for: format!("{}; removed with a site's data", kept("export_atoms")) },
        Retention { table: "export_budget", holds: "the privacy budget each noisy release charged, per partner account and month (numbers only)", kept_for: "25 months".into() },
    ]
}

fn noise_text(e: &crate::config::ExportSpec) -> String {
    match (e.dp, crate::config::bound::Sensitivity::at_most(e)) {
        (Some(dp), Some(s)) => format!(
            ", with random noise added (differential privacy: epsilon {} per release, at most {} per month for {}; each visitor counts in at most {} group(s) a day and at most {} time(s) in each figure of a group, so one person changes a release by at most {} in total, {})",
            dp.epsilon, dp.budget, e.budget_account, s.cells_per_day, dp.max_events_per_cell, s.total, s.describe(e)
        ),
        _ => String::new(),
    }
}

pub fn markdown(cfg: &Config) -> String {
    let n = notice(cfg);
    let mut s = String::new();
    s.push_str("# Automatically collected information\n\n");
    if !n.sites.is_empty() {
        s.push_str(&format!(
            "This describes the web analytics of: {}.\n\n",
            n.sites.join(", ")
        ));
    }
    s.push_str("When you visit these pages, your browser sends some information with each request. This is what is received, and what is kept of it.\n\n");
    s.push_str("| Information | What is received | What is kept |\n|---|---|---|\n");
    for i in &n.collected {
        s.push_str(&format!("| {} | {} | {} |\n", i.item, i.received, i.stored));
    }
    s.push_str("\n## What is not collected\n\n");
    for x in &n.not_collected {
        s.push_str(&format!("- {x}\n"));
    }
    s.push_str(&format!(
        "\n## Counting visitors\n\n{}\n",
        n.visitor_counting
    ));
    s.push_str("\n## Your choices\n\n");
    for c in &n.choices {
        s.push_str(&format!("- {c}\n"));
    }
    s.push_str("\n## How long it is kept\n\n| Where | What | Kept for |\n|---|---|---|\n");
    for r in &n.retention {
        s.push_str(&format!("| {} | {} | {} |\n", r.table, r.holds, r.kept_for));
    }
    s.push_str("\n## Email measurement\n\n");
    for e in &n.email {
        s.push_str(&format!("{e}\n\n"));
    }
    s.push_str(&format!("## Sharing\n\n{}\n", n.disclosures));
    s
}

pub fn json(cfg: &Config) -> serde_json::Value {
    serde_json::to_value(notice(cfg)).expect("notice serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawConfig;

    #[test]
    fn notice_follows_the_configuration() {
        let mut raw = RawConfig::default();
        let text = markdown(&raw.clone().validate().unwrap());
        assert!(text.contains("Not stored. The address is used in memory"));
        assert!(text.contains("| events |") && text.contains("30 days"));
        assert!(text.contains("Do Not Track (DNT) are not recorded at all"));
        raw.policy.ip = "truncate".into();
        raw.policy.event_ttl_days = 7;
        raw.policy.location = "country".into();
        raw.policy.dnt = "anonymous".into();
        raw.policy.query_params = vec!["page".into()];
        raw.policy.exclude_countries = vec!["EEA".into()];
        let cfg = raw.validate().unwrap();
        let text = markdown(&cfg);
        assert!(text.contains("Only the network part is stored"));
        assert!(text.contains("7 days"));
        assert!(text.contains("The country, looked up"));
        assert!(text.contains("without a visitor identifier"));
        assert!(text.contains("except the parameters page"));
        assert!(text.contains("NO"), "EEA expanded");
        let j = json(&cfg);
        assert!(j["retention"][0]["kept_for"]
            .as_str()
            .unwrap()
            .starts_with("7 days, then deleted"));
        assert!(text.contains("Emails are not measured"));
        let with_email = RawConfig {
            sites: vec![crate::config::RawSite {
                domain: "example.com".into(),
                email_key: "ab".repeat(32),
                allowed_properties: Some(vec!["plan".into()]),
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = markdown(&with_email.validate().unwrap());
        assert!(text.contains("Emails sent for example.com"));
        assert!(text.contains("No recipient is identified"));
        assert!(text.contains("machine opens and clicks"));
        assert!(text.contains("| email_events |"));
        assert!(text.contains("| quarantine |"));
        assert!(text.contains("the properties it allows (example.com: plan)"));
        assert!(text.contains("others are kept to 200 characters"));
    }
}
