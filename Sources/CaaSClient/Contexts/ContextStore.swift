import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One named place to talk to: a server, a token, and the CA that signed the server's certificate.
public struct Context: Codable, Sendable, Equatable {
    public var server: String
    public var token: String?
    public var caFile: String?

    public init(server: String, token: String? = nil, caFile: String? = nil) {
        self.server = server
        self.token = token
        self.caFile = caFile
    }

    enum CodingKeys: String, CodingKey {
        case server
        case token
        case caFile = "ca_file"
    }
}

/// The configuration file: every context and which one is current.
public struct ContextConfiguration: Codable, Sendable, Equatable {
    public var currentContext: String?
    public var contexts: [String: Context]

    public init(currentContext: String? = nil, contexts: [String: Context] = [:]) {
        self.currentContext = currentContext
        self.contexts = contexts
    }

    enum CodingKeys: String, CodingKey {
        case currentContext = "current_context"
        case contexts
    }
}

public enum ContextStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, detail: String)
    case malformed(path: String, detail: String)
    case unwritable(path: String, detail: String)
    case noSuchContext(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let detail): "cannot read \(path): \(detail)"
        case .malformed(let path, let detail): "\(path) is not a caasctl configuration: \(detail)"
        case .unwritable(let path, let detail): "cannot write \(path): \(detail)"
        case .noSuchContext(let name): "no context named \(name) (see caasctl context ls)"
        }
    }
}

/// Reads and writes `$XDG_CONFIG_HOME/caas/config.json` (`~/.config/caas/config.json`): the
/// directory is created with mode 0700, the file is written with mode 0600 to a temporary file
/// and renamed over the old one, so a crash never leaves half a file and tokens are never
/// readable by others.
public struct ContextStore: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// The file's place from the environment: `XDG_CONFIG_HOME`, else `HOME/.config`.
    public init(environment: [String: String]) {
        let base: String
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") {
            base = xdg
        } else {
            base = (environment["HOME"] ?? NSHomeDirectory()) + "/.config"
        }
        self.init(path: base + "/caas/config.json")
    }

    public var directory: String { (path as NSString).deletingLastPathComponent }

    /// The configuration; an empty one when the file does not exist yet.
    public func load() throws(ContextStoreError) -> ContextConfiguration {
        guard FileManager.default.fileExists(atPath: path) else { return ContextConfiguration() }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path: path, detail: "\(error.localizedDescription)")
        }
        do {
            return try JSONDecoder().decode(ContextConfiguration.self, from: data)
        } catch {
            throw .malformed(path: path, detail: "\(error)")
        }
    }

    /// A warning when the file can be read by other users (it holds tokens).
    public func permissionWarning() -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        if info.st_mode & 0o077 != 0 {
            return "\(path) is readable by other users (mode \(String(info.st_mode & 0o777, radix: 8))); run chmod 600 \(path)"
        }
        return nil
    }

    /// Writes the configuration atomically with mode 0600 (directory 0700).
    public func save(_ configuration: ContextConfiguration) throws(ContextStoreError) {
        try makeDirectory()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(configuration) else { throw .unwritable(path: path, detail: "encoding failed") }
        let temporary = "\(path).\(getpid()).\(CaaSClientConfiguration.randomKey().prefix(8)).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .unwritable(path: temporary, detail: String(cString: strerror(errno))) }
        var bytes = Array(data) + [10]
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeMutableBytes { write(descriptor, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                let detail = String(cString: strerror(errno))
                close(descriptor)
                unlink(temporary)
                throw .unwritable(path: temporary, detail: detail)
            }
            written += count
        }
        // The mode asked of open() is reduced by the umask; 0600 exactly is what we want.
        fchmod(descriptor, 0o600)
        fsync(descriptor)
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            let detail = String(cString: strerror(errno))
            unlink(temporary)
            throw .unwritable(path: path, detail: detail)
        }
        bytes.removeAll()
    }

    private func makeDirectory() throws(ContextStoreError) {
        var parts: [String] = []
        var current = directory
        while !current.isEmpty, current != "/", !FileManager.default.fileExists(atPath: current) {
            parts.insert(current, at: 0)
            current = (current as NSString).deletingLastPathComponent
        }
        for part in parts {
            // Intermediate directories (like ~/.config) get the usual 0700 too: they are new.
            if mkdir(part, 0o700) != 0 && errno != EEXIST {
                throw .unwritable(path: part, detail: String(cString: strerror(errno)))
            }
            chmod(part, 0o700)
        }
    }

    // MARK: Changes

    /// Adds or replaces a context and makes it current.
    public func upsert(_ name: String, _ context: Context, makeCurrent: Bool = true) throws(ContextStoreError) {
        var configuration = try load()
        configuration.contexts[name] = context
        if makeCurrent || configuration.currentContext == nil { configuration.currentContext = name }
        try save(configuration)
    }

    public func use(_ name: String) throws(ContextStoreError) {
        var configuration = try load()
        guard configuration.contexts[name] != nil else { throw .noSuchContext(name) }
        configuration.currentContext = name
        try save(configuration)
    }

    public func remove(_ name: String) throws(ContextStoreError) {
        var configuration = try load()
        guard configuration.contexts.removeValue(forKey: name) != nil else { throw .noSuchContext(name) }
        if configuration.currentContext == name { configuration.currentContext = nil }
        try save(configuration)
    }
}

/// Where the settings of one invocation come from, strongest first: flags, the environment
/// (`CAAS_SERVER`, `CAAS_TOKEN`, `CAAS_CA_FILE`, `CAAS_CONTEXT`), then the chosen context
/// (`--context`, else the current one).
public struct ConnectionSettings: Sendable, Equatable {
    public var server: String?
    public var token: String?
    public var caFile: String?
    /// The context the settings came from, if any.
    public var contextName: String?

    public init(server: String? = nil, token: String? = nil, caFile: String? = nil, contextName: String? = nil) {
        self.server = server
        self.token = token
        self.caFile = caFile
        self.contextName = contextName
    }

    public static func resolve(flags: ConnectionSettings, contextFlag: String?, environment: [String: String],
                               configuration: ContextConfiguration) throws(ContextStoreError) -> ConnectionSettings {
        func nonEmpty(_ text: String?) -> String? { text.flatMap { $0.isEmpty ? nil : $0 } }
        let contextName = nonEmpty(contextFlag) ?? nonEmpty(environment["CAAS_CONTEXT"]) ?? configuration.currentContext
        var context: Context?
        if let contextName {
            context = configuration.contexts[contextName]
            // A context asked for by name must exist; a dangling current context is ignored.
            if context == nil, nonEmpty(contextFlag) != nil || nonEmpty(environment["CAAS_CONTEXT"]) != nil {
                throw .noSuchContext(contextName)
            }
        }
        return ConnectionSettings(
            server: nonEmpty(flags.server) ?? nonEmpty(environment["CAAS_SERVER"]) ?? context?.server,
            token: nonEmpty(flags.token) ?? nonEmpty(environment["CAAS_TOKEN"]) ?? context?.token,
            caFile: nonEmpty(flags.caFile) ?? nonEmpty(environment["CAAS_CA_FILE"]) ?? context?.caFile,
            contextName: context == nil ? nil : contextName)
    }
}
