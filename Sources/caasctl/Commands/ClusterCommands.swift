import ArgumentParser
import CaaSClient

struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Manage clusters: the groups of nodes an agent drives.",
        discussion: """
            Example:
              caasctl cluster create prod --network 10.42.0.0/16 --label env=prod
              caasctl cluster create prod --network 172.18.0.0/16 --networking node_subnets
              caasctl cluster ls
            """,
        subcommands: [Create.self, List.self, Inspect.self, Remove.self, JoinToken.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a cluster; prints its agent's join token (shown once).",
            discussion: "Example:\n  caasctl cluster create prod --network 10.42.0.0/16 --label env=prod")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The cluster's name (lower-case letters, digits and '-').") var name: String
        @Option(help: "A description.") var description: String?
        @Option(name: .customLong("network"), help: ArgumentHelp("The cluster's container network (IPv4 CIDR).", valueName: "cidr")) var network: String?
        @Option(name: .customLong("label"), help: ArgumentHelp("A label KEY=VALUE (repeatable).", valueName: "key=value")) var labels: [String] = []
        @Option(help: ArgumentHelp("""
            How containers are networked, fixed once the cluster exists: 'host' (the default: every container on its \
            node's host network, serving on the PORT it is given) or 'node_subnets' (each node's engine gets a caas \
            network for the node's subnet and each container its own address from it; route the node subnets \
            between the nodes).
            """, valueName: "mode")) var networking: String?

        func run() async throws {
            let session = try Session.make(global)
            var body: [String: JSON] = ["name": .string(name)]
            if let description { body["description"] = .string(description) }
            if let network { body["network_cidr"] = .string(network) }
            if let networking { body["networking"] = .string(networking) }
            let labels = try KeyValue.parse(labels, what: "label")
            if !labels.isEmpty { body["labels"] = .object(labels.mapValues(JSON.string)) }
            let cluster = Cluster(try await session.client.send(.post, ResourceKind.cluster.collection, body: .object(body)).json())
            session.show(cluster, ResourceTables.clusters)
            if let token = cluster.joinToken, global.output == .table || global.output == .wide, !global.quiet {
                session.say("\nJoin token for the cluster's agent (shown once): \(token)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List clusters.", discussion: "Example:\n  caasctl cluster ls -o wide", aliases: ["list"])

        @OptionGroup var global: GlobalOptions
        @Option(name: .customLong("label"), help: ArgumentHelp("Only clusters with this label KEY=VALUE.", valueName: "key=value")) var label: String?

        func run() async throws {
            let session = try Session.make(global)
            var query: [(String, String)] = []
            if let label { query.append(("label", label)) }
            session.show(try await session.client.list(ResourceKind.cluster.collection, query: query).map(Cluster.init), ResourceTables.clusters)
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a cluster in full.", discussion: "Example:\n  caasctl cluster inspect prod -o json")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The cluster's name or id.") var cluster: String

        func run() async throws {
            let session = try Session.make(global)
            session.inspect(try await session.client.resolve(.cluster, cluster))
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Delete a cluster.",
            discussion: """
                A cluster with applications is not deleted (the server names them)
                unless --force.

                Example:
                  caasctl cluster rm lab --force
                """,
            aliases: ["remove"])

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The cluster's name or id.") var cluster: String
        @Flag(help: "Delete the cluster's applications too.") var force = false

        func run() async throws {
            let session = try Session.make(global)
            let id = try await session.client.resolveID(.cluster, cluster)
            _ = try await session.client.send(.delete, ResourceKind.cluster.path(id), query: force ? [("force", "true")] : [])
            session.say("Deleted cluster \(cluster).")
            if global.quiet { session.console.line(id) }
        }
    }

    struct JoinToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "join-token",
            abstract: "Issue a new join token for a cluster's agent (the old one stops working).",
            discussion: """
                Join tokens are stored as digests and shown once, so this rotates the
                token and prints the new one.

                Example:
                  caasctl cluster join-token prod -q
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The cluster's name or id.") var cluster: String

        func run() async throws {
            let session = try Session.make(global)
            let id = try await session.client.resolveID(.cluster, cluster)
            let answer = try await session.client.send(.post, ResourceKind.cluster.path(id) + "/join-token").json()
            let token = answer["join_token"]?.stringValue ?? answer["token"]?.stringValue ?? ""
            switch global.output {
            case .json: session.console.line(answer.prettyPrinted())
            case .yaml: session.console.write(YAMLWriter.write(answer))
            case .table, .wide:
                if global.quiet { session.console.line(token) } else {
                    session.console.line("Join token for cluster \(cluster) (shown once): \(token)")
                }
            }
        }
    }
}

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "List and control the nodes of clusters.",
        discussion: """
            Example:
              caasctl node ls --cluster prod
              caasctl node drain node-3 --cluster prod
            """,
        subcommands: [List.self, Inspect.self, Action<Drain>.self, Action<Pause>.self, Action<Activate>.self, Remove.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List nodes.", discussion: "Example:\n  caasctl node ls --cluster prod -o wide", aliases: ["list"])

        @OptionGroup var global: GlobalOptions
        @Option(help: "Only the nodes of this cluster (name or id).") var cluster: String?
        @Option(help: "Only nodes with this status (ready, down, draining, paused).") var status: String?
        @Option(help: ArgumentHelp("Only nodes with this label.", valueName: "key=value")) var label: String?

        func run() async throws {
            let session = try Session.make(global)
            var query: [(String, String)] = []
            if let cluster { query.append(("cluster_id", try await session.client.resolveID(.cluster, cluster))) }
            if let status { query.append(("status", status)) }
            if let label { query.append(("label", label)) }
            session.show(try await session.client.list(ResourceKind.node.collection, query: query).map(Node.init), ResourceTables.nodes)
        }
    }

    /// `--cluster` narrows a node name to one cluster (node names are unique per cluster).
    static func resolve(_ session: Session, _ node: String, cluster: String?) async throws -> String {
        var scope: [(String, String)] = []
        if let cluster { scope.append(("cluster_id", try await session.client.resolveID(.cluster, cluster))) }
        return try await session.client.resolveID(.node, node, scope: scope)
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a node in full.", discussion: "Example:\n  caasctl node inspect node-1 --cluster prod")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The node's name or id.") var node: String
        @Option(help: "The node's cluster (when the name is not unique).") var cluster: String?

        func run() async throws {
            let session = try Session.make(global)
            let id = try await NodeCommand.resolve(session, node, cluster: cluster)
            session.inspect(try await session.client.get(ResourceKind.node.path(id)))
        }
    }

    protocol NodeAction {
        static var name: String { get }
        static var abstract: String { get }
        static var done: String { get }
    }
    enum Drain: NodeAction {
        static let name = "drain"
        static let abstract = "Move every container off a node; nothing new is placed on it."
        static let done = "draining"
    }
    enum Pause: NodeAction {
        static let name = "pause"
        static let abstract = "Keep a node's containers but place nothing new on it."
        static let done = "paused"
    }
    enum Activate: NodeAction {
        static let name = "activate"
        static let abstract = "Let a drained or paused node take containers again."
        static let done = "active"
    }

    struct Action<Kind: NodeAction>: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: Kind.name, abstract: Kind.abstract,
                                 discussion: "Example:\n  caasctl node \(Kind.name) node-1 --cluster prod")
        }

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The node's name or id.") var node: String
        @Option(help: "The node's cluster (when the name is not unique).") var cluster: String?

        func run() async throws {
            let session = try Session.make(global)
            let id = try await NodeCommand.resolve(session, node, cluster: cluster)
            let updated = Node(try await session.client.send(.post, ResourceKind.node.path(id) + "/" + Kind.name).json())
            if global.output == .table && !global.quiet {
                session.say("Node \(node) is \(updated.status.isEmpty ? Kind.done : updated.status).")
            } else {
                session.show(updated, ResourceTables.nodes)
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Remove a node (its subnet is freed).",
            discussion: "Example:\n  caasctl node rm node-3 --cluster prod", aliases: ["remove"])

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The node's name or id.") var node: String
        @Option(help: "The node's cluster (when the name is not unique).") var cluster: String?

        func run() async throws {
            let session = try Session.make(global)
            let id = try await NodeCommand.resolve(session, node, cluster: cluster)
            _ = try await session.client.send(.delete, ResourceKind.node.path(id))
            session.say("Removed node \(node).")
        }
    }
}
