//! The columns each dimension reads: in the analyst views (the aggregate
//! tier), in `events`, among a visit's own in `sessions`, and the
//! visitor-day's attributes joined to visits; and the time buckets.

use crate::query::{Dim, Grain};

/// The analyst view that keeps a dimension per day (its value column and
/// the condition that picks the dimension): the view of one question, so
/// the open days compute that dimension only.
pub(super) fn kept_dimension(d: Dim) -> Option<(&'static str, &'static str, &'static str)> {
    Some(match d {
        Dim::Page => ("analytics_pages_daily", "pathname", ""),
        Dim::Hostname => ("analytics_hostnames_daily", "hostname", ""),
        Dim::Name => ("analytics_breakdown_daily", "value", "dimension = 'event'"),
        Dim::Source => ("analytics_sources_daily", "source", ""),
        Dim::Channel => ("analytics_channels_daily", "channel", ""),
        Dim::UtmSource => (
            "analytics_campaigns_daily",
            "value",
            "utm_field = 'utm_source'",
        ),
        Dim::UtmMedium => (
            "analytics_campaigns_daily",
            "value",
            "utm_field = 'utm_medium'",
        ),
        Dim::UtmCampaign => (
            "analytics_campaigns_daily",
            "value",
            "utm_field = 'utm_campaign'",
        ),
        Dim::UtmContent => (
            "analytics_campaigns_daily",
            "value",
            "utm_field = 'utm_content'",
        ),
        Dim::UtmTerm => (
            "analytics_campaigns_daily",
            "value",
            "utm_field = 'utm_term'",
        ),
        Dim::Device => ("analytics_technology_daily", "value", "kind = 'device'"),
        Dim::Browser => ("analytics_technology_daily", "value", "kind = 'browser'"),
        Dim::Os => ("analytics_technology_daily", "value", "kind = 'os'"),
        Dim::Screen => ("analytics_technology_daily", "value", "kind = 'screen'"),
        Dim::Country => ("analytics_locations_daily", "value", "level = 'country'"),
        Dim::Region => ("analytics_locations_daily", "value", "level = 'region'"),
        _ => return None,
    })
}

pub(super) fn time_expr(g: Grain, date: &str, at: &str) -> String {
    match g {
        Grain::Minute => format!("formatDateTime(toStartOfMinute({at}), '%Y-%m-%d %H:%i:00')"),
        Grain::Hour => format!("formatDateTime(toStartOfHour({at}), '%Y-%m-%d %H:00:00')"),
        Grain::Day => format!("toString({date})"),
        Grain::Week => format!("toString(greatest(toMonday({date}), {{from:Date}}))"),
        Grain::Month => format!("toString(greatest(toStartOfMonth({date}), {{from:Date}}))"),
    }
}

/// A dimension's column in `events` (a custom property's value: empty
/// where the event does not carry it).
pub(super) fn event_column(d: Dim) -> Option<String> {
    if let Dim::Prop(i) = d {
        return Some(format!("prop_values[indexOf(prop_keys, {{pk{i}:String}})]"));
    }
    Some(
        match d {
            Dim::Page => "pathname",
            Dim::Hostname => "toString(hostname)",
            Dim::Name => "toString(name)",
            Dim::Goal => "if(name = 'pageview', concat('Visit ', pathname), toString(name))",
            Dim::Source => "toString(referrer_source)",
            Dim::Referrer => "toString(referrer_host)",
            Dim::Channel => "toString(channel)",
            Dim::UtmSource => "utm_source",
            Dim::UtmMedium => "toString(utm_medium)",
            Dim::UtmCampaign => "utm_campaign",
            Dim::UtmContent => "utm_content",
            Dim::UtmTerm => "utm_term",
            Dim::Device => "toString(device)",
            Dim::Browser => "toString(browser)",
            Dim::BrowserVersion => "toString(browser_version)",
            Dim::Os => "toString(os)",
            Dim::OsVersion => "toString(os_version)",
            Dim::Country => "toString(country)",
            Dim::Region => "toString(region)",
            Dim::City | Dim::CityName => "toString(city)",
            Dim::Screen => "toString(screen)",
            Dim::EntryPage | Dim::ExitPage | Dim::Time(_) | Dim::Prop(_) => return None,
        }
        .to_string(),
    )
}

