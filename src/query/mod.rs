//! The query API's core, Plausible's Stats API v2 contract over tacit's
//! tables: `request.rs` parses and validates a JSON body into a typed
//! [`Query`] (every refusal names the field), `sql.rs` compiles a query to
//! ClickHouse SQL (values only as named parameters; identifiers only from
//! the closed enums below), and `run.rs` executes it and shapes Plausible's
//! answer (`results`, `meta`, `query`). The HTTP side (keys, rate limit)
//! is `admin/query.rs`.
//!
//! Where the numbers come from: a query with no filter and at most one
//! dimension that the aggregate tier keeps (plus a daily, weekly or
//! monthly time dimension) is answered from the aggregate tier over any
//! range it keeps: the rolled-up days from the rollups (a landing
//! dimension, [`Dim::is_landing`], from `rollup_landing_daily`, per visit
//! as the event tier counts it), the days not rolled up yet straight from
//! `events` (counted per day as the views count them; their visits from
//! `live_visits`, built from their events). So is a query with one filter that the filtered
//! rollups keep (a country, device, browser or OS `is` one value), within
//! the event retention. Any other query needs per-hit rows and is
//! answered from the event tier (`events`; visits from `sessions` on
//! rolled-up days and from `live_visits` on open days); its range
//! must lie within what the event tier keeps (`policy.event_ttl_days`),
//! or it is refused with the reason. Today alone, a sub-day range
//! (`realtime`, `30m`, `24h`, datetimes), a minute grain, `has_done`, and
//! the engagement and revenue metrics always read the event tier.

pub mod email;
pub mod funnel;
pub mod request;
pub mod run;
pub mod sql;
pub mod umami;

pub use request::{parse, Query};

/// A refused or failed query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The body is not a valid query: `field` names the part.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// A valid query tacit cannot answer, with the reason.
    #[error("{0}")]
    Unsupported(String),
    /// The engine failed (log-safe text only).
    #[error("the statistics database failed: {0}")]
    Store(#[from] crate::store::StoreError),
    /// The engine's answer was not what the query expects.
    #[error("unexpected answer from the statistics database")]
    Shape,
}

impl QueryError {
    /// Whether the caller is at fault (a 400), rather than the engine.
    pub fn is_client_error(&self) -> bool {
        matches!(self, Self::Invalid { .. } | Self::Unsupported(_))
    }
}

pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> QueryError {
    QueryError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// What the server knows that a query depends on.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// Today (UTC), as days since the epoch, from the injected clock.
    pub today: i32,
    /// Now, in ms since the epoch, from the same clock (the realtime and
    /// `24h` ranges end here).
    pub now_ms: i64,
    /// Days the event tier keeps (`policy.event_ttl_days`).
    pub event_ttl_days: u32,
    /// Months the aggregate tier keeps (`policy.aggregate_ttl_months`).
    pub aggregate_ttl_months: u32,
    /// Whether the policy keeps regions, and cities.
    pub keeps_region: bool,
    pub keeps_city: bool,
}

impl Context {
    /// The first day the event tier still holds in full.
    pub fn event_horizon(&self) -> i32 {
        self.today - self.event_ttl_days as i32 + 1
    }

    /// The first day the aggregate tier may still hold.
    pub fn history_start(&self) -> i32 {
        self.today - (self.aggregate_ttl_months as i32) * 31
    }
}

/// A metric (Plausible's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Visitors,
    Visits,
    Pageviews,
    ViewsPerVisit,
    BounceRate,
    VisitDuration,
    Events,
    Percentage,
    ConversionRate,
    GroupConversionRate,
    /// The mean of each visitor-page's deepest scroll (engagement events).
    ScrollDepth,
    /// Engaged seconds per engaged visitor (engagement events).
    TimeOnPage,
    /// The revenue the matching events carry, in their one currency.
    TotalRevenue,
    /// The same per event that carries revenue.
    AverageRevenue,
    /// How many currencies the matching revenue is in (internal: revenue
    /// in more than one is refused, tacit converts none).
    Currencies,
    /// Visits with at most one event (Umami's `bounces`; not a Plausible
    /// name, so never parsed from a body).
    Bounces,
    /// The visits' total duration, seconds (Umami's `totaltime`; idem).
    TotalTime,
}

