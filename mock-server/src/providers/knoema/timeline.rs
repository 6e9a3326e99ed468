//! Time in Knoema's data API: frequencies and their steps (value i of a series sits at
//! `startDate + i·step`), dates on the wire (`2018-01-01T00:00:00Z`), and the period tokens
//! of time filters: `2020`, `2020H1`, `2020Q3`, `2020M7`, `2020W12`, `2020-07-15` (also with a
//! time part), and ranges `A-B` of two of them.

use chrono::{Months, NaiveDate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Frequency {
    A,
    H,
    Q,
    M,
    W,
    D,
}

impl Frequency {
    pub const ALL: [Frequency; 6] =
        [Frequency::A, Frequency::H, Frequency::Q, Frequency::M, Frequency::W, Frequency::D];

    pub fn parse(s: &str) -> Option<Frequency> {
        Frequency::ALL.into_iter().find(|f| f.code().eq_ignore_ascii_case(s.trim()))
    }

    pub fn code(self) -> &'static str {
        match self {
            Frequency::A => "A",
            Frequency::H => "H",
            Frequency::Q => "Q",
            Frequency::M => "M",
            Frequency::W => "W",
            Frequency::D => "D",
        }
    }

    /// The date `n` steps after `date`; `None` past the calendar's end.
    pub fn step(self, date: NaiveDate, n: u32) -> Option<NaiveDate> {
        match self {
            Frequency::A => date.checked_add_months(Months::new(n.checked_mul(12)?)),
            Frequency::H => date.checked_add_months(Months::new(n.checked_mul(6)?)),
            Frequency::Q => date.checked_add_months(Months::new(n.checked_mul(3)?)),
            Frequency::M => date.checked_add_months(Months::new(n)),
            Frequency::W => date.checked_add_days(chrono::Days::new(u64::from(n) * 7)),
            Frequency::D => date.checked_add_days(chrono::Days::new(u64::from(n))),
        }
    }
}

/// `YYYY-MM-DD`, optionally followed by a time part (`T00:00:00Z`), which is ignored.
pub fn parse_day(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let day = s.get(..10)?;
    let rest = &s[10..];
    if !(rest.is_empty() || rest.starts_with('T') || rest.starts_with(' ')) {
        return None;
    }
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

/// How dates go on the wire.
pub fn wire_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%dT00:00:00Z").to_string()
}

/// A period: the days from `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Period {
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.start <= d && d < self.end
    }

    /// Parses one period token.
    pub fn parse(token: &str) -> Option<Period> {
        let t = token.trim();
        if let Some(day) = parse_day(t) {
            return Some(Period { start: day, end: day.succ_opt()? });
        }
        let year_digits = t.bytes().take_while(u8::is_ascii_digit).count();
        if year_digits != 4 {
            return None;
        }
        let year: i32 = t[..4].parse().ok()?;
        let rest = &t[4..];
        let jan1 = NaiveDate::from_ymd_opt(year, 1, 1)?;
        if rest.is_empty() {
            return Some(Period { start: jan1, end: jan1.checked_add_months(Months::new(12))? });
        }
        // `2020-07`: a month.
        if let Some(month) = rest.strip_prefix('-') {
            let m: u32 = month.parse().ok().filter(|m| (1..=12).contains(m) && month.len() <= 2)?;
            let start = NaiveDate::from_ymd_opt(year, m, 1)?;
            return Some(Period { start, end: start.checked_add_months(Months::new(1))? });
        }
        let (unit, number) = rest.split_at(1);
        if number.is_empty() || number.len() > 2 || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u32 = number.parse().ok()?;
        let (months, count) = match unit.to_ascii_uppercase().as_str() {
            "H" => (6, 2),
            "Q" => (3, 4),
            "M" => (1, 12),
            "W" => {
                if !(1..=53).contains(&n) {
                    return None;
                }
                let start = NaiveDate::from_isoywd_opt(year, n, chrono::Weekday::Mon)?;
                return Some(Period { start, end: start.checked_add_days(chrono::Days::new(7))? });
            }
            _ => return None,
        };
        if !(1..=count).contains(&n) {
            return None;
        }
        let start = jan1.checked_add_months(Months::new((n - 1) * months))?;
        Some(Period { start, end: start.checked_add_months(Months::new(months))? })
    }

    /// `A-B`: the split is the first `-` where both sides are periods (dates contain `-` too).
    pub fn parse_range(text: &str) -> Option<(Period, Period)> {
        let t = text.trim();
        t.match_indices('-').find_map(|(i, _)| {
            let (a, b) = (Period::parse(&t[..i])?, Period::parse(&t[i + 1..])?);
            (a.start <= b.start).then_some((a, b))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(s: &str) -> NaiveDate {
        parse_day(s).unwrap()
    }

    #[test]
    fn periods() {
        assert_eq!(Period::parse("2020"), Some(Period { start: day("2020-01-01"), end: day("2021-01-01") }));
        assert_eq!(Period::parse("2020Q3").unwrap().start, day("2020-07-01"));
        assert_eq!(Period::parse("2020M12").unwrap().end, day("2021-01-01"));
        assert_eq!(Period::parse("2020H2").unwrap().start, day("2020-07-01"));
        assert_eq!(Period::parse("2020-02").unwrap().end, day("2020-03-01"));
        assert_eq!(Period::parse("2020-02-29T00:00:00Z").unwrap().start, day("2020-02-29"));
        assert!(
            Period::parse("2020Q5").is_none() && Period::parse("20").is_none() && Period::parse("2020X1").is_none()
        );
        let (a, b) = Period::parse_range("2019-01-01-2020-06-30").unwrap();
        assert_eq!((a.start, b.start), (day("2019-01-01"), day("2020-06-30")));
        assert_eq!(Period::parse_range("2018-2020").unwrap().1.end, day("2021-01-01"));
        assert!(Period::parse_range("2020-2018").is_none());
    }

    #[test]
    fn steps() {
        assert_eq!(Frequency::Q.step(day("2020-01-01"), 5), Some(day("2021-04-01")));
        assert_eq!(Frequency::W.step(day("2020-01-06"), 2), Some(day("2020-01-20")));
        assert_eq!(Frequency::A.step(day("2020-01-01"), u32::MAX), None);
    }

    proptest! {
        #[test]
        fn period_parsers_never_panic(s in ".{0,30}") {
            let _ = Period::parse(&s);
            let _ = Period::parse_range(&s);
            let _ = parse_day(&s);
        }
    }
}
