//! Dates in a scenario: the start, the horizon, and every dated piece (an
//! event, a window, a meeting, the chair), each written as a calendar date
//! (`2026-05-15`) or relative to the run (`"start + 5M"`, `"end - 1M"`), so a
//! scenario moves with its start date.

use super::*;

/// A date written relative to the run: `start`, `end`, or either with an
/// offset in calendar units (`D` days, `W` weeks, `M` months, `Y` years).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Anchor {
    Start,
    End,
}

/// The dates relative dates are measured from: the grid's first and last.
#[derive(Debug, Clone, Copy)]
pub(super) struct RunDates {
    pub start: NaiveDate,
    /// `None` while the horizon is being built (`end_date` may name the start only).
    pub end: Option<NaiveDate>,
}

impl RunDates {
    pub fn of(dates: &[NaiveDate]) -> RunDates {
        RunDates {
            start: dates[0],
            end: dates.last().copied(),
        }
    }
}

const RELATIVE_FORM: &str =
    "write a date like 2026-05-15, or one relative to the run like \"start + 5M\" or \"end - 1M\" (units D, W, M, Y)";

/// A calendar date: a TOML date or a string in that form.
pub(super) fn parse_date(value: &toml::Value) -> Result<NaiveDate, String> {
    match value {
        toml::Value::Datetime(datetime) => match (datetime.date, datetime.time) {
            (Some(date), None) => {
                NaiveDate::from_ymd_opt(date.year as i32, date.month as u32, date.day as u32)
                    .ok_or_else(|| format!("{datetime} is not a calendar date"))
            }
            _ => Err(format!(
                "{datetime} must be a date alone, like 2026-05-15 (no time of day)"
            )),
        },
        toml::Value::String(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| format!("\"{text}\" is not a date; write it as 2026-05-15")),
        other => Err(format!(
            "expected a date like 2026-05-15, found {}",
            other.type_str()
        )),
    }
}

/// A calendar date, or a date relative to `run` (`"start + 5M"`).
pub(super) fn parse_run_date(value: &toml::Value, run: RunDates) -> Result<NaiveDate, String> {
    let toml::Value::String(text) = value else {
        return parse_date(value);
    };
    if NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() {
        return parse_date(value);
    }
    let not_a_date = || format!("\"{text}\" is not a date; {RELATIVE_FORM}");
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let lower = compact.to_ascii_lowercase();
    let (anchor, rest) = if let Some(rest) = lower.strip_prefix("start") {
        (Anchor::Start, rest)
    } else if let Some(rest) = lower.strip_prefix("end") {
        (Anchor::End, rest)
    } else {
        return Err(not_a_date());
    };
    let from = match anchor {
        Anchor::Start => run.start,
        Anchor::End => run.end.ok_or_else(|| {
            format!(
                "\"{text}\": the horizon's end cannot be measured from itself; use \"start + 1Y\""
            )
        })?,
    };
    if rest.is_empty() {
        return Ok(from);
    }
    let (sign, amount) = match rest.split_at(1) {
        ("+", amount) => (1i64, amount),
        ("-", amount) => (-1i64, amount),
        _ => return Err(not_a_date()),
    };
    let unit = amount.chars().last().ok_or_else(not_a_date)?;
    let count: u32 = amount[..amount.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| not_a_date())?;
    // Far enough for any horizon, near enough that no date arithmetic overflows.
    const MAX_OFFSET_YEARS: u32 = 100;
    let months = match unit {
        'm' => Some(count),
        'y' => count.checked_mul(12),
        _ => None,
    };
    let days = match unit {
        'd' => Some(i64::from(count)),
        'w' => Some(i64::from(count) * 7),
        _ => None,
    };
    let too_far =
        || format!("\"{text}\" is too far; an offset reaches at most {MAX_OFFSET_YEARS} years");
    let date = match (months, days) {
        (Some(months), None) => {
            if months > MAX_OFFSET_YEARS * 12 {
                return Err(too_far());
            }
            let months = chrono::Months::new(months);
            if sign > 0 {
                from.checked_add_months(months)
            } else {
                from.checked_sub_months(months)
            }
        }
        (None, Some(days)) => {
            if days > i64::from(MAX_OFFSET_YEARS) * 366 {
                return Err(too_far());
            }
            from.checked_add_signed(Duration::days(sign * days))
        }
        _ => return Err(not_a_date()),
    };
    date.ok_or_else(too_far)
}

