import ArgumentParser
import CaaSClient
import Foundation

struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant",
        abstract: "Manage tenants (system administrator); `tenant inspect` without a name shows your own.",
        discussion: """
            Example:
              caasctl tenant create acme --display-name "ACME Corp" --quota applications=20
              caasctl token create acme-admin --role admin --tenant acme
              caasctl tenant suspend acme --reason "unpaid invoice"
              caasctl tenant policy set acme --bind-prefix /srv/data
            """,
        subcommands: [Create.self, List.self, Inspect.self, Suspend.self, Resume.self, Remove.self, Policy.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a tenant.", discussion: "Example:\n  caasctl tenant create acme --quota clusters=2 --quota applications=20")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The tenant's name.") var name: String
        @Option(name: .customLong("display-name"), help: "A name for people.") var displayName: String?
        @Option(name: .customLong("quota"), help: ArgumentHelp("A quota KIND=N (clusters, nodes, applications, containers); repeatable.", valueName: "kind=n")) var quotas: [String] = []

        func run() async throws {
            let session = try Session.make(global)
            var body: [String: JSON] = ["name": .string(name)]
            if let displayName { body["display_name"] = .string(displayName) }
            let quotas = try QuotaCommand.parse(quotas)
            if !quotas.isEmpty { body["quotas"] = .object(quotas) }
            session.show(Tenant(try await session.client.send(.post, ResourceKind.tenant.collection, body: .object(body)).json()), ResourceTables.tenants)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List tenants.", discussion: "Example:\n  caasctl tenant ls --status suspended", aliases: ["list"])

        @OptionGroup var global: GlobalOptions
        @Option(help: "Only tenants with this status (active, suspended).") var status: String?

        func run() async throws {
            let session = try Session.make(global)
            let query = status.map { [("status", $0)] } ?? []
            session.show(try await session.client.list(ResourceKind.tenant.collection, query: query).map(Tenant.init), ResourceTables.tenants)
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a tenant (your own without a name).", discussion: "Example:\n  caasctl tenant inspect acme -o json")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The tenant's name or id.") var tenant: String?

        func run() async throws {
            let session = try Session.make(global)
            if let tenant {
                session.inspect(try await session.client.resolve(.tenant, tenant))
            } else {
                session.inspect(try await session.client.currentTenant().raw)
            }
        }
    }

    struct Suspend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Suspend a tenant: its tokens get 403 with the reason.", discussion: "Example:\n  caasctl tenant suspend acme --reason 'abuse report 42'")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The tenant's name or id.") var tenant: String
        @Option(help: "Why (shown to the tenant).") var reason: String

        func run() async throws {
            let session = try Session.make(global)
            let id = try await session.client.resolveID(.tenant, tenant)
            let answer = try await session.client.send(.post, ResourceKind.tenant.path(id) + "/suspend", body: ["reason": .string(reason)])
            session.show(Tenant(try answer.json()), ResourceTables.tenants)
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resume a suspended tenant.", discussion: "Example:\n  caasctl tenant resume acme")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The tenant's name or id.") var tenant: String

        func run() async throws {
            let session = try Session.make(global)
            let id = try await session.client.resolveID(.tenant, tenant)
            session.show(Tenant(try await session.client.send(.post, ResourceKind.tenant.path(id) + "/resume").json()), ResourceTables.tenants)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Delete a tenant (refused while it owns resources).",
            discussion: "Example:\n  caasctl tenant rm acme", aliases: ["remove"])

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The tenant's name or id.") var tenant: String

        func run() async throws {
            let session = try Session.make(global)
            let id = try await session.client.resolveID(.tenant, tenant)
            _ = try await session.client.send(.delete, ResourceKind.tenant.path(id))
            session.say("Deleted tenant \(tenant).")
        }
    }
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Manage API tokens (tenant admins; the system administrator creates a tenant's first with --tenant).",
        discussion: """
            A token's secret is printed once, when it is created.

            Example:
              caasctl token create ci --role operator --expires 90d
              caasctl token ls
              caasctl token revoke ci
            """,
        subcommands: [Create.self, List.self, Inspect.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token and print its secret (once).",
            discussion: "Example:\n  caasctl token create deploy-bot --role operator --expires 30d -q")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The token's name.") var name: String
        @Option(help: "admin, operator or viewer.") var role: String
        @Option(help: ArgumentHelp("Expiry: a duration (30d, 12h) or an RFC 3339 time.", valueName: "when")) var expires: String?
        @Option(help: "Create it in this tenant (system administrator).") var tenant: String?

        func run() async throws {
            let session = try Session.make(global)
            var body: [String: JSON] = ["name": .string(name), "role": .string(role)]
            if let expires { body["expires_at"] = .string(try Self.expiry(expires, now: Date())) }
            var path = ResourceKind.token.collection
            if let tenant { path = ResourceKind.tenant.path(try await session.client.resolveID(.tenant, tenant)) + "/tokens" }
            let token = Token(try await session.client.send(.post, path, body: .object(body)).json())
            if global.quiet {
                session.console.line(token.secret ?? "")
            } else if global.output == .table || global.output == .wide {
                session.show(token, ResourceTables.tokens)
                session.console.line("\nSecret (shown once, keep it safe): \(token.secret ?? "")")
            } else {
                session.show(token, ResourceTables.tokens)
            }
        }

        static func expiry(_ text: String, now: Date) throws -> String {
            let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800]
            if let unit = text.last, let seconds = units[unit], let count = Double(text.dropLast()), count > 0 {
                return RFC3339Text.format(now.addingTimeInterval(count * seconds))
            }
            guard text.contains("T") else { throw ValidationError("--expires \(text): write a duration like 30d or an RFC 3339 time") }
            return text
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List tokens.", discussion: "Example:\n  caasctl token ls --include-revoked", aliases: ["list"])

        @OptionGroup var global: GlobalOptions
        @Option(help: "Only tokens with this role.") var role: String?
        @Flag(name: .customLong("include-revoked"), help: "Show revoked tokens too.") var includeRevoked = false

        func run() async throws {
            let session = try Session.make(global)
            var query: [(String, String)] = []
            if let role { query.append(("role", role)) }
            if includeRevoked { query.append(("include_revoked", "true")) }
            session.show(try await session.client.list(ResourceKind.token.collection, query: query).map(Token.init), ResourceTables.tokens)
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a token (never its secret).", discussion: "Example:\n  caasctl token inspect ci")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The token's name or id.") var token: String

        func run() async throws {
            let session = try Session.make(global)
            session.inspect(try await session.client.resolve(.token, token))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a token: it stops working at once.", discussion: "Example:\n  caasctl token revoke ci")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The token's name or id.") var token: String

        func run() async throws {
            let session = try Session.make(global)
            let object = Token(try await session.client.resolve(.token, token))
            _ = try await session.client.send(.delete, ResourceKind.token.path(object.id), ifMatch: object.etag)
            session.say("Revoked token \(object.name) (\(object.id)).")
        }
    }
}

