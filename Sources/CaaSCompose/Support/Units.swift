/// Durations and byte sizes as compose writes them.
enum Units {
    /// `1h`, `1m30s`, `10s`, `500ms`, `20us`, `1.5s`, or a bare number (seconds). Negative is rejected.
    static func seconds(_ text: String) -> Double? {
        let s = Array(text.trimmingSpaces.unicodeScalars)
        guard !s.isEmpty else { return nil }
        if let plain = Double(String(String.UnicodeScalarView(s))) {
            return plain >= 0 && plain.isFinite ? plain : nil
        }
        var i = 0
        var total = 0.0
        while i < s.count {
            var number = String.UnicodeScalarView()
            while i < s.count, ("0"..."9").contains(s[i]) || s[i] == "." {
                number.append(s[i])
                i += 1
            }
            var unit = String.UnicodeScalarView()
            while i < s.count, !("0"..."9").contains(s[i]), s[i] != "." {
                unit.append(s[i])
                i += 1
            }
            guard let value = Double(String(number)) else { return nil }
            let factor: Double
            switch String(unit) {
            case "h": factor = 3600
            case "m": factor = 60
            case "s": factor = 1
            case "ms": factor = 1e-3
            case "us", "µs", "μs": factor = 1e-6
            case "ns": factor = 1e-9
            default: return nil
            }
            total += value * factor
        }
        return total.isFinite ? total : nil
    }

    /// `1024`, `512k`, `512M`, `1g`, `1.5GB`, `2tb` (binary multiples, as Docker reads them), in bytes.
    static func bytes(_ text: String) -> Int64? {
        let t = text.trimmingSpaces.lowercased()
        let digits = t.prefix { ("0"..."9").contains($0) || $0 == "." }
        let unit = String(t.dropFirst(digits.count)).trimmingSpaces
        guard let value = Double(digits), value >= 0 else { return nil }
        let factor: Double
        switch unit {
        case "", "b": factor = 1
        case "k", "kb", "kib": factor = 1024
        case "m", "mb", "mib": factor = 1_048_576
        case "g", "gb", "gib": factor = 1_073_741_824
        case "t", "tb", "tib": factor = 1_099_511_627_776
        default: return nil
        }
        let bytes = (value * factor).rounded(.down)
        guard bytes < 9.2e18 else { return nil }
        return Int64(bytes)
    }
}
