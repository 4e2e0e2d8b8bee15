import Foundation

/// Ages for tables, as `kubectl` and `docker ps` write them: `12s`, `5m`, `3h`, `4d`, `2y`.
public enum RelativeTime {
    public static func age(of date: Date?, now: Date = Date()) -> String {
        guard let date else { return "" }
        let seconds = Int(now.timeIntervalSince(date).rounded(.down))
        if seconds < 0 { return "0s" }
        switch seconds {
        case ..<120: return "\(seconds)s"
        case ..<(2 * 3600): return "\(seconds / 60)m"
        case ..<(2 * 86400): return "\(seconds / 3600)h"
        case ..<(2 * 365 * 86400): return "\(seconds / 86400)d"
        default: return "\(seconds / (365 * 86400))y"
        }
    }

    /// `5m ago` in sentences.
    public static func ago(_ date: Date?, now: Date = Date()) -> String {
        guard let date else { return "never" }
        return age(of: date, now: now) + " ago"
    }
}
