import Foundation
import ArgumentParser
import CaaSClient

/// How results are printed.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table
    case wide
    case json
    case yaml
}

/// The options every command takes: where to connect, as whom, and how to print.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The caas server's URL (overrides CAAS_SERVER and the context).", valueName: "url"))
    var server: String?

    @Option(name: .long, help: ArgumentHelp("The API token (overrides CAAS_TOKEN and the context).", valueName: "token"))
    var token: String?

    @Option(name: .long, help: ArgumentHelp("The context to use instead of the current one (also CAAS_CONTEXT).", valueName: "name"),
            completion: .custom(GlobalOptions.contextNames))
    var context: String?

    @Option(name: .customLong("ca-file"), help: ArgumentHelp("PEM file of the CA that signed the server's certificate.", valueName: "file"),
            completion: .file(extensions: ["pem", "crt"]))
    var caFile: String?

    @Option(name: [.short, .customLong("output")], help: "Output format: table, wide, json or yaml.")
    var output: OutputFormat = .table

    @Flag(name: [.short, .customLong("quiet")], help: "Print only ids.")
    var quiet = false

    @Flag(name: .customLong("no-color"), help: "Never colour output (also NO_COLOR).")
    var noColor = false

    /// Completion of `--context`: the names in the configuration file.
    @Sendable static func contextNames(_ arguments: [String], _ index: Int, _ prefix: String) -> [String] {
        let store = ContextStore(environment: ProcessInfo.processInfo.environment)
        return ((try? store.load())?.contexts.keys).map { $0.sorted() } ?? []
    }
}
