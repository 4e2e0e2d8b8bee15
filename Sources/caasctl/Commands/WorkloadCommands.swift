import ArgumentParser
import CaaSClient
import Foundation

/// `--app` and `--cluster`: which application a service name belongs to.
struct AppScope: ParsableArguments {
    @Option(help: ArgumentHelp("The application (name or id); default: the compose project of this directory.", valueName: "app"))
    var app: String?

    @Option(help: ArgumentHelp("The application's cluster (when its name is not unique).", valueName: "cluster"))
    var cluster: String?

    func application(_ session: Session, required: Bool) async throws -> Application? {
        if let app { return try await Applications.resolve(session, app, cluster: cluster) }
        guard required else { return nil }
        return try await ComposeProject(cluster: cluster).requireApplication(session)
    }

    /// A service by id, or by name within the application.
    func service(_ session: Session, _ nameOrID: String) async throws -> Service {
        if ResourceKind.service.isID(nameOrID) { return Service(try await session.client.resolve(.service, nameOrID)) }
        let application = try await application(session, required: true)!
        return Service(try await session.client.resolve(.service, nameOrID, listPath: ResourceKind.application.path(application.id) + "/services"))
    }
}

struct ServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "List, show and scale the services of applications.",
        discussion: """
            Example:
              caasctl service ls --app blog
              caasctl service scale wordpress 3 --app blog
            """,
        subcommands: [List.self, Inspect.self, ScaleService.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List services (of --app, of the compose project here, or of every application).",
            discussion: "Example:\n  caasctl service ls --app blog -o wide", aliases: ["list"])

        @OptionGroup var global: GlobalOptions
        @OptionGroup var scope: AppScope

        func run() async throws {
            let session = try Session.make(global)
            let applications: [Application]
            if let application = try await scope.application(session, required: scope.app != nil || Ps.projectHere) {
                applications = [application]
            } else {
                applications = try await session.client.list(ResourceKind.application.collection).map(Application.init)
            }
            var services: [Service] = []
            for application in applications { services += try await session.client.services(applicationID: application.id) }
            session.show(services, ResourceTables.services)
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a service in full.", discussion: "Example:\n  caasctl service inspect wordpress --app blog")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var scope: AppScope
        @Argument(help: "The service's name or id.") var service: String

        func run() async throws {
            let session = try Session.make(global)
            session.inspect(try await scope.service(session, service).raw)
        }
    }

    struct ScaleService: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scale", abstract: "Set the number of a service's containers.",
            discussion: "Example:\n  caasctl service scale wordpress 3 --app blog")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var scope: AppScope
        @Argument(help: "The service's name or id.") var service: String
        @Argument(help: "The number of containers.") var replicas: Int

        func validate() throws {
            guard replicas >= 0 else { throw ValidationError("replicas must be ≥ 0") }
        }

        func run() async throws {
            let session = try Session.make(global)
            let target = try await scope.service(session, service)
            let scaled = try await session.client.scale(serviceID: target.id, replicas: replicas)
            if global.output == .table && !global.quiet {
                session.say("Scaled \(target.name) to \(replicas).")
            } else {
                session.show(scaled, ResourceTables.services)
            }
        }
    }
}