impl Metric {
    pub const ALL: [(&'static str, Metric); 14] = [
        ("visitors", Metric::Visitors),
        ("visits", Metric::Visits),
        ("pageviews", Metric::Pageviews),
        ("views_per_visit", Metric::ViewsPerVisit),
        ("bounce_rate", Metric::BounceRate),
        ("visit_duration", Metric::VisitDuration),
        ("events", Metric::Events),
        ("percentage", Metric::Percentage),
        ("conversion_rate", Metric::ConversionRate),
        ("group_conversion_rate", Metric::GroupConversionRate),
        ("scroll_depth", Metric::ScrollDepth),
        ("time_on_page", Metric::TimeOnPage),
        ("total_revenue", Metric::TotalRevenue),
        ("average_revenue", Metric::AverageRevenue),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("", |e| e.0)
    }

    /// Read from the engagement and revenue columns of `events` only.
    pub fn is_event_only(self) -> bool {
        matches!(
            self,
            Metric::ScrollDepth
                | Metric::TimeOnPage
                | Metric::TotalRevenue
                | Metric::AverageRevenue
                | Metric::Currencies
        )
    }

    /// Counted over visits (`sessions`), not over hits.
    pub fn is_session(self) -> bool {
        matches!(
            self,
            Metric::Visits
                | Metric::ViewsPerVisit
                | Metric::BounceRate
                | Metric::VisitDuration
                | Metric::Bounces
                | Metric::TotalTime
        )
    }
}

/// A time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    /// Minutes: the realtime graph (`30m`), or at most two days.
    Minute,
    Hour,
    Day,
    Week,
    Month,
}

/// A dimension (Plausible's names; `time` is resolved to a grain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    Page,
    Hostname,
    Name,
    /// Every custom event is a goal (its name), and every page
    /// (`Visit /path`), as in the analyst views' goals.
    Goal,
    EntryPage,
    ExitPage,
    Source,
    Referrer,
    Channel,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    UtmContent,
    UtmTerm,
    Device,
    Browser,
    BrowserVersion,
    Os,
    OsVersion,
    Country,
    Region,
    City,
    Screen,
    /// The city's name: what `City` holds (tacit stores names, not ids).
    CityName,
    /// A custom property: the index of its key in `Query::props`.
    Prop(u8),
    Time(Grain),
}

impl Dim {
    /// Every dimension but time, with its Plausible name.
    pub const NAMED: [(&'static str, Dim); 24] = [
        ("event:page", Dim::Page),
        ("event:goal", Dim::Goal),
        ("event:hostname", Dim::Hostname),
        ("event:name", Dim::Name),
        ("visit:entry_page", Dim::EntryPage),
        ("visit:exit_page", Dim::ExitPage),
        ("visit:source", Dim::Source),
        ("visit:referrer", Dim::Referrer),
        ("visit:channel", Dim::Channel),
        ("visit:utm_source", Dim::UtmSource),
        ("visit:utm_medium", Dim::UtmMedium),
        ("visit:utm_campaign", Dim::UtmCampaign),
        ("visit:utm_content", Dim::UtmContent),
        ("visit:utm_term", Dim::UtmTerm),
        ("visit:device", Dim::Device),
        ("visit:browser", Dim::Browser),
        ("visit:browser_version", Dim::BrowserVersion),
        ("visit:os", Dim::Os),
        ("visit:os_version", Dim::OsVersion),
        ("visit:country", Dim::Country),
        ("visit:region", Dim::Region),
        ("visit:city", Dim::City),
        ("visit:screen", Dim::Screen),
        ("visit:city_name", Dim::CityName),
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dim::Time(Grain::Minute) => "time:minute",
            Dim::Time(Grain::Hour) => "time:hour",
            Dim::Time(Grain::Day) => "time:day",
            Dim::Time(Grain::Week) => "time:week",
            Dim::Time(Grain::Month) => "time:month",
            Dim::Prop(_) => "event:props",
            d => Self::NAMED
                .iter()
                .find(|(_, x)| *x == d)
                .map_or("", |e| e.0),
        }
    }

