import CaaSModel
import Foundation

/// What the restart policy says about a container that exited (or turned unhealthy) while meant to run.
public enum RestartDecision: Sendable, Equatable {
    /// Start a new incarnation of the slot: `restartCount` restarts so far including this one, not before `notBefore`.
    case restart(restartCount: Int, backoff: TimeInterval, notBefore: Date, reason: String)
    /// Leave it stopped.
    case stop(reason: String)
}

/// Restart policies with exponential backoff per container: `base` doubling to `cap`; the count starts afresh
/// after a run of at least `reset`.
public enum RestartBackoff {
    /// Delay before the restart that follows `previousRestarts` restarts: base · 2^n, capped.
    public static func delay(afterRestarts previousRestarts: Int, options: PlannerOptions) -> TimeInterval {
        let exponent = min(max(previousRestarts, 0), 40)
        return min(options.restartBackoffBase * pow(2, Double(exponent)), options.restartBackoffCap)
    }

    /// The decision for `container` of service `name`, whose run ended (`lastExitCode`, `lastExitAt`) or turned
    /// unhealthy.
    public static func decide(
        _ container: ContainerSnapshot, policy: RestartPolicy, name: String, now: Date, options: PlannerOptions
    ) -> RestartDecision {
        let label = "\(name).\(container.slot)"
        let unhealthy = !container.observed.isTerminal && container.health == .unhealthy
        let failed = unhealthy || container.observed == .failed || (container.lastExitCode ?? 0) != 0
        let what: String
        if unhealthy {
            what = "\(label) is unhealthy"
        } else if let code = container.lastExitCode {
            what = "\(label) exited with code \(code)"
        } else {
            what = "\(label) failed"
        }
        let ended = container.lastExitAt ?? now
        let ranLongEnough = container.startedAt.map { ended.timeIntervalSince($0) >= options.restartBackoffReset } ?? false
        let previous = ranLongEnough ? 0 : container.restartCount

        switch policy {
        case .no:
            return .stop(reason: "\(what); restart policy no: left stopped")
        case .onFailure(let maximum):
            if !failed {
                return .stop(reason: "\(what); restart policy on-failure: completed")
            }
            if let maximum, previous >= maximum {
                return .stop(reason: "\(what); restart policy on-failure:\(maximum): gave up after \(previous) restarts")
            }
        case .always, .unlessStopped:
            break
        }
        let backoff = delay(afterRestarts: previous, options: options)
        let count = previous + 1
        let crashLoop = previous >= 2 ? ", crash loop" : ""
        return .restart(
            restartCount: count, backoff: backoff, notBefore: ended.addingTimeInterval(backoff),
            reason: "\(what); restart \(count) after \(formatSeconds(backoff)) backoff (policy \(policy.name)\(crashLoop))"
        )
    }
}

extension RestartPolicy {
    /// The compose spelling: `no`, `always`, `unless-stopped`, `on-failure[:N]`.
    public var name: String {
        switch self {
        case .no: "no"
        case .always: "always"
        case .unlessStopped: "unless-stopped"
        case .onFailure(let maximum): maximum.map { "on-failure:\($0)" } ?? "on-failure"
        }
    }
}

/// `4s`, `1.5s`, `5m`, `2m30s`.
func formatSeconds(_ seconds: TimeInterval) -> String {
    if seconds < 60 {
        return seconds == seconds.rounded() ? "\(Int(saturating: seconds))s" : "\(seconds)s"
    }
    let whole = Int(saturating: seconds.rounded())
    let (m, s) = (whole / 60, whole % 60)
    return s == 0 ? "\(m)m" : "\(m)m\(s)s"
}
