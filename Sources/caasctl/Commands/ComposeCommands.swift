import ArgumentParser
import CaaSClient
import Foundation

/// `-f`, `-p`, `--cluster`: which compose file, which application, which cluster.
struct ProjectOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp("The compose file (default: compose.yaml, compose.yml, docker-compose.yml or docker-compose.yaml here).", valueName: "file"),
            completion: .file(extensions: ["yml", "yaml"]))
    var file: String?

    @Option(name: [.short, .customLong("project-name")], help: ArgumentHelp("The application's name (default: the compose file's directory name, made a valid name).", valueName: "name"))
    var projectName: String?

    @Option(help: ArgumentHelp("The cluster (name or id); needed when the tenant has several (also CAAS_CLUSTER).", valueName: "cluster"))
    var cluster: String?

    /// The options as a plain value (parsed options cannot be built by hand).
    var project: ComposeProject { ComposeProject(file: file, projectName: projectName, cluster: cluster) }
}

/// Which compose file, application and cluster a command works on, and how they are found.
struct ComposeProject: Sendable {
    var file: String?
    var projectName: String?
    var cluster: String?

    init(file: String? = nil, projectName: String? = nil, cluster: String? = nil) {
        self.file = file
        self.projectName = projectName
        self.cluster = cluster
    }

    static let defaultFiles = ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"]

    /// The compose file's path; the first of the default names that exists when `-f` is absent.
    func composePath(required: Bool = true) throws -> String? {
        if let file { return file }
        let directory = FileManager.default.currentDirectoryPath
        if let found = Self.defaultFiles.first(where: { FileManager.default.fileExists(atPath: directory + "/" + $0) }) {
            return found
        }
        if required {
            throw ValidationError("no compose file here (looked for \(Self.defaultFiles.joined(separator: ", "))): pass -f FILE")
        }
        return nil
    }

    /// The application's name: `-p`, else `COMPOSE_PROJECT_NAME`, else the compose file's
    /// directory, normalised to the name rule.
    func applicationName(composePath: String?) -> String {
        if let projectName { return projectName }
        if let name = Session.environment["COMPOSE_PROJECT_NAME"], !name.isEmpty { return NameRule.normalise(name) }
        let directory: String
        if let composePath, composePath != "-" {
            let absolute = composePath.hasPrefix("/") ? composePath : FileManager.default.currentDirectoryPath + "/" + composePath
            directory = URL(fileURLWithPath: absolute).standardizedFileURL.deletingLastPathComponent().lastPathComponent
        } else {
            directory = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).lastPathComponent
        }
        return NameRule.normalise(directory)
    }

    var clusterName: String? { cluster ?? Session.environment["CAAS_CLUSTER"].flatMap { $0.isEmpty ? nil : $0 } }

    /// The cluster's id: `--cluster`, or the tenant's only cluster.
    func clusterID(_ session: Session) async throws -> String {
        if let clusterName { return try await session.client.resolveID(.cluster, clusterName) }
        let clusters = try await session.client.list(ResourceKind.cluster.collection, limit: 2).map(Cluster.init)
        switch clusters.count {
        case 0: throw CommandFailure("the tenant has no cluster yet: caasctl cluster create NAME", status: .notFound)
        case 1: return clusters[0].id
        default: throw CommandFailure("the tenant has several clusters: choose one with --cluster (see caasctl cluster ls)", status: .usage)
        }
    }

    /// The application named `name` (in `--cluster` when given), or `nil`.
    func findApplication(_ session: Session, name: String) async throws -> Application? {
        var scope: [(String, String)] = []
        if let clusterName { scope.append(("cluster_id", try await session.client.resolveID(.cluster, clusterName))) }
        do {
            return Application(try await session.client.resolve(.application, name, scope: scope))
        } catch CaaSClientError.notFound {
            return nil
        }
    }

    func requireApplication(_ session: Session, composeRequired: Bool = false) async throws -> Application {
        let name = applicationName(composePath: try composePath(required: composeRequired))
        guard let app = try await findApplication(session, name: name) else {
            throw CaaSClientError.notFound(kind: "application", name: name)
        }
        return app
    }
}