pub(super) fn build_dates(
    raw: &RawScenario,
    calendar: CalendarKind,
    check: &mut Checker<'_>,
) -> Option<Vec<NaiveDate>> {
    let meta = &raw.scenario;
    let start = match parse_date(&meta.start_date) {
        Ok(date) => date,
        Err(message) => {
            check.error("scenario.start_date", message);
            return None;
        }
    };
    // Keeps every date arithmetic on the grid far from chrono's range limits.
    let (earliest, latest) = (
        NaiveDate::from_ymd_opt(1900, 1, 1).expect("a valid date"),
        NaiveDate::from_ymd_opt(2200, 12, 31).expect("a valid date"),
    );
    if start < earliest || start > latest {
        check.error(
            "scenario.start_date",
            format!("{start} is out of range; valid: {earliest} to {latest}"),
        );
        return None;
    }
    let given = [
        meta.end_date.is_some(),
        meta.horizon_years.is_some(),
        meta.horizon_steps.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if given != 1 {
        check.error(
            "scenario",
            format!(
                "set exactly one of `end_date`, `horizon_years` and `horizon_steps` (found {given})"
            ),
        );
        return None;
    }
    let max_steps = (MAX_HORIZON_YEARS * TRADING_DAYS_PER_YEAR) as u64;
    let dates = if let Some(end) = &meta.end_date {
        let run = RunDates { start, end: None };
        let end = match parse_run_date(end, run) {
            Ok(date) => date,
            Err(message) => {
                check.error("scenario.end_date", message);
                return None;
            }
        };
        if end <= start || end > start + Duration::days((MAX_HORIZON_YEARS * 365.25) as i64) {
            check.error(
                "scenario.end_date",
                format!("{end} must fall after start_date {start} and within {MAX_HORIZON_YEARS} years of it"),
            );
            return None;
        }
        calendar::grid_until(start, end, calendar)
    } else if let Some(years) = meta.horizon_years {
        if !(years > 0.0 && years <= MAX_HORIZON_YEARS) {
            check.error(
                "scenario.horizon_years",
                format!("{years} is out of range; valid: (0, {MAX_HORIZON_YEARS}]"),
            );
            return None;
        }
        let end = start + Duration::days((years * 365.25).round() as i64);
        calendar::grid_until(start, end, calendar)
    } else {
        let steps = meta.horizon_steps.unwrap_or(0);
        if steps == 0 || steps > max_steps {
            check.error(
                "scenario.horizon_steps",
                format!("{steps} is out of range; valid: [1, {max_steps}]"),
            );
            return None;
        }
        calendar::grid_with_steps(start, steps as usize, calendar)
    };
    if dates.len() < 2 {
        check.error(
            "scenario",
            "the horizon holds no trading day after the start; extend end_date",
        );
        return None;
    }
    Some(dates)
}

/// Trading days from `date` (rolled forward) to the run's start: how long
/// before the run an event dated `date` fired.
pub(super) fn sessions_before_start(
    date: NaiveDate,
    dates: &[NaiveDate],
    calendar: CalendarKind,
) -> usize {
    calendar::grid_until(date, dates[0], calendar).len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn at(text: &str) -> Result<NaiveDate, String> {
        let run = RunDates {
            start: d(2026, 12, 4),
            end: Some(d(2027, 12, 6)),
        };
        parse_run_date(&toml::Value::String(text.into()), run)
    }

    #[test]
    fn relative_dates_count_calendar_units_from_either_end() {
        assert_eq!(at("start"), Ok(d(2026, 12, 4)));
        assert_eq!(at("start + 5M"), Ok(d(2027, 5, 4)));
        assert_eq!(at("START+1y"), Ok(d(2027, 12, 4)));
        assert_eq!(at("start + 10D"), Ok(d(2026, 12, 14)));
        assert_eq!(at("start + 2W"), Ok(d(2026, 12, 18)));
        assert_eq!(at("end - 1M"), Ok(d(2027, 11, 6)));
        assert_eq!(at("end"), Ok(d(2027, 12, 6)));
        assert_eq!(at("2026-05-15"), Ok(d(2026, 5, 15)));
        // The end of a short month: chrono keeps the day inside the month.
        let run = RunDates {
            start: d(2027, 1, 31),
            end: None,
        };
        let one_month = parse_run_date(&toml::Value::String("start + 1M".into()), run);
        assert_eq!(one_month, Ok(d(2027, 2, 28)));
    }

    #[test]
    fn malformed_relative_dates_say_how_to_write_one() {
        for text in [
            "tomorrow",
            "start + M",
            "start * 2M",
            "start + 5Q",
            "start + -1D",
        ] {
            let message = at(text).unwrap_err();
            assert!(message.contains("\"start + 5M\""), "{text}: {message}");
        }
        assert!(at("start + 500Y")
            .unwrap_err()
            .contains("at most 100 years"));
        let run = RunDates {
            start: d(2026, 12, 4),
            end: None,
        };
        let circular = parse_run_date(&toml::Value::String("end - 1M".into()), run).unwrap_err();
        assert!(circular.contains("\"start + 1Y\""), "{circular}");
    }
}
