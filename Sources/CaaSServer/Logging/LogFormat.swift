import Foundation
import Logging

/// How caas-server writes its logs: `text` for people, `json` (one object per line) for collectors.
public enum LogFormat: String, Sendable, CaseIterable {
    case text
    case json
}

/// Installs the process-wide log handler. Call once, first thing in `main`.
public enum LogSetup {
    public static func bootstrap(format: LogFormat, level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler
            switch format {
            case .text: handler = StreamLogHandler.standardError(label: label)
            case .json: handler = JSONLogHandler(label: label)
            }
            handler.logLevel = level
            return handler
        }
    }
}

/// One JSON object per line on standard error: `ts`, `level`, `logger`, `msg`, then the metadata keys.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    private let label: String
    private let write: @Sendable (String) -> Void

    public init(label: String, write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var line = "{\"ts\":" + Self.quote(Self.timestamp())
        line += ",\"level\":" + Self.quote(event.level.rawValue)
        line += ",\"logger\":" + Self.quote(label)
        line += ",\"msg\":" + Self.quote(event.message.description)
        if let error = event.error { line += ",\"error\":" + Self.quote(String(describing: error)) }
        for key in merged.keys.sorted() where !["ts", "level", "logger", "msg", "error"].contains(key) {
            line += "," + Self.quote(key) + ":" + Self.render(merged[key]!)
        }
        line += "}\n"
        write(line)
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data(line.utf8))
    }

    static func render(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): quote(text)
        case .stringConvertible(let convertible): quote(convertible.description)
        case .array(let values): "[" + values.map(render).joined(separator: ",") + "]"
        case .dictionary(let values):
            "{" + values.keys.sorted().map { quote($0) + ":" + render(values[$0]!) }.joined(separator: ",") + "}"
        }
    }

    /// A JSON string literal; control characters escaped so one event stays one line.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    private static func timestamp() -> String {
        Date().formatted(timestampStyle)
    }
}
