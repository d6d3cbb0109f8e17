//! Wall-clock formatting from an injected clock, so rendering is a pure function of
//! state (snapshots freeze `now` and the UTC offset).

/// "Now" and the local UTC offset, both in seconds. Kept in `App` and advanced by ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Clock {
    /// Unix time, seconds.
    pub now: i64,
    /// Local offset from UTC, seconds (e.g. 8 * 3600 for UTC+8).
    pub utc_offset: i32,
}

/// A broken-down local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i64,
    /// 1..=12
    pub month: u32,
    /// 1..=31
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    /// 0 = Monday … 6 = Sunday
    pub weekday: u32,
    /// Days since 1970-01-01 in local time.
    pub day_number: i64,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const MONTHS_LONG: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const WEEKDAYS_LONG: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Days since 1970-01-01 → (year, month, day). Howard Hinnant's `civil_from_days`.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl Clock {
    pub fn new(now: i64, utc_offset: i32) -> Self {
        Self { now, utc_offset }
    }

    /// `ts` (Unix seconds) in local time.
    pub fn local(&self, ts: i64) -> LocalTime {
        let t = ts.saturating_add(i64::from(self.utc_offset));
        let day_number = t.div_euclid(86_400);
        let secs = t.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(day_number);
        LocalTime {
            year,
            month,
            day,
            hour: (secs / 3600) as u32,
            minute: ((secs % 3600) / 60) as u32,
            // 1970-01-01 was a Thursday (3).
            weekday: (day_number + 3).rem_euclid(7) as u32,
            day_number,
        }
    }

    pub fn today(&self) -> i64 {
        self.local(self.now).day_number
    }

    /// "14:03".
    pub fn hm(&self, ts: i64) -> String {
        let t = self.local(ts);
        format!("{:02}:{:02}", t.hour, t.minute)
    }

    /// The compact stamp of a conversation row: "14:03" today, "Tue" this week,
    /// "Mar 14" this year, "2024-03-14" before. At most 10 columns, mostly 5.
    pub fn list_stamp(&self, ts: i64) -> String {
        if ts <= 0 {
            return String::new();
        }
        let t = self.local(ts);
        let now = self.local(self.now);
        let age_days = now.day_number - t.day_number;
        if age_days == 0 {
            format!("{:02}:{:02}", t.hour, t.minute)
        } else if (1..7).contains(&age_days) {
            WEEKDAYS[t.weekday as usize].to_string()
        } else if t.year == now.year {
            format!("{} {}", MONTHS[(t.month - 1) as usize], t.day)
        } else {
            format!("{:04}-{:02}-{:02}", t.year, t.month, t.day)
        }
    }

    /// The label of a day separator: "Today", "Yesterday", "Monday, 14 March",
    /// "Friday, 14 March 2024".
    pub fn day_label(&self, ts: i64) -> String {
        let t = self.local(ts);
        let now = self.local(self.now);
        match now.day_number - t.day_number {
            0 => "Today".to_string(),
            1 => "Yesterday".to_string(),
            _ if t.year == now.year => format!(
                "{}, {} {}",
                WEEKDAYS_LONG[t.weekday as usize],
                t.day,
                MONTHS_LONG[(t.month - 1) as usize]
            ),
            _ => format!(
                "{}, {} {} {}",
                WEEKDAYS_LONG[t.weekday as usize],
                t.day,
                MONTHS_LONG[(t.month - 1) as usize],
                t.year
            ),
        }
    }

    /// Local day number of `ts`, for day separators.
    pub fn day_of(&self, ts: i64) -> i64 {
        self.local(ts).day_number
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-03-14 12:30:00 UTC is a Saturday.
    const NOW: i64 = 1_773_491_400;

    #[test]
    fn civil_dates() {
        let c = Clock::new(0, 0);
        let t = c.local(0);
        assert_eq!((t.year, t.month, t.day, t.weekday), (1970, 1, 1, 3));
        let t = c.local(NOW);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute),
            (2026, 3, 14, 12, 30)
        );
        assert_eq!(t.weekday, 5, "Saturday");
        let t = c.local(951_782_400); // 2000-02-29 00:00 UTC
        assert_eq!((t.year, t.month, t.day), (2000, 2, 29));
        let t = c.local(-86_400);
        assert_eq!((t.year, t.month, t.day), (1969, 12, 31));
    }

    #[test]
    fn offset_moves_the_day() {
        let c = Clock::new(NOW, 12 * 3600);
        let t = c.local(NOW);
        assert_eq!((t.day, t.hour), (15, 0));
        let c = Clock::new(NOW, -13 * 3600);
        assert_eq!(c.local(NOW).day, 13);
    }

    #[test]
    fn stamps_and_labels() {
        let c = Clock::new(NOW, 8 * 3600); // 20:30 local on Saturday 14 March
        assert_eq!(c.hm(NOW), "20:30");
        assert_eq!(c.list_stamp(NOW - 3600), "19:30");
        assert_eq!(c.list_stamp(NOW - 86_400), "Fri");
        assert_eq!(c.list_stamp(NOW - 6 * 86_400), "Sun");
        assert_eq!(c.list_stamp(NOW - 7 * 86_400), "Mar 7");
        assert_eq!(c.list_stamp(NOW - 400 * 86_400), "2025-02-07");
        assert_eq!(c.list_stamp(0), "");
        assert_eq!(c.day_label(NOW), "Today");
        assert_eq!(c.day_label(NOW - 86_400), "Yesterday");
        assert_eq!(c.day_label(NOW - 3 * 86_400), "Wednesday, 11 March");
        assert_eq!(c.day_label(NOW - 400 * 86_400), "Friday, 7 February 2025");
    }
}
