/// Which variable names hold secrets: their values are encrypted at rest and shown as `***`.
/// A name is secret when one of its `_`/`-`/`.`-separated words (case-insensitive) is or ends in
/// PASSWORD, PASSWD, PASS, SECRET, TOKEN or KEY (`DB_PASSWORD`, `API_KEY`, `apikey`, `GITHUB_TOKEN`).
public enum SecretNames {
    static let markers = ["PASSWORD", "PASSWD", "SECRET", "TOKEN", "KEY", "PASS"]

    public static func isSecret(_ name: String) -> Bool {
        let words = name.uppercased().split(whereSeparator: { $0 == "_" || $0 == "-" || $0 == "." })
        return words.contains { word in markers.contains { word.hasSuffix($0) } }
    }

    /// What the API shows instead of a secret value.
    public static let mask = "***"
}
