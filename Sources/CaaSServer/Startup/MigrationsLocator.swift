import Foundation

/// Finds the `migrations/` folder: the configured one, else the usual places of a checkout or an
/// installation. The first folder holding `NNNN_*.sql` files wins.
public enum MigrationsLocator {
    public static func locate(configured: String?, executablePath: String = CommandLine.arguments[0],
                              currentDirectory: String = FileManager.default.currentDirectoryPath) throws(ConfigurationError) -> String {
        if let configured {
            guard holdsMigrations(configured) else {
                throw ConfigurationError(setting: "CAAS_MIGRATIONS_DIR", message: "\(configured) holds no NNNN_name.sql files")
            }
            return configured
        }
        let candidates = searchPath(executablePath: executablePath, currentDirectory: currentDirectory)
        if let found = candidates.first(where: holdsMigrations) { return found }
        throw ConfigurationError(setting: "CAAS_MIGRATIONS_DIR",
                                 message: "no migrations folder found; looked in \(candidates.joined(separator: ", ")); set CAAS_MIGRATIONS_DIR")
    }

    /// `./migrations`; beside the executable's build folder (`.build/<triple>/<config>/caas-server`
    /// in a checkout); `<prefix>/share/caas/migrations` next to an installed `<prefix>/bin`.
    static func searchPath(executablePath: String, currentDirectory: String) -> [String] {
        let executable = URL(fileURLWithPath: executablePath, relativeTo: URL(fileURLWithPath: currentDirectory, isDirectory: true))
            .standardizedFileURL.resolvingSymlinksInPath()
        var paths = [URL(fileURLWithPath: currentDirectory).appendingPathComponent("migrations").path]
        var folder = executable.deletingLastPathComponent()
        for _ in 0..<4 {
            paths.append(folder.appendingPathComponent("migrations").path)
            paths.append(folder.appendingPathComponent("share/caas/migrations").path)
            folder = folder.deletingLastPathComponent()
        }
        paths.append("/usr/share/caas/migrations")
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }

    static func holdsMigrations(_ path: String) -> Bool {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return false }
        return names.contains { $0.hasSuffix(".sql") && $0.prefix(4).allSatisfy(\.isNumber) }
    }
}
