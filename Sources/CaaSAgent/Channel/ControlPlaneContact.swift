import CaaSModel
import Synchronization

/// When the agent last heard from the control plane (a push applied, a report or heartbeat
/// answered), and so whether it is out of reach: then the agent restarts dead containers on its
/// own, as their restart policy says, because the control plane cannot decide it.
public final class ControlPlaneContact: Sendable {
    /// Silence longer than this is out of reach (a few heartbeats).
    public let outOfReachAfter: Duration
    private let last = Mutex<ContinuousClock.Instant?>(nil)
    private let regained = Mutex(false)

    public init(outOfReachAfter: Duration) {
        self.outOfReachAfter = outOfReachAfter
    }

    public func heard(at instant: ContinuousClock.Instant = .now) {
        let wasOutOfReach = isOutOfReach(at: instant)
        last.withLock { $0 = max($0 ?? instant, instant) }
        if wasOutOfReach { regained.withLock { $0 = true } }
    }

    /// Whether the control plane was heard again after being out of reach, since the last call:
    /// then the agent reports everything it has at once (what ran on, what it restarted).
    public func takeRegained() -> Bool {
        regained.withLock { value in
            defer { value = false }
            return value
        }
    }

    /// Never true before the control plane was heard once (an agent that never heard from it
    /// has no desired state to keep).
    public func isOutOfReach(at instant: ContinuousClock.Instant = .now) -> Bool {
        guard let heard = last.withLock({ $0 }) else { return false }
        return instant - heard >= outOfReachAfter
    }
}

/// Whether a dead container may be restarted on the node while the control plane is out of
/// reach: as its restart policy says, at most `maximumRetries` times for `on-failure`, and not
/// sooner than a backoff that doubles with each restart (1 s, 2 s, … at most 60 s).
public enum LocalRestart {
    public static func allows(_ policy: RestartPolicy?, exitCode: Int?, restartsSoFar: Int,
                              sinceLast: Duration?) -> Bool {
        switch policy {
        case nil, .no?: return false
        case .always?, .unlessStopped?: break
        case .onFailure(let maximum)?:
            if exitCode == 0 { return false }
            if let maximum, restartsSoFar >= maximum { return false }
        }
        guard let sinceLast else { return true }
        return sinceLast >= backoff(afterRestarts: restartsSoFar)
    }

    static func backoff(afterRestarts count: Int) -> Duration {
        .seconds(min(60, 1 << min(count, 6)))
    }
}
