//! The trading-day grid: weekends skipped, and on the NYSE calendar its holidays too.
//!
//! Each step of the simulation is one trading day with `dt = 1/252` year, so the
//! NYSE calendar (about 252 sessions a year) keeps dates and year fractions in step.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

use super::raw::CalendarKind;

/// Trading days per year: the step is `1 / TRADING_DAYS_PER_YEAR` year.
pub const TRADING_DAYS_PER_YEAR: f64 = 252.0;

/// Whether markets trade on `date` under `calendar`.
pub fn is_trading_day(date: NaiveDate, calendar: CalendarKind) -> bool {
    if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
        return false;
    }
    match calendar {
        CalendarKind::Weekdays => true,
        CalendarKind::Nyse => !is_nyse_holiday(date),
    }
}

/// The first trading day on or after `date`.
pub fn roll_forward(mut date: NaiveDate, calendar: CalendarKind) -> NaiveDate {
    while !is_trading_day(date, calendar) {
        date += Duration::days(1);
    }
    date
}

/// The grid `start (rolled forward), then `steps` further trading days.
pub fn grid_with_steps(start: NaiveDate, steps: usize, calendar: CalendarKind) -> Vec<NaiveDate> {
    let mut dates = Vec::with_capacity(steps + 1);
    let mut date = roll_forward(start, calendar);
    dates.push(date);
    while dates.len() <= steps {
        date = roll_forward(date + Duration::days(1), calendar);
        dates.push(date);
    }
    dates
}

/// The grid from `start` (rolled forward) through the last trading day on or before `end`.
pub fn grid_until(start: NaiveDate, end: NaiveDate, calendar: CalendarKind) -> Vec<NaiveDate> {
    let mut dates = vec![roll_forward(start, calendar)];
    loop {
        let next = roll_forward(
            *dates.last().expect("grid is never empty") + Duration::days(1),
            calendar,
        );
        if next > end {
            return dates;
        }
        dates.push(next);
    }
}

/// The FOMC's pattern of eight scheduled meetings a year, each by the day its
/// statement comes out (the meeting's second day, a Wednesday): the last
/// Wednesday of January, April, July and October, the third of March, June and
/// September, the second of December. It matches the published calendars of
/// 2026 exactly and those of 2025 and 2027 but for one meeting each, a week
/// apart (2025-05-07, 2027-06-09): close enough for a calendar no one has
/// published yet, which is what it stands in for.
pub fn fomc_pattern(year: i32) -> Vec<NaiveDate> {
    let last_wednesday = |month| {
        (1..=5)
            .rev()
            .find_map(|n| NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Wed, n))
    };
    let nth_wednesday =
        |month, n| NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Wed, n);
    [
        last_wednesday(1),
        nth_wednesday(3, 3),
        last_wednesday(4),
        nth_wednesday(6, 3),
        last_wednesday(7),
        nth_wednesday(9, 3),
        last_wednesday(10),
        nth_wednesday(12, 2),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// NYSE full-day closures under the current rules (observed dates: Saturday holidays
/// close the Friday before, except New Year's Day; Sunday holidays the Monday after).
fn is_nyse_holiday(date: NaiveDate) -> bool {
    let year = date.year();
    let fixed = |month, day| observed(NaiveDate::from_ymd_opt(year, month, day));
    let nth = |month, weekday, n| NaiveDate::from_weekday_of_month_opt(year, month, weekday, n);
    let last_monday_may = (1..=5)
        .rev()
        .find_map(|n| NaiveDate::from_weekday_of_month_opt(year, 5, Weekday::Mon, n));
    let mut holidays = vec![
        nth(1, Weekday::Mon, 3),                     // Martin Luther King Jr. Day
        nth(2, Weekday::Mon, 3),                     // Washington's Birthday
        easter(year).map(|e| e - Duration::days(2)), // Good Friday
        last_monday_may,                             // Memorial Day
        fixed(7, 4),                                 // Independence Day
        nth(9, Weekday::Mon, 1),                     // Labor Day
        nth(11, Weekday::Thu, 4),                    // Thanksgiving
        fixed(12, 25),                               // Christmas
    ];
    // New Year's Day on a Saturday is not observed on the Friday before.
    let new_year = NaiveDate::from_ymd_opt(year, 1, 1);
    if new_year.is_some_and(|d| d.weekday() != Weekday::Sat) {
        holidays.push(observed(new_year));
    }
    if year >= 2022 {
        holidays.push(fixed(6, 19)); // Juneteenth
    }
    // Next year's New Year's Day never moves into this year (see above), so nothing to add.
    holidays.into_iter().flatten().any(|h| h == date)
}

fn observed(date: Option<NaiveDate>) -> Option<NaiveDate> {
    let date = date?;
    Some(match date.weekday() {
        Weekday::Sat => date - Duration::days(1),
        Weekday::Sun => date + Duration::days(1),
        _ => date,
    })
}

/// Western Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher).
fn easter(year: i32) -> Option<NaiveDate> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn easter_matches_published_dates() {
        assert_eq!(easter(2024), Some(d(2024, 3, 31)));
        assert_eq!(easter(2025), Some(d(2025, 4, 20)));
        assert_eq!(easter(2026), Some(d(2026, 4, 5)));
    }

    #[test]
    fn nyse_2026_has_the_published_holidays_and_251_sessions() {
        for holiday in [
            d(2026, 1, 1),
            d(2026, 1, 19),
            d(2026, 2, 16),
            d(2026, 4, 3),
            d(2026, 5, 25),
            d(2026, 6, 19),
            d(2026, 7, 3),
            d(2026, 9, 7),
            d(2026, 11, 26),
            d(2026, 12, 25),
        ] {
            assert!(!is_trading_day(holiday, CalendarKind::Nyse), "{holiday}");
        }
        let sessions = grid_until(d(2026, 1, 1), d(2026, 12, 31), CalendarKind::Nyse);
        // 2026 has 261 weekdays, and all ten holidays above fall on one of them.
        assert_eq!(sessions.len(), 251);
        assert_eq!(sessions[0], d(2026, 1, 2));
    }

    /// The Federal Reserve's published schedules (second day of each meeting):
    /// 2025 and 2026 announced in August 2024, 2027 in September 2025.
    const PUBLISHED_FOMC: [[(u32, u32); 8]; 3] = [
        [
            (1, 29),
            (3, 19),
            (5, 7),
            (6, 18),
            (7, 30),
            (9, 17),
            (10, 29),
            (12, 10),
        ],
        [
            (1, 28),
            (3, 18),
            (4, 29),
            (6, 17),
            (7, 29),
            (9, 16),
            (10, 28),
            (12, 9),
        ],
        [
            (1, 27),
            (3, 17),
            (4, 28),
            (6, 9),
            (7, 28),
            (9, 15),
            (10, 27),
            (12, 8),
        ],
    ];

    #[test]
    fn fomc_pattern_follows_the_published_calendars() {
        let mut exact = 0;
        for (year, published) in (2025..).zip(PUBLISHED_FOMC) {
            let pattern = fomc_pattern(year);
            assert_eq!(pattern.len(), 8, "{year}");
            for (rule, (month, day)) in pattern.iter().zip(published) {
                let published = d(year, month, day);
                let apart = (*rule - published).num_days().abs();
                assert!(apart <= 7, "{year}: {rule} against {published}");
                exact += usize::from(apart == 0);
            }
        }
        // Every meeting of 2026, seven of eight in 2025 and in 2027.
        assert_eq!(exact, 22);
    }
}