/// What `validate` and `template validate` share.
struct ValidateInput: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp("The compose file (- for standard input).", valueName: "file"),
            completion: .file(extensions: ["yml", "yaml"]))
    var file: String?

    @Option(name: .short, help: ArgumentHelp("A deploy-time variable VAR=value (or VAR from the environment); repeatable.", valueName: "var=value"))
    var env: [String] = []

    func validate(_ global: GlobalOptions) async throws {
        let path = try ComposeProject(file: file).composePath()!
        let compose = try InputFile.read(path)
        let variables = try KeyValue.variables(env, environment: Session.environment)
        let session = try Session.make(global)
        let result = try await session.client.validate(compose: compose, variables: variables)
        let shownName = path == "-" ? "stdin" : path
        let console = session.console
        if global.output == .json || global.output == .yaml {
            let value = JSON.object([
                "valid": .bool(result.valid),
                "errors": .array(result.errors.map(Self.json)),
                "warnings": .array(result.warnings.map(Self.json)),
                "spec": result.spec ?? .null,
            ])
            console.write(global.output == .json ? value.prettyPrinted() + "\n" : YAMLWriter.write(value))
        } else {
            for warning in result.warnings {
                console.error(ErrorPresenter.position(warning, file: shownName).replacingOccurrences(of: ": \(warning.detail)", with: ": " + console.errorStyle.paint("warning:", .yellow) + " \(warning.detail)"))
            }
            for error in result.errors {
                console.error(ErrorPresenter.position(error, file: shownName))
            }
            if result.valid && !global.quiet {
                let services = Self.serviceNames(result.spec)
                console.line("\(shownName) is valid" + (services.isEmpty ? "" : " (\(services.count) service\(services.count == 1 ? "" : "s"): \(services.joined(separator: ", ")))"))
            }
        }
        if !result.valid {
            throw CommandFailure(global.output == .table || global.output == .wide
                                 ? "\(shownName): \(result.errors.count) error\(result.errors.count == 1 ? "" : "s")" : nil)
        }
    }

    static func json(_ error: ProblemDetails.FieldError) -> JSON {
        .object([
            "path": error.path.map(JSON.string) ?? .null, "pointer": error.pointer.map(JSON.string) ?? .null,
            "line": error.line.map { .integer(Int64($0)) } ?? .null, "column": error.column.map { .integer(Int64($0)) } ?? .null,
            "detail": .string(error.detail),
        ])
    }

    /// The services of a parsed spec, whether the server sends them as an object or a list.
    static func serviceNames(_ spec: JSON?) -> [String] {
        guard let services = spec?["services"] else { return [] }
        if let object = services.objectValue { return object.keys.sorted() }
        return (services.arrayValue ?? []).compactMap { $0["name"]?.stringValue }.sorted()
    }
}

struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a compose file on the server; errors are printed as file:line:column path: problem.",
        discussion: """
            The server parses and validates (caasctl holds no rules of its own).
            Exit code 0 when the file is valid, 1 when it is not.

            Example:
              caasctl validate -f compose.yml -e TAG=4
              compose.yml:12:7 services.web.ports[1]: invalid port
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var input: ValidateInput

    func run() async throws { try await input.validate(global) }
}

struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or update the application of a compose file and follow the rollout until it ends.",
        discussion: """
            The application is named after the compose file's directory (or -p).
            On a terminal each service's progress is redrawn in place; elsewhere a
            line is printed per change. When the scheduler cannot place containers
            of a service, its explanation is printed as soon as it comes, and again
            only when it changes. Exit code 0 when the rollout succeeds, 1 with the
            reason when it fails or is rolled back (or when --timeout passes first;
            the rollout goes on on the server).

            Example:
              caasctl up -f wordpress-mysql.yml -p blog --cluster prod -e TAG=4
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var project: ProjectOptions

    @Option(name: .short, help: ArgumentHelp("A deploy-time variable VAR=value (or VAR from the environment); repeatable.", valueName: "var=value"))
    var env: [String] = []

    @Flag(name: .shortAndLong, help: "Return once the server accepted the change, without following the rollout.")
    var detach = false

    @Option(help: ArgumentHelp("Stop following after this many seconds.", valueName: "seconds"))
    var timeout: Int = 900

    func run() async throws {
        let path = try project.project.composePath()!
        let compose = try InputFile.read(path)
        let variables = try KeyValue.variables(env, environment: Session.environment)
        let name = project.project.applicationName(composePath: path)
        let session = try Session.make(global)
        let client = session.client
        // Events from here on are this invocation's.
        let startAfter = try await session.latestEventID()

        let accepted: Accepted
        do {
            if let existing = try await project.project.findApplication(session, name: name) {
                let body: JSON = ["compose": .string(compose), "variables": .object(variables.mapValues(JSON.string))]
                accepted = try await client.redeployApplication(existing.id, body: body, ifMatch: existing.etag)
                if accepted.deployment == nil {
                    session.say("Application \(name) (\(existing.id)) is up to date (generation \(accepted.application.generation)).")
                } else {
                    session.say("Updating application \(name) (\(existing.id)) to generation \(accepted.application.generation).")
                }
            } else {
                let clusterID = try await project.project.clusterID(session)
                accepted = try await client.createApplication(name: name, clusterID: clusterID, compose: compose, variables: variables)
                session.say("Creating application \(name) (\(accepted.application.id)) in cluster \(project.project.clusterName ?? clusterID).")
            }
        } catch let error as CaaSClientError {
            // Compose errors point into the file the user gave.
            session.console.error(ErrorPresenter(style: session.console.errorStyle, composeFile: path).render(error))
            throw CommandFailure(nil, status: CaaSExitStatus.of(error))
        }
        let app = accepted.application
        if detach {
            if global.quiet { session.console.line(app.id) } else { session.show(app, ResourceTables.applications) }
            return
        }
        var watcher = RolloutWatcher(session: session, applicationID: app.id, deploymentID: accepted.deployment?.id,
                                     after: startAfter, timeout: .seconds(timeout))
        switch try await watcher.run() {
        case .succeeded:
            session.say(session.console.style.paint("✔", .green) + " \(name) is up (generation \(app.generation)).")
            if global.quiet { session.console.line(app.id) }
        case .failed(let reason):
            throw CommandFailure("\(name): \(reason)")
        case .timedOut:
            throw CommandFailure("\(name): still rolling out after \(timeout)s; the rollout goes on (caasctl app inspect \(name))")
        }
    }
}