struct QuotaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quota",
        abstract: "Show a tenant's quotas and usage; the system administrator sets them.",
        discussion: """
            Example:
              caasctl quota show
              caasctl quota set acme applications=50 containers=2000
            """,
        subcommands: [Show.self, Set.self],
        defaultSubcommand: Show.self)

    static let kinds = ["clusters", "nodes", "applications", "containers"]

    /// `KIND=N` pairs as a quota object; `KIND=default` goes back to the server's default.
    static func parse(_ items: [String]) throws -> [String: JSON] {
        try KeyValue.parse(items, what: "quota").reduce(into: [:]) { result, pair in
            let kind = pair.key == "apps" ? "applications" : pair.key
            guard kinds.contains(kind) else { throw ValidationError("unknown quota \(pair.key): use \(kinds.joined(separator: ", "))") }
            if pair.value == "default" {
                result[kind] = .null
            } else {
                guard let limit = Int(pair.value), limit >= 0 else { throw ValidationError("quota \(pair.key)=\(pair.value): a whole number ≥ 0, or default") }
                result[kind] = .integer(Int64(limit))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show quotas (and usage, for your own tenant).", discussion: "Example:\n  caasctl quota show --tenant acme")

        @OptionGroup var global: GlobalOptions
        @Option(help: "Another tenant (system administrator).") var tenant: String?

        func run() async throws {
            let session = try Session.make(global)
            let object = tenant == nil ? try await session.client.currentTenant() : Tenant(try await session.client.resolve(.tenant, tenant!))
            switch global.output {
            case .json: session.console.line(JSON.object(["quotas": object.raw["quotas"] ?? .null, "quota_usage": object.raw["quota_usage"] ?? .null]).prettyPrinted())
            case .yaml: session.console.write(YAMLWriter.write(.object(["quotas": object.raw["quotas"] ?? .null, "quota_usage": object.raw["quota_usage"] ?? .null])))
            case .table, .wide:
                let usage = object.quotaUsage
                let table = Table(headers: ["QUOTA", "USED", "LIMIT"], rows: QuotaCommand.kinds.map { kind in
                    [kind, usage[kind].map(String.init) ?? "", object.quotas[kind].map(String.init) ?? ""]
                })
                session.console.write(table.render(style: session.console.style))
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a tenant's quotas (system administrator).",
            discussion: "Example:\n  caasctl quota set acme applications=50 nodes=default")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The tenant's name or id.") var tenant: String
        @Argument(help: ArgumentHelp("KIND=N pairs (clusters, nodes, applications, containers; N or default).", valueName: "kind=n")) var quotas: [String]

        func run() async throws {
            let session = try Session.make(global)
            let object = Tenant(try await session.client.resolve(.tenant, tenant))
            let patch: JSON = ["quotas": .object(try QuotaCommand.parse(quotas))]
            let updated = Tenant(try await session.client.send(.patch, ResourceKind.tenant.path(object.id), body: patch, ifMatch: object.etag).json())
            if global.output == .table && !global.quiet {
                session.say("Quotas of \(updated.name): " + QuotaCommand.kinds.map { "\($0)=\(updated.quotas[$0].map(String.init) ?? "?")" }.joined(separator: " "))
            } else {
                session.show(updated, ResourceTables.tenants)
            }
        }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read the audit log: who changed what, when, with what outcome (admins).",
        discussion: """
            Newest first.

            Example:
              caasctl audit --action apps.create --since 2026-11-01T00:00:00Z
              caasctl audit --outcome failure --limit 200
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this action (such as tokens.create).") var action: String?
    @Option(help: "Only this target id.") var target: String?
    @Option(help: "Only entries since this RFC 3339 time.") var since: String?
    @Option(help: "Only entries until this RFC 3339 time.") var until: String?
    @Option(help: "success, failure or an HTTP status.") var outcome: String?
    @Option(name: .customLong("token-id"), help: "Only this token (id).") var tokenID: String?
    @Option(help: "One tenant (name or id; system administrator).") var tenant: String?
    @Option(help: "At most this many entries.") var limit: Int = 50

    func run() async throws {
        let session = try Session.make(global)
        var query: [(String, String)] = []
        for (name, value) in [("action", action), ("target", target), ("since", since), ("until", until), ("outcome", outcome), ("token_id", tokenID)] {
            if let value { query.append((name, value)) }
        }
        if let tenant { query.append(("tenant_id", try await session.client.resolveID(.tenant, tenant))) }
        session.show(try await session.client.list("/v1/audit", query: query, limit: limit).map(AuditEntry.init), ResourceTables.audit)
    }
}

struct Completion: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a shell completion script (bash, zsh or fish).",
        discussion: """
            Example:
              caasctl completion bash > /etc/bash_completion.d/caasctl
              caasctl completion zsh > "${fpath[1]}/_caasctl"
              caasctl completion fish > ~/.config/fish/completions/caasctl.fish
            """)

    @Argument(help: "bash, zsh or fish.") var shell: String

    func run() throws {
        guard let kind = CompletionShell(rawValue: shell) else { throw ValidationError("unknown shell \(shell): bash, zsh or fish") }
        print(CaaSCtl.completionScript(for: kind))
    }
}

/// RFC 3339 text of a time (UTC, whole seconds).
enum RFC3339Text {
    static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
