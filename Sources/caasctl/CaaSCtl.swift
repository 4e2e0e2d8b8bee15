import ArgumentParser
import CaaSClient
import Foundation

/// The root command: the tree of subcommands, and the run that maps every failure to its exit code.
struct CaaSCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "caasctl",
        abstract: "The command-line client of caas, the Container-as-a-Service control plane.",
        discussion: """
            Connect once with `caasctl login`, then deploy compose files with
            `caasctl up`.

            Example:
              caasctl login --server https://caas.example.com:8443 \\
                --token caas_… --ca-file ca.pem
              caasctl up -f compose.yml --cluster prod
              caasctl ps

            Settings, strongest first: the flags --server, --token, --ca-file and
            --context; the environment (CAAS_SERVER, CAAS_TOKEN, CAAS_CA_FILE,
            CAAS_CONTEXT); the current context in $XDG_CONFIG_HOME/caas/config.json
            (~/.config/caas/config.json). Colour only on a terminal, never with
            NO_COLOR. Shell completions: caasctl completion bash|zsh|fish.

            \(CaaSExitStatus.helpText)
            """,
        version: "caasctl 0.1.0",
        subcommands: [
            Login.self, ContextCommand.self,
            Up.self, Down.self, Scale.self, Validate.self,
            ClusterCommand.self, NodeCommand.self, TemplateCommand.self, ImageCommand.self,
            AppCommand.self, ServiceCommand.self, Ps.self, Logs.self, Events.self,
            TenantCommand.self, TokenCommand.self, QuotaCommand.self, Audit.self,
            Completion.self,
        ])

    /// Parses `arguments`, runs the command, and returns the exit code; every message has been
    /// printed.
    static func runMain(_ arguments: [String]) async -> Int32 {
        let console = Console(noColor: arguments.contains("--no-color"))
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return CaaSExitStatus.ok.rawValue
        } catch let error as CaaSClientError {
            console.error(ErrorPresenter(style: console.errorStyle).render(error))
            return CaaSExitStatus.of(error).rawValue
        } catch let failure as CommandFailure {
            if let message = failure.message { console.error(console.errorStyle.paint("error:", .red) + " " + message) }
            return failure.status.rawValue
        } catch let error as ContextStoreError {
            console.error(console.errorStyle.paint("error:", .red) + " \(error)")
            if case .noSuchContext = error { return CaaSExitStatus.notFound.rawValue }
            return CaaSExitStatus.failure.rawValue
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { console.line(message) }
                return CaaSExitStatus.ok.rawValue
            }
            if let exit = error as? ExitCode { return exit.rawValue }
            console.error(message)
            // Argument errors (unknown flag, missing or invalid value) are usage errors.
            return code == .validationFailure ? CaaSExitStatus.usage.rawValue : CaaSExitStatus.failure.rawValue
        }
    }
}
