import ArgumentParser
import CaaSClient
import Foundation

/// `--cluster` narrows an application name to one cluster (names are unique per cluster).
enum Applications {
    static func resolve(_ session: Session, _ app: String, cluster: String?) async throws -> Application {
        var scope: [(String, String)] = []
        if let cluster { scope.append(("cluster_id", try await session.client.resolveID(.cluster, cluster))) }
        return Application(try await session.client.resolve(.application, app, scope: scope))
    }

    /// Follows the rollout an accepted change started (unless `wait` is off) and maps its outcome.
    /// `rollback` is an explicit rollback: its deployment ending `rolled_back` is the success.
    static func follow(_ session: Session, _ accepted: Accepted, wait: Bool, after: Int64, timeout: Int, rollback: Bool = false) async throws {
        let app = accepted.application
        guard wait else { return session.show(app, ResourceTables.applications) }
        var watcher = RolloutWatcher(session: session, applicationID: app.id, deploymentID: accepted.deployment?.id,
                                     after: after, timeout: .seconds(timeout))
        if rollback { watcher.successes = ["rolled_back"] }
        switch try await watcher.run() {
        case .succeeded where rollback: session.say(session.console.style.paint("✔", .green) + " \(app.name) is rolled back.")
        case .succeeded: session.say(session.console.style.paint("✔", .green) + " \(app.name) generation \(app.generation) is rolled out.")
        case .failed(let reason): throw CommandFailure("\(app.name): \(reason)")
        case .timedOut: throw CommandFailure("\(app.name): still rolling out after \(timeout)s")
        }
    }
}

/// `--wait` and `--timeout` of the commands that start a rollout.
struct WaitOptions: ParsableArguments {
    @Flag(help: "Follow the rollout until it ends (exit 1 if it fails or is rolled back).")
    var wait = false

    @Option(help: ArgumentHelp("Stop following after this many seconds.", valueName: "seconds"))
    var timeout: Int = 900
}