/// A dimension's column among a visit's own (`sessions`).
pub(super) fn visit_column(d: Dim) -> Option<&'static str> {
    Some(match d {
        Dim::EntryPage => "entry_page",
        Dim::ExitPage => "exit_page",
        Dim::Source => "toString(referrer_source)",
        Dim::Channel => "toString(channel)",
        Dim::UtmCampaign => "utm_campaign",
        Dim::Country => "toString(country)",
        Dim::Device => "toString(device)",
        _ => return None,
    })
}

/// Attributes of the visitor-day (the same on every hit of a daily
/// visitor id: they come from its user agent and address), joined to
/// visits from `events`.
pub(super) fn visitor_column(d: Dim) -> Option<(&'static str, &'static str)> {
    Some(match d {
        Dim::Browser => ("a_browser", "toString(browser)"),
        Dim::BrowserVersion => ("a_browser_version", "toString(browser_version)"),
        Dim::Os => ("a_os", "toString(os)"),
        Dim::OsVersion => ("a_os_version", "toString(os_version)"),
        Dim::Region => ("a_region", "toString(region)"),
        Dim::City => ("a_city", "toString(city)"),
        Dim::CityName => ("a_city_name", "toString(city)"),
        Dim::Screen => ("a_screen", "toString(screen)"),
        _ => return None,
    })
}

/// A landing dimension's short name (`v_{name}` on hits joined to their
/// visit, `l_{name}` read from a visit's landing hit).
pub(super) fn landing_name(d: Dim) -> Option<&'static str> {
    Some(match d {
        Dim::Source => "source",
        Dim::Referrer => "referrer",
        Dim::Channel => "channel",
        Dim::UtmSource => "utm_source",
        Dim::UtmMedium => "utm_medium",
        Dim::UtmCampaign => "utm_campaign",
        Dim::UtmContent => "utm_content",
        Dim::UtmTerm => "utm_term",
        _ => return None,
    })
}

/// A landing dimension the visit rows do not keep: read from the visit's
/// landing hit in `events` (the hit at the visit's start).
pub(super) fn from_landing_hit(d: Dim) -> bool {
    d.is_landing() && visit_column(d).is_none()
}

/// A landing dimension's value on a hit: its visit's, once the hit is
/// joined to its visit (`v_hit`); a hit whose visit is not stored yet is
/// its own visit's first hit as far as anyone knows.
pub(super) fn hit_visit_column(d: Dim) -> Option<String> {
    let name = landing_name(d)?;
    Some(format!(
        "if(v_hit = 1, v_{name}, {})",
        event_column(d).unwrap_or_default()
    ))
}

/// A breakdown the filtered rollups keep (`rollup_filtered_daily`'s
/// `dimension`): pages, the per-visitor dimensions, and the landing ones
/// (per visit).
pub(super) fn filtered_dimension(d: Dim) -> Option<&'static str> {
    Some(match d {
        Dim::Page => "pathname",
        Dim::Country => "country",
        Dim::Device => "device",
        Dim::Browser => "browser",
        Dim::Os => "os",
        d => return landing_rollup_name(d),
    })
}

/// A landing dimension's name in `rollup_landing_daily` (and in
/// `rollup_daily`, where the older days count it per hit).
pub(super) fn landing_rollup_name(d: Dim) -> Option<&'static str> {
    Some(match d {
        Dim::Source => "referrer_source",
        d => landing_name(d)?,
    })
}

/// The one filter the filtered rollups answer (`rollup_filtered_daily`,
/// `rollup_visits_filtered_daily`): a per-visitor dimension `is` one value,
/// case-sensitive, alone. Its rollup name and the filter's values.
pub(super) fn kept_filter(q: &crate::query::Query) -> Option<(&'static str, &[String])> {
    use crate::query::{Filter, Op};
    match q.filters.as_slice() {
        [Filter::Cond {
            op: Op::Is,
            dim,
            values,
            case_sensitive: true,
        }] if values.len() == 1 => Some((
            match dim {
                Dim::Country => "country",
                Dim::Device => "device",
                Dim::Browser => "browser",
                Dim::Os => "os",
                _ => return None,
            },
            values.as_slice(),
        )),
        _ => None,
    }
}
