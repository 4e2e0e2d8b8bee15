import CaaSClient
import Foundation

/// Follows a rollout until it ends: after each event (long poll on `GET /v1/events`, waking at
/// least every few seconds) it reads the application's services and deployment and redraws the
/// progress, with the server's latest `service.unplaced` explanation of each service. Decides
/// nothing itself: the deployment's outcome is the server's.
struct RolloutWatcher {
    let session: Session
    let applicationID: String
    var deploymentID: String?
    var after: Int64
    var timeout: Duration
    /// Deployment outcomes that count as success (an explicit rollback succeeds as `rolled_back`).
    var successes: Set<String> = ["succeeded"]

    /// How the watch ended.
    enum Outcome: Equatable {
        case succeeded
        case failed(String)
        case timedOut
    }

    /// Watches until the deployment is finished or, without a deployment, until every service runs
    /// its desired replicas.
    mutating func run() async throws -> Outcome {
        let console = session.console
        let terminal = console.stdoutIsTerminal && session.options.output != .json && session.options.output != .yaml
        var renderer = ProgressRenderer(terminal: terminal, style: console.style, columns: console.columns)
        // By service id: why the scheduler cannot place containers of it, as it last said.
        var unplaced: [String: String] = [:]
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let quiet = session.options.quiet
        while true {
            let services = try await session.client.services(applicationID: applicationID)
            let deployment = try await currentDeployment()
            var progress = RolloutProgress(services: services, deployment: deployment, unplaced: unplaced)
            if deployment == nil {
                // No deployment to ask: settled when every service runs what it should.
                let settled = !services.isEmpty && services.allSatisfy { $0.kind == "external" || $0.runningReplicas == $0.desiredReplicas }
                progress.deploymentStatus = settled ? "succeeded" : ""
            }
            if !quiet { console.write(renderer.render(progress)) }
            if progress.isFinished {
                return successes.contains(progress.deploymentStatus)
                    ? .succeeded
                    : .failed(progress.deploymentStatus.replacingOccurrences(of: "_", with: " ") + (progress.reason.map { ": \($0)" } ?? ""))
            }
            let remaining = ContinuousClock.now.duration(to: deadline)
            if remaining <= .zero { return .timedOut }
            let wait = min(5, max(1, Int(remaining.components.seconds)))
            let batch = try await session.client.events(after: after, wait: wait)
            after = batch.lastEventID
            for event in batch.events where concerns(event) {
                if event.type == "service.unplaced" {
                    // Shown by the renderer once per change (the scheduler repeats it every pass).
                    unplaced[event.objectID] = event.summary
                } else if !terminal && !quiet {
                    console.line("  \(event.type): \(event.summary)")
                }
            }
        }
    }

    private func currentDeployment() async throws -> Deployment? {
        if let deploymentID {
            return try await session.client.deployment(deploymentID)
        }
        return nil
    }

    /// Events about this application (its own, its deployment's, or any carrying its id).
    private func concerns(_ event: Event) -> Bool {
        event.objectID == applicationID || (deploymentID.map { event.objectID == $0 } ?? false)
            || event.data["application_id"]?.stringValue == applicationID
    }
}
