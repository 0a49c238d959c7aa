//! The dimensions of a query (`dimensions`, and the dimension a filter
//! names): Plausible's names resolved to [`Dim`], with the reason when
//! tacit cannot answer one (a visitor id, a referrer URL, a location the
//! policy does not keep).

use serde_json::Value;

use crate::query::{invalid, Context, Dim, Grain, QueryError, Range};

/// The grain `time` resolves to: by minute up to six hours (the realtime
/// ranges), by hour up to a day (or `24h`), by day up to 40 days, else by
/// month.
fn auto_grain(range: Range) -> Grain {
    if let Some(s) = range.span {
        let hours = (s.end - s.start) / 3_600_000;
        return match hours {
            0..=5 => Grain::Minute,
            6..=48 => Grain::Hour,
            _ if range.days() <= 40 => Grain::Day,
            _ => Grain::Month,
        };
    }
    match range.days() {
        1 => Grain::Hour,
        2..=40 => Grain::Day,
        _ => Grain::Month,
    }
}

pub(super) fn dim(
    name: &str,
    field: &str,
    ctx: &Context,
    props: &mut Vec<String>,
) -> Result<Dim, QueryError> {
    if let Some(key) = name.strip_prefix("event:props:") {
        if key.is_empty() || key.len() > 300 {
            return Err(invalid(field, "event:props:<key>, a key of 1 to 300 bytes"));
        }
        let i = match props.iter().position(|k| k == key) {
            Some(i) => i,
            None if props.len() < 8 => {
                props.push(key.to_string());
                props.len() - 1
            }
            None => return Err(invalid(field, "at most 8 custom properties per query")),
        };
        return Ok(Dim::Prop(i as u8));
    }
    if let Some((_, d)) = Dim::NAMED.iter().find(|(n, _)| *n == name) {
        return match d {
            Dim::Region if !ctx.keeps_region => Err(QueryError::Unsupported(format!(
                "{field}: tacit does not store regions under this server's policy (policy.location)"
            ))),
            Dim::City | Dim::CityName if !ctx.keeps_city => Err(QueryError::Unsupported(format!(
                "{field}: tacit does not store cities under this server's policy (policy.location)"
            ))),
            d => Ok(*d),
        };
    }
    let reason = match name {
        n if n.contains("visitor_id") || n.contains("user_id") || n == "visit:ip" => {
            "tacit answers no question per visitor: visitor ids are daily pseudonyms that never leave the event tier"
        }
        "visit:referrer_url" | "visit:referrer_path" => {
            "tacit stores only the referrer's host (visit:referrer), never its URL"
        }
        "visit:country_name" | "visit:region_name" => {
            "tacit stores ISO codes and its GeoIP data (the ip-location-db files) carries no country or region names: use visit:country or visit:region and name them client-side"
        }
        n if n.starts_with("time") => {
            return Err(invalid(field, format!("unknown time dimension {n:?}: time, time:minute, time:hour, time:day, time:week, time:month")))
        }
        _ => return Err(invalid(field, format!("unknown dimension {name:?}"))),
    };
    Err(QueryError::Unsupported(format!(
        "{field}: {name}: {reason}"
    )))
}

pub(super) fn dimensions(
    v: Option<&Value>,
    range: Range,
    ctx: &Context,
    props: &mut Vec<String>,
) -> Result<Vec<Dim>, QueryError> {
    let a = match v {
        None => return Ok(vec![]),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(invalid("dimensions", "must be a list")),
    };
    let mut out = Vec::new();
    for (i, d) in a.iter().enumerate() {
        let field = format!("dimensions[{i}]");
        let Value::String(name) = d else {
            return Err(invalid(field, "must be a string"));
        };
        let d = match name.as_str() {
            "time" => Dim::Time(auto_grain(range)),
            "time:minute" => Dim::Time(Grain::Minute),
            "time:hour" => Dim::Time(Grain::Hour),
            "time:day" => Dim::Time(Grain::Day),
            "time:week" => Dim::Time(Grain::Week),
            "time:month" => Dim::Time(Grain::Month),
            n => dim(n, &field, ctx, props)?,
        };
        if out.contains(&d)
            || (matches!(d, Dim::Time(_)) && out.iter().any(|x| matches!(x, Dim::Time(_))))
        {
            return Err(invalid(field, format!("{name:?} is listed twice")));
        }
        if d == Dim::Time(Grain::Hour) && range.days() > 92 {
            return Err(invalid(field, "time:hour spans at most 92 days"));
        }
        if d == Dim::Time(Grain::Minute) && range.days() > 2 {
            return Err(invalid(field, "time:minute spans at most two days"));
        }
        out.push(d);
    }
    Ok(out)
}