struct Down: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete the application of a compose project: its containers are stopped, then removed.",
        discussion: """
            Its named volumes stay on the nodes unless --volumes (external volumes always stay).

            Example:
              caasctl down -p blog
              caasctl down -p blog --volumes
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var project: ProjectOptions

    @Flag(name: [.customShort("v"), .long], help: "Also remove the application's named volumes from the nodes.")
    var volumes = false

    @Flag(name: .shortAndLong, help: "Return once the server accepted the deletion.")
    var detach = false

    @Option(help: ArgumentHelp("Stop waiting after this many seconds.", valueName: "seconds"))
    var timeout: Int = 300

    func run() async throws {
        let session = try Session.make(global)
        let app = try await project.project.requireApplication(session)
        var after = try await session.latestEventID()
        _ = try await session.client.deleteApplication(app.id, volumes: volumes)
        session.say("Deleting application \(app.name) (\(app.id))\(volumes ? " and its volumes" : "")…")
        if detach { return }
        let deadline = ContinuousClock.now.advanced(by: .seconds(timeout))
        while ContinuousClock.now < deadline {
            do {
                _ = try await session.client.get(ResourceKind.application.path(app.id))
            } catch CaaSClientError.problem(let problem) where problem.status == 404 {
                session.say("Removed application \(app.name).")
                if global.quiet { session.console.line(app.id) }
                return
            }
            after = try await session.client.events(after: after, wait: 5).lastEventID
        }
        throw CommandFailure("\(app.name) is still being deleted after \(timeout)s (caasctl app inspect \(app.id))")
    }
}

struct Scale: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set the number of containers of services of a compose project.",
        discussion: """
            Example:
              caasctl scale web=3 db=1 -p blog --wait
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var project: ProjectOptions

    @Argument(help: ArgumentHelp("SERVICE=REPLICAS pairs.", valueName: "service=replicas"))
    var targets: [String]

    @Flag(help: "Follow until every service runs its new count.")
    var wait = false

    @Option(help: ArgumentHelp("Stop following after this many seconds.", valueName: "seconds"))
    var timeout: Int = 600

    func validate() throws {
        guard !targets.isEmpty else { throw ValidationError("name at least one SERVICE=REPLICAS") }
        for (service, count) in try KeyValue.parse(targets, what: "scale target") {
            guard let number = Int(count), number >= 0 else { throw ValidationError("\(service)=\(count): replicas must be a whole number ≥ 0") }
        }
    }

    func run() async throws {
        let session = try Session.make(global)
        let app = try await project.project.requireApplication(session)
        let services = try await session.client.services(applicationID: app.id)
        let wanted = try KeyValue.parse(targets, what: "scale target")
        let after = try await session.latestEventID()
        for name in wanted.keys.sorted() {
            guard let service = services.first(where: { $0.name == name }) else {
                throw CommandFailure("\(app.name) has no service \(name) (it has: \(services.map(\.name).sorted().joined(separator: ", ")))", status: .notFound)
            }
            let scaled = try await session.client.scale(serviceID: service.id, replicas: Int(wanted[name]!)!)
            session.say("Scaled \(name) to \(scaled.desiredReplicas == 0 && wanted[name] != "0" ? wanted[name]! : String(scaled.desiredReplicas)).")
        }
        guard wait else { return }
        var watcher = RolloutWatcher(session: session, applicationID: app.id, deploymentID: nil, after: after, timeout: .seconds(timeout))
        switch try await watcher.run() {
        case .succeeded: session.say("Every service runs its count.")
        case .failed(let reason): throw CommandFailure("\(app.name): \(reason)")
        case .timedOut: throw CommandFailure("\(app.name): not settled after \(timeout)s")
        }
    }
}
