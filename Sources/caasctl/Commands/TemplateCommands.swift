import ArgumentParser
import CaaSClient
import Foundation

/// Reads a file named on the command line (`-` for standard input).
enum InputFile {
    static func read(_ path: String) throws -> String {
        if path == "-" {
            return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandFailure("cannot read \(path)", status: FileManager.default.fileExists(atPath: path) ? .failure : .notFound)
        }
        return String(decoding: data, as: UTF8.self)
    }
}

struct TemplateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template",
        abstract: "Manage compose templates and their immutable, numbered versions.",
        discussion: """
            Example:
              caasctl template create wordpress -f wordpress-mysql.yml
              caasctl template versions wordpress
              caasctl template diff wordpress 1 2
            """,
        subcommands: [Create.self, List.self, Inspect.self, Versions.self, TemplateValidate.self, Diff.self, Remove.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a template from a compose file, or add a version to an existing one.",
            discussion: "Example:\n  caasctl template create wordpress -f wordpress-mysql.yml")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The template's name.") var name: String
        @Option(name: .shortAndLong, help: "The compose file (- for standard input).", completion: .file(extensions: ["yml", "yaml"])) var file: String
        @Option(help: "A description.") var description: String?

        func run() async throws {
            let session = try Session.make(global)
            let compose = try InputFile.read(file)
            var body: [String: JSON] = ["compose": .string(compose)]
            if let description { body["description"] = .string(description) }
            let existing: String?
            do {
                existing = try await session.client.resolveID(.template, name)
            } catch CaaSClientError.notFound {
                existing = nil
            }
            do {
                if let existing {
                    let version = TemplateVersion(try await session.client.send(.post, ResourceKind.template.path(existing) + "/versions", body: .object(body)).json())
                    if global.output == .table && !global.quiet {
                        session.say("Added version v\(version.number) to template \(name).")
                    } else {
                        session.show(version, ResourceTables.templateVersions)
                    }
                } else {
                    body["name"] = .string(name)
                    let template = Template(try await session.client.send(.post, ResourceKind.template.collection, body: .object(body)).json())
                    session.show(template, ResourceTables.templates)
                }
            } catch let error as CaaSClientError {
                session.console.error(ErrorPresenter(style: session.console.errorStyle, composeFile: file).render(error))
                throw CommandFailure(nil, status: CaaSExitStatus.of(error))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List templates.", discussion: "Example:\n  caasctl template ls", aliases: ["list"])

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let session = try Session.make(global)
            session.show(try await session.client.list(ResourceKind.template.collection).map(Template.init), ResourceTables.templates)
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a template, or one of its versions (--version), or only its compose text (--compose).",
            discussion: "Example:\n  caasctl template inspect wordpress --version 2 --compose > compose.yml")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The template's name or id.") var template: String
        @Option(help: "A version number.") var version: Int?
        @Flag(help: "Print only the compose text of the version (the latest without --version).") var compose = false

        func run() async throws {
            let session = try Session.make(global)
            let object = try await session.client.resolve(.template, template)
            let id = object["id"]?.stringValue ?? template
            guard version != nil || compose else { return session.inspect(object) }
            let number = version ?? Template(object).latestVersion
            guard let number else { throw CommandFailure("template \(template) has no versions", status: .notFound) }
            let value = try await session.client.get(ResourceKind.template.path(id) + "/versions/\(number)")
            if compose {
                session.console.write(TemplateVersion(value).compose ?? "")
            } else {
                session.inspect(value)
            }
        }
    }

    struct Versions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a template's versions.", discussion: "Example:\n  caasctl template versions wordpress")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The template's name or id.") var template: String

        func run() async throws {
            let session = try Session.make(global)
            let id = try await session.client.resolveID(.template, template)
            let versions = try await session.client.list(ResourceKind.template.path(id) + "/versions").map(TemplateVersion.init)
            if global.quiet {
                versions.forEach { session.console.line(String($0.number)) }
            } else {
                session.show(versions, ResourceTables.templateVersions)
            }
        }
    }

    struct TemplateValidate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "validate", abstract: "Validate a compose file on the server (same as caasctl validate).",
            discussion: "Example:\n  caasctl template validate -f compose.yml -e TAG=4")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var input: ValidateInput

        func run() async throws { try await input.validate(global) }
    }

    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the difference between two versions of a template.",
            discussion: "Example:\n  caasctl template diff wordpress 1 2")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The template's name or id.") var template: String
        @Argument(help: "The older version.") var from: Int
        @Argument(help: "The newer version.") var to: Int

        func run() async throws {
            let session = try Session.make(global)
            let id = try await session.client.resolveID(.template, template)
            let answer = try await session.client.send(.get, ResourceKind.template.path(id) + "/diff",
                                                       query: [("from", String(from)), ("to", String(to))])
            if let json = try? answer.json(), global.output == .json || global.output == .yaml {
                return global.output == .json ? session.console.line(json.prettyPrinted()) : session.console.write(YAMLWriter.write(json))
            }
            let text = (try? answer.json())?["diff"]?.stringValue ?? answer.body.text
            session.console.write(Self.colour(text, session.console.style))
        }

        static func colour(_ diff: String, _ style: TerminalStyle) -> String {
            guard style.colour else { return diff.hasSuffix("\n") || diff.isEmpty ? diff : diff + "\n" }
            return diff.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                if line.hasPrefix("+++") || line.hasPrefix("---") { return style.bold(String(line)) }
                if line.hasPrefix("+") { return style.paint(String(line), .green) }
                if line.hasPrefix("-") { return style.paint(String(line), .red) }
                if line.hasPrefix("@@") { return style.paint(String(line), .blue) }
                return String(line)
            }.joined(separator: "\n") + "\n"
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Delete a template, or one version of it (a version in use is kept).",
            discussion: "Example:\n  caasctl template rm wordpress --version 1", aliases: ["remove"])

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The template's name or id.") var template: String
        @Option(help: "Delete only this version.") var version: Int?

        func run() async throws {
            let session = try Session.make(global)
            let id = try await session.client.resolveID(.template, template)
            let path = ResourceKind.template.path(id) + (version.map { "/versions/\($0)" } ?? "")
            _ = try await session.client.send(.delete, path)
            session.say(version.map { "Deleted version v\($0) of template \(template)." } ?? "Deleted template \(template).")
        }
    }
}

struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Browse the tenant's image catalog.",
        discussion: """
            Example:
              caasctl image ls
              caasctl image search tomcat
            """,
        subcommands: [List.self, Search.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls", abstract: "List images.", discussion: "Example:\n  caasctl image ls --repository nginx", aliases: ["list"])

        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this repository.") var repository: String?

        func run() async throws {
            let session = try Session.make(global)
            let query = repository.map { [("repository", $0)] } ?? []
            session.show(try await session.client.list(ResourceKind.image.collection, query: query).map(Image.init), ResourceTables.images)
        }
    }

    struct Search: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Search images by name.", discussion: "Example:\n  caasctl image search tomcat")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "Text to look for in repository names.") var term: String

        func run() async throws {
            let session = try Session.make(global)
            session.show(try await session.client.list(ResourceKind.image.collection, query: [("q", term)]).map(Image.init), ResourceTables.images)
        }
    }
}

extension [UInt8] {
    var text: String { String(decoding: self, as: UTF8.self) }
}