struct AppCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "app",
        abstract: "Manage applications: compose files, template versions or images deployed in a cluster.",
        discussion: """
            Example:
              caasctl app create blog --cluster prod --template wordpress:2 -e TAG=4 --wait
              caasctl app ls
              caasctl app rollback blog
            """,
        subcommands: [Create.self, List.self, Inspect.self, Update.self, Rollback.self, Remove.self],
        aliases: ["application"])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an application from a compose file, a template version or an image.",
            discussion: """
                Exactly one source: -f FILE, --template NAME[:VERSION] or
                --image REPOSITORY[:TAG].

                Example:
                  caasctl app create tomcat --cluster prod --image tomcat:9 --replicas 3 --wait
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The application's name.") var name: String
        @Option(help: "The cluster (name or id).") var cluster: String?
        @Option(name: .shortAndLong, help: "A compose file (- for standard input).", completion: .file(extensions: ["yml", "yaml"])) var file: String?
        @Option(help: ArgumentHelp("A template and optional version (latest when absent).", valueName: "name[:version]")) var template: String?
        @Option(help: ArgumentHelp("An image of the catalog (name or id), for a one-service application.", valueName: "repository[:tag]")) var image: String?
        @Option(help: "Containers of the image's service.") var replicas: Int?
        @Option(name: .short, help: ArgumentHelp("A deploy-time variable VAR=value; repeatable.", valueName: "var=value")) var env: [String] = []
        @OptionGroup var waiting: WaitOptions

        func validate() throws {
            let sources = [file, template, image].compactMap { $0 }
            if sources.count != 1 { throw ValidationError("give exactly one of -f FILE, --template NAME[:VERSION], --image REPOSITORY[:TAG]") }
            if replicas != nil && image == nil { throw ValidationError("--replicas goes with --image") }
        }

        func run() async throws {
            let session = try Session.make(global)
            let client = session.client
            let variables = try KeyValue.variables(env, environment: Session.environment)
            let clusterID = try await ComposeProject(cluster: cluster).clusterID(session)
            let after = try await session.latestEventID()
            let accepted: Accepted
            do {
                if let file {
                    accepted = try await client.createApplication(name: name, clusterID: clusterID, compose: try InputFile.read(file), variables: variables)
                } else if let template {
                    let parts = template.split(separator: ":", maxSplits: 1).map(String.init)
                    let templateID = try await client.resolveID(.template, parts[0])
                    let version = parts.count > 1 ? Int(parts[1].hasPrefix("v") ? String(parts[1].dropFirst()) : parts[1]) : nil
                    if parts.count > 1 && version == nil { throw ValidationError("--template \(template): the version must be a number") }
                    accepted = try await client.createApplication(name: name, clusterID: clusterID, templateID: templateID,
                                                                  templateVersion: version, variables: variables)
                } else {
                    let imageID = try await Self.imageID(client, image!)
                    accepted = try await client.createApplication(name: name, clusterID: clusterID, imageID: imageID,
                                                                  replicas: replicas, variables: variables)
                }
            } catch let error as CaaSClientError {
                session.console.error(ErrorPresenter(style: session.console.errorStyle, composeFile: file).render(error))
                throw CommandFailure(nil, status: CaaSExitStatus.of(error))
            }
            try await Applications.follow(session, accepted, wait: waiting.wait, after: after, timeout: waiting.timeout)
        }

        /// `img_…`, or `repository[:tag]` looked up in the catalog (`latest` when no tag).
        static func imageID(_ client: CaaSClient, _ text: String) async throws -> String {
            if ResourceKind.image.isID(text) { return text }
            var repository = text
            var tag = "latest"
            if let colon = text.lastIndex(of: ":"), !text[colon...].contains("/") {
                repository = String(text[..<colon])
                tag = String(text[text.index(after: colon)...])
            }
            let images = try await client.list(ResourceKind.image.collection, query: [("repository", repository)]).map(Image.init)
            guard let image = images.first(where: { $0.repository == repository && $0.tag == tag }) else {
                throw CaaSClientError.notFound(kind: "image", name: "\(repository):\(tag)")
            }
            return image.id
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List applications.", discussion: "Example:\n  caasctl app ls --cluster prod -o wide", aliases: ["list"])

        @OptionGroup var global: GlobalOptions
        @Option(help: "Only the applications of this cluster (name or id).") var cluster: String?
        @Option(help: "Only applications with this status.") var status: String?

        func run() async throws {
            let session = try Session.make(global)
            var query: [(String, String)] = []
            if let cluster { query.append(("cluster_id", try await session.client.resolveID(.cluster, cluster))) }
            if let status { query.append(("status", status)) }
            session.show(try await session.client.list(ResourceKind.application.collection, query: query).map(Application.init),
                         ResourceTables.applications)
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show an application in full, or its deployments (--deployments).",
            discussion: "Example:\n  caasctl app inspect blog --deployments")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The application's name or id.") var app: String
        @Option(help: "The application's cluster (when the name is not unique).") var cluster: String?
        @Flag(help: "List the application's rollouts instead.") var deployments = false

        func run() async throws {
            let session = try Session.make(global)
            let application = try await Applications.resolve(session, app, cluster: cluster)
            if deployments {
                session.show(try await session.client.deployments(applicationID: application.id), ResourceTables.deployments)
            } else {
                session.inspect(application.raw)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change an application: a new compose file, template version or variables; a new generation rolls out.",
            discussion: "Example:\n  caasctl app update blog --template-version 3 -e TAG=5 --wait")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The application's name or id.") var app: String
        @Option(help: "The application's cluster (when the name is not unique).") var cluster: String?
        @Option(name: .shortAndLong, help: "A new compose file.", completion: .file(extensions: ["yml", "yaml"])) var file: String?
        @Option(name: .customLong("template-version"), help: "A new version of the application's template.") var templateVersion: Int?
        @Option(name: .short, help: ArgumentHelp("A variable VAR=value to set (with -f: the whole set); repeatable.", valueName: "var=value")) var env: [String] = []
        @Option(name: .customLong("unset"), help: ArgumentHelp("A variable to remove; repeatable.", valueName: "var")) var unset: [String] = []
        @OptionGroup var waiting: WaitOptions

        func validate() throws {
            if file == nil && templateVersion == nil && env.isEmpty && unset.isEmpty {
                throw ValidationError("nothing to change: give -f, --template-version, -e or --unset")
            }
        }

        func run() async throws {
            let session = try Session.make(global)
            let application = try await Applications.resolve(session, app, cluster: cluster)
            var variables = try KeyValue.variables(env, environment: Session.environment).mapValues(JSON.string)
            let after = try await session.latestEventID()
            let accepted: Accepted
            do {
                if let file {
                    // A new compose text redeploys; -e then gives the whole set of variables.
                    var body: [String: JSON] = ["compose": .string(try InputFile.read(file))]
                    if !variables.isEmpty { body["variables"] = .object(variables) }
                    accepted = try await session.client.redeployApplication(application.id, body: .object(body), ifMatch: application.etag)
                } else {
                    // A merge patch: -e sets, --unset removes, the rest stays.
                    var patch: [String: JSON] = [:]
                    if let templateVersion { patch["template_version"] = .integer(Int64(templateVersion)) }
                    for name in unset { variables[name] = .null }
                    if !variables.isEmpty { patch["variables"] = .object(variables) }
                    accepted = try await session.client.patchApplication(application.id, patch: .object(patch), ifMatch: application.etag)
                }
            } catch let error as CaaSClientError {
                session.console.error(ErrorPresenter(style: session.console.errorStyle, composeFile: file).render(error))
                throw CommandFailure(nil, status: CaaSExitStatus.of(error))
            }
            try await Applications.follow(session, accepted, wait: waiting.wait, after: after, timeout: waiting.timeout)
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Roll an application back to its previous generation, or to an earlier template version (--to-version).",
            discussion: """
                With --to-version the application's template version is set back (a
                new generation rolls out); otherwise the server's rollback of the last
                generation is asked for (POST /v1/apps/{id}/rollback): with --wait,
                caasctl follows the reopened deployment and exits 0 when it ends
                rolled back, 1 when it fails. Nothing to roll back to is a conflict
                (exit 4).

                Example:
                  caasctl app rollback blog --to-version 2 --wait
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The application's name or id.") var app: String
        @Option(help: "The application's cluster (when the name is not unique).") var cluster: String?
        @Option(name: .customLong("to-version"), help: "The template version to return to.") var version: Int?
        @OptionGroup var waiting: WaitOptions

        func run() async throws {
            let session = try Session.make(global)
            let application = try await Applications.resolve(session, app, cluster: cluster)
            let after = try await session.latestEventID()
            let accepted: Accepted
            if let version {
                accepted = try await session.client.patchApplication(application.id, patch: ["template_version": .integer(Int64(version))],
                                                                     ifMatch: application.etag)
            } else {
                do {
                    accepted = try await session.client.rollbackApplication(application.id)
                } catch CaaSClientError.problem(let problem) where problem.status == 404 && problem.detail?.hasPrefix("no route") == true {
                    throw CommandFailure("this server has no rollback route; for an application made from a template use --to-version N")
                }
            }
            try await Applications.follow(session, accepted, wait: waiting.wait, after: after, timeout: waiting.timeout,
                                          rollback: version == nil)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Delete an application (its containers are stopped first).",
            discussion: "Its named volumes stay on the nodes unless --volumes.\n\nExample:\n  caasctl app rm blog --volumes", aliases: ["remove"])

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The application's name or id.") var app: String
        @Option(help: "The application's cluster (when the name is not unique).") var cluster: String?
        @Flag(name: [.customShort("v"), .long], help: "Also remove the application's named volumes from the nodes.") var volumes = false

        func run() async throws {
            let session = try Session.make(global)
            let application = try await Applications.resolve(session, app, cluster: cluster)
            _ = try await session.client.deleteApplication(application.id, volumes: volumes)
            session.say("Deleting application \(application.name) (\(application.id)).")
            if global.quiet { session.console.line(application.id) }
        }
    }
}

