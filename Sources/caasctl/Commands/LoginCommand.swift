import ArgumentParser
import CaaSClient
import Foundation

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a server and token, and save them as a context.",
        discussion: """
            The token is checked with a call to the server before anything is
            saved. The context is written to $XDG_CONFIG_HOME/caas/config.json
            (mode 0600, written atomically) and becomes the current one.

            Example:
              caasctl login --server https://caas.example.com:8443 \\
                --token caas_… --ca-file ca.pem --context prod
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("name"), help: ArgumentHelp("Name of the context to save (default: the --context value, else the server's host).", valueName: "name"))
    var name: String?

    func run() async throws {
        let environment = Session.environment
        guard let server = global.server ?? environment["CAAS_SERVER"] else {
            throw ValidationError("login needs --server URL")
        }
        guard let token = global.token ?? environment["CAAS_TOKEN"] else {
            throw ValidationError("login needs --token T")
        }
        let caFile = (global.caFile ?? environment["CAAS_CA_FILE"]).map(Self.absolute)
        let client = try CaaSClient(CaaSClientConfiguration(server: server, token: token, caFile: caFile))
        let console = Console(noColor: global.noColor)
        let identity: String
        do {
            let tenant = try await client.currentTenant()
            identity = "tenant \(tenant.name) (\(tenant.id))"
        } catch CaaSClientError.problem(let problem) where problem.status == 403 || problem.status == 404 {
            // The system administrator has no tenant; it lists tenants instead.
            _ = try await client.page(ResourceKind.tenant.collection, limit: 1)
            identity = "the system administrator"
        }
        let contextName = name ?? global.context ?? Self.hostName(server)
        let store = ContextStore(environment: environment)
        try store.upsert(contextName, Context(server: server, token: token, caFile: caFile))
        console.line("Logged in to \(server) as \(identity); context \(contextName) saved in \(store.path) and in use.")
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// `https://caas.example.com:8443` → `caas.example.com`.
    static func hostName(_ server: String) -> String {
        var rest = Substring(server)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        let host = rest.prefix { $0 != "/" && $0 != "?" }
        let withoutPort = host.hasPrefix("[") ? host : (host.split(separator: ":").first ?? host)
        return withoutPort.isEmpty ? "default" : String(withoutPort)
    }
}

struct ContextCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "context",
        abstract: "List, choose and remove saved contexts.",
        discussion: """
            Example:
              caasctl context ls
              caasctl context use staging
            """,
        subcommands: [List.self, Use.self, Remove.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List the saved contexts (the current one is marked *).",
            discussion: "Example:\n  caasctl context ls -o json",
            aliases: ["list"])

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let console = Console(noColor: global.noColor)
            let store = ContextStore(environment: Session.environment)
            let configuration = try store.load()
            let names = configuration.contexts.keys.sorted()
            if global.quiet {
                names.forEach { console.line($0) }
                return
            }
            switch global.output {
            case .json, .yaml:
                // Tokens stay in the file: they are never printed.
                let value = JSON.object([
                    "current_context": configuration.currentContext.map(JSON.string) ?? .null,
                    "contexts": .array(names.map { name in
                        let context = configuration.contexts[name]!
                        return ["name": .string(name), "server": .string(context.server),
                                "ca_file": context.caFile.map(JSON.string) ?? .null, "has_token": .bool(context.token != nil)]
                    }),
                ])
                console.write(global.output == .json ? value.prettyPrinted() + "\n" : YAMLWriter.write(value))
            case .table, .wide:
                let table = Table(headers: ["CURRENT", "NAME", "SERVER", "CA FILE"], rows: names.map { name in
                    let context = configuration.contexts[name]!
                    return [name == configuration.currentContext ? "*" : "", name, context.server, context.caFile ?? ""]
                })
                if names.isEmpty {
                    console.error("no contexts: run caasctl login")
                } else {
                    console.write(table.render(style: console.style))
                }
            }
        }
    }

    struct Use: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a context the current one.", discussion: "Example:\n  caasctl context use prod")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The context's name.", completion: .custom(GlobalOptions.contextNames)) var name: String

        func run() async throws {
            try ContextStore(environment: Session.environment).use(name)
            Console(noColor: global.noColor).line("Now using context \(name).")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Remove a context (and the token saved with it).",
            discussion: "Example:\n  caasctl context rm old-lab", aliases: ["remove"])

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The context's name.", completion: .custom(GlobalOptions.contextNames)) var name: String

        func run() async throws {
            try ContextStore(environment: Session.environment).remove(name)
            Console(noColor: global.noColor).line("Removed context \(name).")
        }
    }
}
