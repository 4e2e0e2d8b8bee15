import ArgumentParser
import CaaSClient
import Foundation

/// What one invocation works with: the client (connected as the flags, environment and context
/// say), the console, and the output format.
struct Session: Sendable {
    let client: CaaSClient
    let console: Console
    let options: GlobalOptions
    let settings: ConnectionSettings

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// Builds the session; fails with a usage error when no server is configured.
    static func make(_ options: GlobalOptions) throws -> Session {
        let console = Console(noColor: options.noColor)
        let store = ContextStore(environment: environment)
        let configuration = try store.load()
        if !configuration.contexts.isEmpty, let warning = store.permissionWarning() { console.warning(warning) }
        let settings = try ConnectionSettings.resolve(
            flags: ConnectionSettings(server: options.server, token: options.token, caFile: options.caFile),
            contextFlag: options.context, environment: environment, configuration: configuration)
        guard let server = settings.server else {
            throw CaaSClientError.configuration("no caas server configured: run caasctl login --server URL --token T, or set CAAS_SERVER")
        }
        let client = try CaaSClient(CaaSClientConfiguration(server: server, token: settings.token, caFile: settings.caFile,
                                                            idempotencyBase: environment["CAAS_IDEMPOTENCY_KEY"] ?? CaaSClientConfiguration.randomKey()))
        return Session(client: client, console: console, options: options, settings: settings)
    }

    var wide: Bool { options.output == .wide }

    /// The newest event id of the tenant (`GET /v1/tenant`), so a watch sees only what follows;
    /// 0 when the caller has no tenant.
    func latestEventID() async throws -> Int64 {
        do {
            return try await client.currentTenant().lastEventID
        } catch CaaSClientError.problem(let problem) where problem.status == 404 || problem.status == 403 {
            return 0
        }
    }

    // MARK: Printing

    /// A list: ids with `-q`, JSON or YAML arrays of the server's objects, or a table.
    func show<Object: APIObject>(_ objects: [Object], _ table: ResourceTable<Object>) {
        if options.quiet {
            for object in objects { console.line(object.id) }
            return
        }
        switch options.output {
        case .json: console.line(JSON.array(objects.map(\.raw)).prettyPrinted())
        case .yaml: console.write(YAMLWriter.write(.array(objects.map(\.raw))))
        case .table, .wide:
            if objects.isEmpty {
                console.error("no objects found")
            } else {
                console.write(table.render(objects, wide: wide, style: console.style))
            }
        }
    }

    /// One object after a change: its id with `-q`, the object as JSON/YAML, or a one-row table.
    func show<Object: APIObject>(_ object: Object, _ table: ResourceTable<Object>) {
        if options.quiet {
            console.line(object.id)
            return
        }
        switch options.output {
        case .json: console.line(object.raw.prettyPrinted())
        case .yaml: console.write(YAMLWriter.write(object.raw))
        case .table, .wide: console.write(table.render([object], wide: wide, style: console.style))
        }
    }

    /// One object in full (`inspect`): YAML for people, JSON with `-o json`.
    func inspect(_ value: JSON) {
        if options.quiet {
            console.line(value["id"]?.stringValue ?? "")
            return
        }
        switch options.output {
        case .json: console.line(value.prettyPrinted())
        case .yaml, .table, .wide: console.write(YAMLWriter.write(value))
        }
    }

    /// A sentence for people (not printed with `-q`, `-o json` or `-o yaml`, which keep stdout
    /// for data).
    func say(_ text: String) {
        guard !options.quiet, options.output == .table || options.output == .wide else { return }
        console.line(text)
    }
}

/// `KEY=VALUE` arguments (`-e`, `--label`, `scale web=3`).
enum KeyValue {
    static func parse(_ items: [String], what: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for item in items {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw ValidationError("\(what) \(item) is not KEY=VALUE")
            }
            result[String(item[item.startIndex..<equals])] = String(item[item.index(after: equals)...])
        }
        return result
    }

    /// Deploy-time variables: `VAR=value`, or `VAR` alone for the value in caasctl's environment
    /// (as docker-compose's `-e`).
    static func variables(_ items: [String], environment: [String: String]) throws -> [String: String] {
        var result: [String: String] = [:]
        for item in items {
            if item.contains("=") {
                result.merge(try parse([item], what: "variable"), uniquingKeysWith: { $1 })
            } else if let value = environment[item] {
                result[item] = value
            } else {
                throw ValidationError("variable \(item) has no value: write \(item)=value or set it in the environment")
            }
        }
        return result
    }
}