    /// An `event:` dimension (Plausible's rule on session metrics).
    pub fn is_event(self) -> bool {
        matches!(
            self,
            Dim::Page | Dim::Hostname | Dim::Name | Dim::Goal | Dim::Prop(_)
        )
    }

    /// An attribute of the visit as a whole (`sessions` has it).
    pub fn is_visit_only(self) -> bool {
        matches!(self, Dim::EntryPage | Dim::ExitPage)
    }

    /// A property of the visit set by its landing hit (Plausible's
    /// session attributes): every hit of a visit carries its visit's
    /// value, so counts by it (or filters on it) are over whole visits,
    /// never over the hits that happened to carry a referrer.
    pub fn is_landing(self) -> bool {
        matches!(
            self,
            Dim::Source
                | Dim::Referrer
                | Dim::Channel
                | Dim::UtmSource
                | Dim::UtmMedium
                | Dim::UtmCampaign
                | Dim::UtmContent
                | Dim::UtmTerm
        )
    }
}

/// A filter operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Is,
    IsNot,
    Contains,
    ContainsNot,
    Matches,
    MatchesNot,
}

impl Op {
    pub const ALL: [(&'static str, Op); 6] = [
        ("is", Op::Is),
        ("is_not", Op::IsNot),
        ("contains", Op::Contains),
        ("contains_not", Op::ContainsNot),
        ("matches", Op::Matches),
        ("matches_not", Op::MatchesNot),
    ];

    /// The operator it negates, if it is a negation.
    pub fn positive(self) -> (Op, bool) {
        match self {
            Op::IsNot => (Op::Is, true),
            Op::ContainsNot => (Op::Contains, true),
            Op::MatchesNot => (Op::Matches, true),
            o => (o, false),
        }
    }
}

/// A filter: a condition on one dimension, or a combination.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Cond {
        op: Op,
        dim: Dim,
        values: Vec<String>,
        case_sensitive: bool,
    },
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// `has_done` (or, `negated`, `has_not_done`): the visitor did a
    /// matching event that day (a condition on event dimensions).
    HasDone {
        inner: Box<Filter>,
        negated: bool,
    },
}

impl Filter {
    /// A condition on `event:goal`.
    pub fn is_goal(&self) -> bool {
        matches!(self, Filter::Cond { dim: Dim::Goal, .. })
    }

    /// Every dimension the filter names.
    pub fn dims(&self, out: &mut Vec<Dim>) {
        match self {
            Filter::Cond { dim, .. } => out.push(*dim),
            Filter::And(v) | Filter::Or(v) => v.iter().for_each(|f| f.dims(out)),
            Filter::Not(f) | Filter::HasDone { inner: f, .. } => f.dims(out),
        }
    }
}

/// What a result row is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKey {
    Metric(Metric),
    Dim(Dim),
}

/// The date range: the UTC days it touches (inclusive), and, for a range
/// finer than whole days (`realtime`, `30m`, `24h`, a pair of datetimes),
/// its exact span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: i32,
    pub to: i32,
    pub span: Option<Span>,
}

/// A span of time in ms since the epoch, `start` included, `end` not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: i64,
    pub end: i64,
}

impl Range {
    /// Whole UTC days, `from` to `to`.
    pub fn days_from(from: i32, to: i32) -> Self {
        Self {
            from,
            to,
            span: None,
        }
    }

    /// The UTC days that `start..end` touches, and the span itself.
    pub fn of_span(start: i64, end: i64) -> Self {
        Self {
            from: crate::model::clock::day_of(start),
            to: crate::model::clock::day_of(end - 1),
            span: Some(Span { start, end }),
        }
    }

    pub fn days(&self) -> i32 {
        self.to - self.from + 1
    }

    /// The first and last ms the range covers.
    pub fn bounds_ms(&self) -> (i64, i64) {
        match self.span {
            Some(s) => (s.start, s.end - 1),
            None => (
                self.from as i64 * MS_PER_DAY,
                (self.to as i64 + 1) * MS_PER_DAY - 1,
            ),
        }
    }
}

pub(crate) const MS_PER_DAY: i64 = 86_400_000;
