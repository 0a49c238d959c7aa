//! The typed export domain: what an export may break down by
//! ([`Dimension`]), the figures it may release ([`Metric`]), its release
//! period ([`Granularity`]) and file [`Format`]. Parsed once, in config
//! validation; everything after matches on the enums, never on strings.
//! Their names (in `tacit.toml`, file headers and the ledger) are
//! [`super::named`] names.

use std::fmt;

use serde::{Serialize, Serializer};

use super::named::{named, IntoStaticStr, VariantArray};

/// At most this many dimensions per export: complementary suppression checks
/// every subset of the dimensions, so the count is capped where the
/// configuration is validated, not silently skipped later.
pub const MAX_DIMENSIONS: usize = 8;

/// A dimension with a fixed name (everything but custom properties).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    IntoStaticStr,
    VariantArray,
    strum::Display,
)]
#[strum(serialize_all = "snake_case")]
#[serde(into = "&'static str")]
pub enum Field {
    Date,
    Week,
    Month,
    Site,
    Hostname,
    Pathname,
    Channel,
    ReferrerSource,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    UtmContent,
    UtmTerm,
    Country,
    Region,
    City,
    Device,
    Browser,
    Os,
    Language,
    Screen,
    Event,
    EmailCampaign,
    EmailVariant,
    EmailKind,
}

named!(Field, Metric, Granularity, Format);

/// Where an export's figures come from: page views and events, or email
/// opens and clicks (people only: machine opens are never exported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Web,
    Email,
}

/// What an export breaks its figures down by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    Field(Field),
    /// An allow-listed custom property (`prop:<key>`).
    Prop(String),
}

/// Plain-language categories of what a dimension reveals (the notice and
/// the annual disclosure report use them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    When,
    Pages,
    Acquisition,
    Location,
    Technology,
    Language,
    Actions,
    Properties,
    Email,
}

impl Category {
    pub fn describe(self) -> &'static str {
        match self {
            Category::When => "When visits happened (day, week or month)",
            Category::Pages => "Which pages and sites were visited (paths only, no query strings)",
            Category::Acquisition => "How visitors arrived (source, channel, campaign tags)",
            Category::Location => {
                "Approximate location derived from the IP address (the address itself is not kept)"
            }
            Category::Technology => "Type of device, browser and operating system",
            Category::Language => "Browser language",
            Category::Actions => "Actions taken on the site (custom event names)",
            Category::Properties => "Allow-listed properties of actions on the site",
            Category::Email => {
                "Which email campaigns were opened or clicked (counts of readers, never who)"
            }
        }
    }
}

impl Dimension {
    /// `date`, `country`, `prop:plan`, ….
    pub fn parse(s: &str) -> Option<Self> {
        match s.strip_prefix("prop:") {
            Some(k) if !k.is_empty() => Some(Dimension::Prop(k.to_string())),
            Some(_) => None,
            None => Field::parse(s).map(Dimension::Field),
        }
    }

    pub fn name(&self) -> String {
        match self {
            Dimension::Field(f) => f.as_str().to_string(),
            Dimension::Prop(k) => format!("prop:{k}"),
        }
    }

    pub fn category(&self) -> Category {
        use Field::*;
        match self {
            Dimension::Prop(_) => Category::Properties,
            Dimension::Field(f) => match f {
                Date | Week | Month => Category::When,
                Site | Hostname | Pathname => Category::Pages,
                Channel | ReferrerSource | UtmSource | UtmMedium | UtmCampaign | UtmContent
                | UtmTerm => Category::Acquisition,
                Country | Region | City => Category::Location,
                Device | Browser | Os | Screen => Category::Technology,
                Language => Category::Language,
                Event => Category::Actions,
                EmailCampaign | EmailVariant | EmailKind => Category::Email,
            },
        }
    }
}

impl Dimension {
    /// The source this dimension needs, if it needs one (time and site
    /// dimensions fit both).
    pub fn source(&self) -> Option<Source> {
        use Field::*;
        match self {
            Dimension::Field(Date | Week | Month | Site) => None,
            Dimension::Field(EmailCampaign | EmailVariant | EmailKind) => Some(Source::Email),
            _ => Some(Source::Web),
        }
    }
}

/// The source of an export with these dimensions: email if any dimension
/// is an email one.
pub fn source_of(dims: &[Dimension]) -> Source {
    if dims.iter().any(|d| d.source() == Some(Source::Email)) {
        Source::Email
    } else {
        Source::Web
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for Dimension {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// A figure an export may release.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    IntoStaticStr,
    VariantArray,
    strum::Display,
)]
#[strum(serialize_all = "snake_case")]
#[serde(into = "&'static str")]
pub enum Metric {
    Visitors,
    Visits,
    Pageviews,
    Events,
    BounceRate,
    VisitDuration,
}

impl Metric {
    /// Counts (noised under differential privacy); the others are ratios.
    pub fn is_count(self) -> bool {
        matches!(
            self,
            Metric::Visitors | Metric::Visits | Metric::Pageviews | Metric::Events
        )
    }
    /// Needs visits to be reconstructed from events.
    pub fn needs_visits(self) -> bool {
        matches!(
            self,
            Metric::Visits | Metric::BounceRate | Metric::VisitDuration
        )
    }
}

/// How often an export is released.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    IntoStaticStr,
    VariantArray,
    strum::Display,
)]
#[strum(serialize_all = "snake_case")]
#[serde(into = "&'static str")]
pub enum Granularity {
    Day,
    Week,
    Month,
}

impl Granularity {
    /// `daily`, `weekly`, `monthly`.
    pub fn adjective(self) -> &'static str {
        match self {
            Granularity::Day => "daily",
            Granularity::Week => "weekly",
            Granularity::Month => "monthly",
        }
    }
}

/// The file format of a release.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    IntoStaticStr,
    VariantArray,
    strum::Display,
)]
#[strum(serialize_all = "snake_case")]
#[serde(into = "&'static str")]
pub enum Format {
    Csv,
    Jsonl,
    Parquet,
}

impl Format {
    pub fn extension(self) -> &'static str {
        self.as_str()
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Jsonl => "application/x-ndjson",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Field::VARIANTS {
            let d = Dimension::Field(*f);
            assert_eq!(Dimension::parse(&d.name()), Some(d));
        }
        assert_eq!(
            Dimension::parse("prop:plan"),
            Some(Dimension::Prop("plan".into()))
        );
        assert_eq!(Dimension::parse("prop:"), None);
        assert_eq!(Dimension::parse("visitor_id"), None);
        for m in Metric::VARIANTS {
            assert_eq!(Metric::parse(m.as_str()), Some(*m));
        }
        assert_eq!(
            serde_json::to_string(&Dimension::Prop("a".into())).unwrap(),
            "\"prop:a\""
        );
        assert_eq!(
            serde_json::to_string(&Granularity::Week).unwrap(),
            "\"week\""
        );
    }

    #[test]
    fn counts_and_visit_metrics() {
        assert!(Metric::Visitors.is_count() && !Metric::BounceRate.is_count());
        assert!(Metric::VisitDuration.needs_visits() && !Metric::Pageviews.needs_visits());
    }
}
