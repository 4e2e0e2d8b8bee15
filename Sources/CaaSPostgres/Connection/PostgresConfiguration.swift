/// How to reach a PostgreSQL server and how to set up each new session.
public struct PostgresConfiguration: Sendable {
    /// A libpq connection URI or key/value conninfo string, e.g.
    /// `postgresql://caas@/caas?host=/run/caas/pg` (unix socket directory) or
    /// `host=127.0.0.1 port=5432 dbname=caas user=caas`.
    public var url: String
    /// Shown in `pg_stat_activity` unless the URL sets `application_name`.
    public var applicationName: String
    /// Seconds to wait for a connection before giving up (libpq's `connect_timeout`); the URL's
    /// own `connect_timeout` wins.
    public var connectTimeoutSeconds: Int
    /// Run-time parameters set on every new session (`set_config(name, value, false)`), after
    /// the ones this layer needs (`DateStyle=ISO`, `bytea_output=hex`, `IntervalStyle=postgres`).
    /// Defaults to `TimeZone=UTC`; add e.g. `statement_timeout`, `lock_timeout`.
    public var sessionSettings: [String: String]
    /// How many prepared statements each session keeps (see ``PostgresConnection``); 0 never
    /// prepares, for poolers that do not carry prepared statements between transactions.
    public var preparedStatementLimit: Int

    public init(
        url: String,
        applicationName: String = "caas",
        connectTimeoutSeconds: Int = 10,
        sessionSettings: [String: String] = ["TimeZone": "UTC"],
        preparedStatementLimit: Int = 256
    ) {
        self.url = url
        self.applicationName = applicationName
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.sessionSettings = sessionSettings
        self.preparedStatementLimit = max(0, preparedStatementLimit)
    }

    /// Settings the decoders rely on; applied first, so a caller cannot break decoding by accident.
    static let requiredSessionSettings: [(String, String)] = [
        ("DateStyle", "ISO, MDY"),
        ("IntervalStyle", "postgres"),
        ("bytea_output", "hex"),
    ]

    /// A connection URL for a server on a unix socket: `postgresql://user@/database?host=/dir`.
    /// Each part is percent-encoded.
    public static func unixSocketURL(directory: String, database: String, user: String, port: Int? = nil) -> String {
        var url = "postgresql://\(percentEncode(user))@/\(percentEncode(database))?host=\(percentEncode(directory))"
        if let port { url += "&port=\(port)" }
        return url
    }

    static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF")
                out += "%\(hex[Int(byte >> 4)])\(hex[Int(byte & 15)])"
            }
        }
        return out
    }
}