struct Ps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List containers (of the compose project here, or --app, or everywhere with --all-apps).",
        discussion: """
            Containers whose observed state is `removed` show only with -a.

            Example:
              caasctl ps --app blog -o wide
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var scope: AppScope
    @Option(help: "Only the containers of this service (name or id).") var service: String?
    @Option(help: "Only the containers on this node (id).") var node: String?
    @Flag(name: .shortAndLong, help: "Show removed containers too.") var all = false
    @Flag(name: .customLong("all-apps"), help: "Containers of every application.") var allApps = false

    func run() async throws {
        let session = try Session.make(global)
        var applicationID: String?
        var serviceID: String?
        if let service {
            serviceID = try await scope.service(session, service).id
        } else if !allApps, let application = try await scope.application(session, required: scope.app != nil || Self.projectHere) {
            applicationID = application.id
        }
        var containers = try await session.client.containers(applicationID: applicationID, serviceID: serviceID, nodeID: node)
        if !all { containers = containers.filter { $0.observedState != "removed" } }
        session.show(containers, ResourceTables.containers)
    }

    /// Whether a compose file here names a project to show by default.
    static var projectHere: Bool {
        (try? ComposeProject().composePath(required: false)) != nil
    }
}

struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a container's log, or the logs of every container of a service.",
        discussion: """
            Lines of a service's containers are prefixed with the container's slot.

            Example:
              caasctl logs wordpress --app blog -f --tail 100
              caasctl logs ctr_0123456789abcdefghjk
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var scope: AppScope
    @Argument(help: "A container id, or a service's name or id.") var target: String
    @Flag(name: .shortAndLong, help: "Keep printing new lines as they come.") var follow = false
    @Option(help: "Start with the last N lines (0 to 999999).") var tail: Int?

    func validate() throws {
        if let tail, !(0...999_999).contains(tail) { throw ValidationError("--tail must be between 0 and 999999") }
    }

    func run() async throws {
        let session = try Session.make(global)
        let client = session.client
        var containers: [(label: String?, id: String)] = []
        if ResourceKind.container.isID(target) {
            containers = [(nil, target)]
        } else {
            let service = try await scope.service(session, target)
            let running = try await client.containers(serviceID: service.id).filter { $0.observedState != "removed" }
            guard !running.isEmpty else { throw CommandFailure("service \(service.name) has no containers", status: .notFound) }
            containers = running.map { ("\(service.name).\($0.slot.map(String.init) ?? String($0.id.suffix(6)))", $0.id) }
        }
        let console = session.console
        let follow = follow, tail = tail
        try await withThrowingTaskGroup(of: Void.self) { group in
            for container in containers {
                group.addTask {
                    var buffer: [UInt8] = []
                    let prefix = container.label.map { console.style.paint($0 + " | ", .blue) } ?? ""
                    for try await chunk in try await client.logs(containerID: container.id, follow: follow, tail: tail) {
                        buffer += chunk
                        // Whole lines only, so containers' lines never interleave mid-line.
                        while let newline = buffer.firstIndex(of: 10) {
                            console.write(prefix + String(decoding: buffer[...newline], as: UTF8.self))
                            buffer.removeSubrange(...newline)
                        }
                    }
                    if !buffer.isEmpty { console.write(prefix + String(decoding: buffer, as: UTF8.self) + "\n") }
                }
            }
            try await group.waitForAll()
        }
    }
}

struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the tenant's recent events; with -w keep printing new ones as they happen.",
        discussion: """
            Example:
              caasctl events -w --type container.failed
              caasctl events --after 1200 -o json
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(name: [.short, .customLong("watch")], help: "Keep streaming new events (server-sent events) until interrupted.") var watch = false
    @Option(help: "Start after this event id (default: the last --limit events).") var after: Int64?
    @Option(help: "How many recent events to show first.") var limit: Int = 20
    @Option(help: "Only events of this type.") var type: String?
    @Option(help: "Only events of this object (id).") var object: String?

    func run() async throws {
        let session = try Session.make(global)
        let client = session.client
        var cursor: Int64
        if let after {
            cursor = after
        } else {
            cursor = max(0, try await session.latestEventID() - Int64(limit))
        }
        var shown: [Event] = []
        while true {
            let batch = try await client.events(after: cursor, limit: 500, type: type, objectID: object)
            shown += batch.events
            if batch.events.isEmpty || batch.lastEventID == cursor { break }
            cursor = batch.lastEventID
            if after == nil && shown.count >= limit { break }
        }
        if after == nil { shown = Array(shown.suffix(limit)) }
        guard watch else { return session.show(shown, ResourceTables.events) }
        let printer = EventPrinter(session: session)
        printer.header()
        shown.forEach(printer.print)
        for try await event in try await client.eventStream(after: cursor, type: type, objectID: object) {
            printer.print(event)
        }
    }
}

/// Events one per line: JSON lines with `-o json`, ids with `-q`, else aligned-enough columns.
struct EventPrinter {
    let session: Session

    func header() {
        guard session.options.output == .table || session.options.output == .wide, !session.options.quiet else { return }
        session.console.line(session.console.style.bold(columns("TIME", "TYPE", "OBJECT", "SUMMARY")))
    }

    func print(_ event: Event) {
        let console = session.console
        if session.options.quiet { return console.line(String(event.sequence)) }
        switch session.options.output {
        case .json: console.line(event.raw.compact())
        case .yaml: console.write("---\n" + YAMLWriter.write(event.raw))
        case .table, .wide:
            let time = event.time.map(Self.clock) ?? ""
            let type = console.style.paint(event.type, Self.colour(event.type))
            console.line(columns(time, type, event.objectID, event.summary, typeWidth: 28 + (type.count - event.type.count)))
        }
    }

    private func columns(_ time: String, _ type: String, _ object: String, _ summary: String, typeWidth: Int = 28) -> String {
        func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(1, width - text.count)) }
        return pad(time, 10) + pad(type, typeWidth) + pad(object, 26) + summary
    }

    /// Events carry a time of day; a stream is read as it happens.
    static func clock(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        return formatter.string(from: date)
    }

    static func colour(_ type: String) -> TerminalStyle.Colour {
        if ["failed", "lost", "down", "rolled_back", "unhealthy", "deleted"].contains(where: type.contains) { return .red }
        if ["running", "succeeded", "ready", "created", "healthy"].contains(where: type.contains) { return .green }
        return .grey
    }
}
