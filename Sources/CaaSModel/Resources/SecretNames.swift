/// Which variable names hold secrets: their values are encrypted at rest and shown as `***`.
/// A name is secret when one of its `_`/`-`/`.`-separated words (case-insensitive) is KEY or PASS,
/// or ends in PASSWORD, PASSWD, SECRET, TOKEN or APIKEY (`DB_PASSWORD`, `API_KEY`, `apikey`,
/// `GITHUB_TOKEN`; not `MONKEY_COUNT`).
public enum SecretNames {
    static let wholeWords = ["KEY", "PASS"]
    static let suffixes = ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY"]

    public static func isSecret(_ name: String) -> Bool {
        let words = name.uppercased().split(whereSeparator: { $0 == "_" || $0 == "-" || $0 == "." })
        return words.contains { word in wholeWords.contains(String(word)) || suffixes.contains { word.hasSuffix($0) } }
    }

    /// What the API shows instead of a secret value.
    public static let mask = "***"
}
