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

/// 1970-01-01 → days, for (year, month 1..=12, day 1..=31). Howard Hinnant's
/// `days_from_civil`, the inverse of [`civil_from_days`].
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The local UTC offset (seconds) at `now`, worked out in this process, without a child
/// process (`date +%z` took 5–70 ms before the first frame) and without libc's
/// `localtime_r`, whose time-zone state is not safe to read while another thread may set
/// environment variables. The zone is `TZ` (a POSIX rule such as `CST-8` or
/// `CET-1CEST,M3.5.0,M10.5.0/3`, a zone name looked up under /usr/share/zoneinfo, or a
/// path), else /etc/localtime (TZif, RFC 8536). Anything unreadable is UTC (0).
pub fn local_utc_offset(now: i64) -> i32 {
    let tz = std::env::var("TZ").ok();
    match tz.as_deref().map(|t| t.strip_prefix(':').unwrap_or(t)) {
        Some("") | None => read_tzif(std::path::Path::new("/etc/localtime"), now),
        Some(t) if t.starts_with('/') => read_tzif(std::path::Path::new(t), now),
        Some(t) => {
            let name_ok = !t.split('/').any(|c| c == ".." || c.is_empty());
            let from_file = name_ok
                .then(|| {
                    let path = std::path::Path::new("/usr/share/zoneinfo").join(t);
                    std::fs::read(path).ok()
                })
                .flatten()
                .and_then(|data| tzif_offset(&data, now));
            from_file.or_else(|| posix_tz_offset(t, now))
        }
    }
    .unwrap_or(0)
}

fn read_tzif(path: &std::path::Path, now: i64) -> Option<i32> {
    tzif_offset(&std::fs::read(path).ok()?, now)
}

fn be_u32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn be_i64(data: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(data.get(at..at + 8)?.try_into().ok()?))
}

/// The UTC offset at `now` from TZif data (RFC 8536): the type of the last transition
/// at or before `now`; after the last transition, the footer's POSIX rule (v2+).
pub fn tzif_offset(data: &[u8], now: i64) -> Option<i32> {
    struct Header {
        isut: usize,
        isstd: usize,
        leap: usize,
        time: usize,
        types: usize,
        chars: usize,
    }
    let header = |at: usize| -> Option<Header> {
        if data.get(at..at + 4)? != b"TZif" {
            return None;
        }
        let n = |k: usize| be_u32(data, at + 20 + 4 * k).and_then(|v| usize::try_from(v).ok());
        Some(Header {
            isut: n(0)?,
            isstd: n(1)?,
            leap: n(2)?,
            time: n(3)?,
            types: n(4)?,
            chars: n(5)?,
        })
    };
    let v1 = header(0)?;
    let version = *data.get(4)?;
    let block = |h: &Header, time_size: usize| {
        h.time * time_size
            + h.time
            + h.types * 6
            + h.chars
            + h.leap * (time_size + 4)
            + h.isstd
            + h.isut
    };
    let (h, start, time_size) = if version >= b'2' {
        let at = 44 + block(&v1, 4);
        (header(at)?, at + 44, 8)
    } else {
        (v1, 44, 4)
    };
    let times = start;
    let indices = times + h.time * time_size;
    let infos = indices + h.time;
    let utoff = |ty: usize| -> Option<i32> {
        if ty >= h.types {
            return None;
        }
        Some(be_u32(data, infos + 6 * ty)? as i32)
    };
    let transition = |k: usize| -> Option<i64> {
        if time_size == 8 {
            be_i64(data, times + 8 * k)
        } else {
            Some(i64::from(be_u32(data, times + 4 * k)? as i32))
        }
    };
    let mut last_before = None;
    for k in 0..h.time {
        if transition(k)? <= now {
            last_before = Some(k);
        } else {
            break;
        }
    }
    let after_all = h.time == 0 || last_before == Some(h.time - 1);
    if after_all && time_size == 8 {
        let footer_at = start + block(&h, 8);
        let footer = data.get(footer_at..)?;
        if let Some(rest) = footer.strip_prefix(b"\n")
            && let Some(end) = rest.iter().position(|&b| b == b'\n')
            && let Ok(rule) = std::str::from_utf8(&rest[..end])
            && !rule.is_empty()
            && let Some(off) = posix_tz_offset(rule, now)
        {
            return Some(off);
        }
    }
    match last_before {
        Some(k) => utoff(usize::from(*data.get(indices + k)?)),
        // Before the first transition: the first type (RFC 8536 § 3.2).
        None => utoff(0),
    }
}

