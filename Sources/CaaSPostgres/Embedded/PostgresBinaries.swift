import Foundation

/// Where the PostgreSQL server programs are: an explicit directory, else the highest version
/// under `/usr/lib/postgresql/*/bin` (Debian, Ubuntu), else `PATH`.
public struct PostgresBinaries: Sendable, Equatable {
    public var directory: String

    public var initdb: String { directory + "/initdb" }
    public var pgCtl: String { directory + "/pg_ctl" }
    public var postgres: String { directory + "/postgres" }

    public init(directory: String) { self.directory = directory }

    public static func locate(explicit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PostgresBinaries {
        let fileManager = FileManager.default
        func complete(_ directory: String) -> Bool {
            ["initdb", "pg_ctl", "postgres"].allSatisfy { fileManager.isExecutableFile(atPath: directory + "/" + $0) }
        }
        if let explicit {
            guard complete(explicit) else {
                throw PostgresError(kind: .embedded, message: "\(explicit) does not hold initdb, pg_ctl and postgres")
            }
            return PostgresBinaries(directory: explicit)
        }
        var candidates: [String] = []
        let root = "/usr/lib/postgresql"
        let versions = (try? fileManager.contentsOfDirectory(atPath: root)) ?? []
        for version in versions.sorted(by: { versionKey($0).lexicographicallyPrecedes(versionKey($1)) }).reversed() {
            candidates.append("\(root)/\(version)/bin")
        }
        candidates += (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        candidates += ["/usr/local/pgsql/bin", "/usr/local/bin", "/usr/bin"]
        if let found = candidates.first(where: complete) {
            return PostgresBinaries(directory: found)
        }
        throw PostgresError(
            kind: .embedded,
            message: "PostgreSQL server programs (initdb, pg_ctl, postgres) not found in /usr/lib/postgresql/*/bin or PATH; install the postgresql package"
        )
    }

    /// "15" → [15], "9.6" → [9, 6]: numeric order, so 15 ranks above 9.6.
    public static func versionKey(_ name: String) -> [Int] {
        name.split(separator: ".").map { Int($0) ?? -1 }
    }
}
