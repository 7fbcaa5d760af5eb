import Foundation

/// RFC 3339 / ISO 8601 instants in UTC, by arithmetic rather than `DateFormatter` (claims
/// decode two timestamps per task) — the one timestamp codec of the package: `timestamptz`
/// values to and from PostgreSQL (the session runs with `DateStyle ISO`, `TimeZone UTC`),
/// the fire instants in schedule keys, and instants from other systems (e.g. Go's
/// `2026-11-26T10:11:12.123456789+01:00`).
public enum UTCTimestamp {
    /// Parses `YYYY-MM-DD[T ]hh:mm:ss[.fraction](Z|±hh[[:]mm[[:]ss]])`; nil when it is not
    /// an instant (an instant needs a zone).
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        var index = 0
        func isDigit(_ position: Int) -> Bool { position < bytes.count && bytes[position] >= 0x30 && bytes[position] <= 0x39 }
        func number(digits: ClosedRange<Int>) -> Int? {
            var value = 0, count = 0
            while count < digits.upperBound, isDigit(index) {
                value = value * 10 + Int(bytes[index] - 0x30)
                index += 1
                count += 1
            }
            return count >= digits.lowerBound ? value : nil
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(digits: 4...6), expect("-"), let month = number(digits: 2...2), expect("-"),
              let day = number(digits: 2...2), expect("Tt "), let hour = number(digits: 2...2), expect(":"),
              let minute = number(digits: 2...2), expect(":"), let second = number(digits: 2...2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }
        var fraction = 0.0
        if expect(".") {
            var scale = 0.1
            guard isDigit(index) else { return nil }
            while isDigit(index) {
                fraction += Double(bytes[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
        }
        var offsetSeconds = 0
        if expect("Zz") {
            // nothing follows the zone
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let hours = number(digits: 2...2) else { return nil }
            var minutes = 0, seconds = 0
            if index < bytes.count {
                _ = expect(":")
                guard let value = number(digits: 2...2) else { return nil }
                minutes = value
            }
            if index < bytes.count {
                guard expect(":"), let value = number(digits: 2...2) else { return nil }
                seconds = value
            }
            offsetSeconds = sign * (hours * 3600 + minutes * 60 + seconds)
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        let seconds = daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
        return Date(timeIntervalSince1970: Double(seconds - offsetSeconds) + fraction)
    }

    /// `2026-11-01T03:00:00Z`, with milliseconds only when the instant has them, like the
    /// database's schedule keys.
    public static func format(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let fraction = Int(((milliseconds % 1000) + 1000) % 1000)
        return format(wholeSeconds: (milliseconds - Int64(fraction)) / 1000,
                      fraction: fraction == 0 ? "" : "." + pad(fraction, 3))
    }

    /// `2026-11-26T22:38:48.123456Z`: microseconds, which `timestamptz` keeps exactly.
    static func formatMicroseconds(_ date: Date) -> String {
        let microseconds = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let fraction = Int(((microseconds % 1_000_000) + 1_000_000) % 1_000_000)
        return format(wholeSeconds: (microseconds - Int64(fraction)) / 1_000_000, fraction: "." + pad(fraction, 6))
    }

    /// The UTC calendar date of an instant.
    public static func civilDate(of date: Date) -> (year: Int, month: Int, day: Int) {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let secondOfDay = ((seconds % 86_400) + 86_400) % 86_400
        return civilFromDays((seconds - secondOfDay) / 86_400)
    }

    private static func format(wholeSeconds: Int64, fraction: String) -> String {
        let seconds = Int(wholeSeconds)
        let secondOfDay = ((seconds % 86_400) + 86_400) % 86_400
        let (year, month, day) = civilFromDays((seconds - secondOfDay) / 86_400)
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T"
            + "\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))\(fraction)Z"
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (civil_from_days).
    static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