/// `[+-]hh[:mm[:ss]]` at the start of `s`, in seconds, and the rest.
fn posix_time(s: &str) -> Option<(i64, &str)> {
    let (sign, s) = match s.as_bytes().first()? {
        b'-' => (-1, &s[1..]),
        b'+' => (1, &s[1..]),
        _ => (1, s),
    };
    let mut total = 0i64;
    let mut rest = s;
    for (k, unit) in [3600i64, 60, 1].into_iter().enumerate() {
        if k > 0 {
            match rest.strip_prefix(':') {
                Some(r) => rest = r,
                None => break,
            }
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 3 {
            return None;
        }
        total += rest[..digits].parse::<i64>().ok()? * unit;
        rest = &rest[digits..];
    }
    Some((sign * total, rest))
}

/// A zone abbreviation (`CET`, or quoted: `<+08>`) at the start of `s`, and the rest.
fn posix_name(s: &str) -> Option<&str> {
    if let Some(q) = s.strip_prefix('<') {
        let end = q.find('>')?;
        return Some(&q[end + 1..]);
    }
    let n = s.bytes().take_while(u8::is_ascii_alphabetic).count();
    (n >= 3).then(|| &s[n..])
}

/// A rule's date (`Jn`, `n`, `Mm.w.d`) and optional `/time`: seconds from the start
/// of `year`, local time.
fn posix_rule_time(rule: &str, year: i64) -> Option<i64> {
    let (date, time) = match rule.split_once('/') {
        Some((d, t)) => (d, posix_time(t).filter(|(_, r)| r.is_empty())?.0),
        None => (rule, 7200),
    };
    let jan1 = days_from_civil(year, 1, 1);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let day = if let Some(j) = date.strip_prefix('J') {
        // 1..=365, February 29 never counted.
        let n: i64 = j.parse().ok().filter(|n| (1..=365).contains(n))?;
        jan1 + n - 1 + i64::from(leap && n >= 60)
    } else if let Some(m) = date.strip_prefix('M') {
        let mut parts = m.split('.').map(|p| p.parse::<u32>().ok());
        let (month, week, weekday) = (parts.next()??, parts.next()??, parts.next()??);
        if !(1..=12).contains(&month) || !(1..=5).contains(&week) || weekday > 6 {
            return None;
        }
        let first = days_from_civil(year, month, 1);
        // 1970-01-01 was a Thursday (4 with Sunday = 0).
        let first_weekday = (first + 4).rem_euclid(7);
        let mut d =
            first + (i64::from(weekday) - first_weekday).rem_euclid(7) + 7 * i64::from(week - 1);
        let next_month = if month == 12 {
            days_from_civil(year + 1, 1, 1)
        } else {
            days_from_civil(year, month + 1, 1)
        };
        while d >= next_month {
            d -= 7;
        }
        d
    } else {
        let n: i64 = date.parse().ok().filter(|n| (0..=365).contains(n))?;
        jan1 + n
    };
    Some((day - jan1) * 86_400 + time)
}

/// The UTC offset at `now` under a POSIX TZ rule (`std offset [dst [offset] [,start[/time],end[/time]]]`).
/// POSIX offsets are west-positive (`CST-8` is UTC+8).
pub fn posix_tz_offset(tz: &str, now: i64) -> Option<i32> {
    let rest = posix_name(tz)?;
    let (std_west, rest) = posix_time(rest)?;
    let std_off = -std_west;
    if rest.is_empty() {
        return i32::try_from(std_off).ok();
    }
    let rest = posix_name(rest)?;
    let (dst_off, rest) = match rest.as_bytes().first() {
        Some(b',') | None => (std_off + 3600, rest),
        _ => {
            let (w, r) = posix_time(rest)?;
            (-w, r)
        }
    };
    let Some(rules) = rest.strip_prefix(',') else {
        // A DST name without rules: no way to tell when; standard time.
        return i32::try_from(std_off).ok();
    };
    let (start, end) = rules.split_once(',')?;
    let year = civil_from_days((now + std_off).div_euclid(86_400)).0;
    let year_start = days_from_civil(year, 1, 1) * 86_400;
    // The start is given in standard time, the end in daylight time.
    let start_utc = year_start + posix_rule_time(start, year)? - std_off;
    let end_utc = year_start + posix_rule_time(end, year)? - dst_off;
    let dst = if start_utc < end_utc {
        (start_utc..end_utc).contains(&now)
    } else {
        !(end_utc..start_utc).contains(&now)
    };
    i32::try_from(if dst { dst_off } else { std_off }).ok()
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

    #[test]
    fn days_from_civil_inverts_civil_from_days() {
        for z in [-800_000i64, -1, 0, 59, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn posix_rules() {
        // 2026-03-14 12:30 UTC.
        assert_eq!(posix_tz_offset("CST-8", NOW), Some(8 * 3600));
        assert_eq!(posix_tz_offset("<+0530>-5:30", NOW), Some(5 * 3600 + 1800));
        assert_eq!(posix_tz_offset("UTC0", NOW), Some(0));
        let eu = "CET-1CEST,M3.5.0,M10.5.0/3";
        assert_eq!(posix_tz_offset(eu, NOW), Some(3600), "winter");
        // 2026-07-01 00:00 UTC: summer; 2026-03-29 00:59 UTC and 01:00 UTC: the switch.
        assert_eq!(posix_tz_offset(eu, 1_782_864_000), Some(7200));
        assert_eq!(posix_tz_offset(eu, 1_774_745_940), Some(3600));
        assert_eq!(posix_tz_offset(eu, 1_774_746_000), Some(7200));
        let us = "EST5EDT,M3.2.0,M11.1.0";
        assert_eq!(
            posix_tz_offset(us, NOW),
            Some(-4 * 3600),
            "DST from 8 March 2026"
        );
        assert_eq!(
            posix_tz_offset(us, 1_767_225_600),
            Some(-5 * 3600),
            "1 January"
        );
        // Southern hemisphere: DST spans the new year.
        let nz = "NZST-12NZDT,M9.5.0,M4.1.0/3";
        assert_eq!(
            posix_tz_offset(nz, 1_767_225_600),
            Some(13 * 3600),
            "January"
        );
        assert_eq!(posix_tz_offset(nz, 1_782_864_000), Some(12 * 3600), "July");
        assert_eq!(posix_tz_offset("", NOW), None);
        assert_eq!(posix_tz_offset("X-8", NOW), None);
        assert_eq!(posix_tz_offset("CET-1CEST,M13.5.0,M10.5.0", NOW), None);
    }

    /// A TZif v2 file: one transition in 1970 to type 1, footer rule `rule`.
    fn tzif(types: &[i32], transitions: &[(i64, u8)], rule: &str) -> Vec<u8> {
        let header = |time: usize, chars: usize| {
            let mut h = b"TZif2".to_vec();
            h.extend_from_slice(&[0; 15]);
            for n in [0, 0, 0, time, types.len(), chars] {
                h.extend_from_slice(&(n as u32).to_be_bytes());
            }
            h
        };
        // v1 block: empty but for the types.
        let mut out = header(0, 4);
        for t in types {
            out.extend_from_slice(&t.to_be_bytes());
            out.extend_from_slice(&[0, 0]);
        }
        out.extend_from_slice(b"ABC\0");
        out.extend(header(transitions.len(), 4));
        for (t, _) in transitions {
            out.extend_from_slice(&t.to_be_bytes());
        }
        for (_, ty) in transitions {
            out.push(*ty);
        }
        for t in types {
            out.extend_from_slice(&t.to_be_bytes());
            out.extend_from_slice(&[0, 0]);
        }
        out.extend_from_slice(b"ABC\0");
        out.push(b'\n');
        out.extend_from_slice(rule.as_bytes());
        out.push(b'\n');
        out
    }

    #[test]
    fn tzif_transitions_and_footer() {
        let data = tzif(&[0, 8 * 3600, 9 * 3600], &[(0, 1), (NOW + 10, 2)], "");
        assert_eq!(tzif_offset(&data, -5), Some(0), "before the first: type 0");
        assert_eq!(tzif_offset(&data, NOW), Some(8 * 3600));
        assert_eq!(tzif_offset(&data, NOW + 10), Some(9 * 3600), "empty footer");
        let data = tzif(&[3600], &[(0, 0)], "CET-1CEST,M3.5.0,M10.5.0/3");
        assert_eq!(
            tzif_offset(&data, 1_782_864_000),
            Some(7200),
            "the footer rule"
        );
        assert_eq!(tzif_offset(b"TZif2", NOW), None);
        assert_eq!(tzif_offset(&data[..60], NOW), None, "truncated");
        assert_eq!(
            tzif_offset(b"not a tzif file at all, but long enough to look", NOW),
            None
        );
    }

    #[test]
    fn the_system_zone_is_read_in_process() {
        // Whatever this machine's zone is, `date +%z` (if it exists) agrees.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let Ok(out) = std::process::Command::new("date").arg("+%z").output() else {
            return;
        };
        let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let sign = if s.starts_with('-') { -1 } else { 1 };
        let (h, m): (i32, i32) = (s[1..3].parse().unwrap(), s[3..5].parse().unwrap());
        assert_eq!(
            local_utc_offset(now),
            sign * (h * 3600 + m * 60),
            "date says {s}"
        );
    }
}
