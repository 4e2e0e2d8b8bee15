import CaaSModel
import Foundation

/// Rolling updates: batches of `parallelism`, gated on readiness held for the monitor period, `delay` between
/// batches, failures counted against `maxFailureRatio`, and a deadline that always ends the rollout.
extension ServiceReconciler {
    /// Starts a rollout when containers of another generation run, and moves its phase on failures and deadlines.
    mutating func advanceRolloutPhase() {
        let generation = service.generation
        var state = service.rollout
        if state?.toGeneration != generation {
            let outdated = containers.contains {
                $0.desired == .running && !$0.observed.isTerminal && $0.observed != .lost && $0.replacedBy == nil
                    && $0.generation != generation
            }
            guard outdated else {
                rollout = nil
                return
            }
            state = RolloutState(
                serviceID: service.id, fromGeneration: service.previous?.generation, toGeneration: generation,
                phase: .inProgress, startedAt: now, deadline: now.addingTimeInterval(options.rolloutTimeout),
                reason: "rollout of \(name) to generation \(generation) started"
            )
        }
        guard var state else { return }
        defer { rollout = state }

        switch state.phase {
        case .succeeded, .failed, .rolledBack:
            return
        case .paused:
            if now >= state.deadline {
                end(&state, .failed, "rollout of \(name) to generation \(generation) failed: paused until its deadline (\(state.updated)/\(state.total) updated)")
            } else {
                review(at: state.deadline)
            }
            return
        case .inProgress, .rollingBack:
            break
        }

        let rollingBack = state.phase == .rollingBack
        let config = rollingBack ? service.spec.rollbackConfig : service.spec.updateConfig
        let targetGeneration = rollingBack ? (state.fromGeneration ?? generation) : generation
        var firstFailure: String?
        for c in containers where c.generation == targetGeneration && c.createdAt >= state.startedAt
            && c.desired != .removed && !state.failedContainers.contains(c.id) {
            let failedRun = c.observed == .exited || c.observed == .failed
            if failedRun || c.health == .unhealthy {
                state.failedContainers.append(c.id)
                if firstFailure == nil {
                    firstFailure = failedRun
                        ? "\(label(c)) \(c.lastExitCode.map { "exited with code \($0)" } ?? "failed")"
                        : "\(label(c)) is unhealthy"
                }
            }
        }

        let canRollBack = service.previous != nil && state.fromGeneration != nil
        if now >= state.deadline {
            let progress = "\(state.updated)/\(state.total) updated"
            if rollingBack {
                end(&state, .failed, "rollback of \(name) to generation \(targetGeneration) failed: deadline exceeded (\(progress))")
            } else if config.failureAction == .rollback && canRollBack {
                startRollback(&state, "rollout of \(name) to generation \(generation) exceeded its deadline (\(progress)): rolling back to generation \(state.fromGeneration!)")
            } else {
                end(&state, .failed, "rollout of \(name) to generation \(generation) failed: deadline exceeded (\(progress))")
            }
            return
        }

        let total = max(state.total, 1)
        guard state.failures > 0, Double(state.failures) / Double(total) > config.maxFailureRatio else {
            review(at: state.deadline)
            return
        }
        let failures = "\(state.failures) failed (\(firstFailure ?? "earlier failures"))"
        let action = config.failureAction == .rollback && !rollingBack && !canRollBack ? .pause : config.failureAction
        switch (action, rollingBack) {
        case (.continue, _):
            review(at: state.deadline)
        case (.pause, false):
            state.phase = .paused
            state.reason = "rollout of \(name) to generation \(generation) paused: \(failures)"
            review(at: state.deadline)
        case (.rollback, false):
            startRollback(&state, "rollout of \(name) to generation \(generation) failed: \(failures): rolling back to generation \(state.fromGeneration!)")
        case (.pause, true):
            state.phase = .paused
            state.reason = "rollback of \(name) to generation \(targetGeneration) paused: \(failures)"
            review(at: state.deadline)
        case (.rollback, true):
            end(&state, .failed, "rollback of \(name) to generation \(targetGeneration) failed: \(failures)")
        }
    }

    private func end(_ state: inout RolloutState, _ phase: RolloutState.Phase, _ reason: String) {
        state.phase = phase
        state.reason = reason
        state.endedAt = now
    }

    private mutating func startRollback(_ state: inout RolloutState, _ reason: String) {
        state.phase = .rollingBack
        state.startedAt = now
        state.deadline = now.addingTimeInterval(options.rolloutTimeout)
        state.failedContainers = []
        state.updated = 0
        state.reason = reason
        review(at: state.deadline)
    }

    /// The generation to converge to: the previous one while (or after) rolling back.
    mutating func chooseTarget() {
        guard let rollout, rollout.phase == .rollingBack || rollout.phase == .rolledBack,
              let previous = service.previous, previous.generation == rollout.fromGeneration else { return }
        target = Target(spec: previous.spec, generation: previous.generation, config: service.spec.rollbackConfig, isRollback: true)
    }

    /// The next batch, or why not yet; ends the rollout when every slot runs the target and has settled.
    mutating func rollOut() {
        guard var state = rollout, state.phase == .inProgress || state.phase == .rollingBack else { return }
        // A rollback that starts in this plan keeps its cause as the reason (the event says why it rolls back).
        let causeOfRollback = state.phase == .rollingBack && service.rollout?.phase != .rollingBack ? state.reason : nil
        defer {
            if let causeOfRollback, state.phase == .rollingBack { state.reason = causeOfRollback }
            rollout = state
        }
        let config = target.config
        let global = service.spec.mode == .global
        let current = slots.indices.filter { slots[$0].primary != nil && slots[$0].occupied }
        let outdated = current.filter { slots[$0].primary!.generation != target.generation }
        let fresh = current.compactMap { i -> ContainerSnapshot? in
            guard let c = slots[i].members.first, c.generation == target.generation else { return nil }
            return c
        }
        let inFlight = fresh.filter { !isSettled($0) && !state.failedContainers.contains($0.id) && $0.createdAt >= state.startedAt }
        let pendingRestarts = current.filter { slots[$0].restartPending && slots[$0].members.isEmpty }
        state.total = global ? current.count : max(target.spec.replicas, 0)
        state.updated = fresh.filter(isReady).count
        let verb = state.phase == .rollingBack ? "rollback of \(name) to generation \(target.generation)" : "rollout of \(name) to generation \(target.generation)"

        if outdated.isEmpty && inFlight.isEmpty && pendingRestarts.isEmpty && state.updated >= state.total {
            state.phase = state.phase == .rollingBack ? .rolledBack : .succeeded
            state.endedAt = now
            state.reason = state.phase == .rolledBack
                ? "\(name) rolled back to generation \(target.generation) (\(state.updated)/\(state.total))"
                : "\(name) updated to generation \(target.generation) (\(state.updated)/\(state.total))"
            return
        }
        if let waiting = inFlight.first {
            let until = settlesAt(waiting)
            let what = until == nil ? "to be ready" : "to stay ready for \(formatSeconds(config.monitorSeconds))"
            state.reason = "\(verb): waiting for \(label(waiting)) (\(waiting.id)) \(what) (\(state.updated)/\(state.total) updated)"
            wait(until: until, state.reason)
            return
        }
        guard !outdated.isEmpty else {
            state.reason = "\(verb): \(state.updated)/\(state.total) updated"
            return
        }
        let lastSettled = fresh.filter { $0.createdAt >= state.startedAt }.compactMap(settlesAt).max()
        if let lastSettled, config.delaySeconds > 0, lastSettled.addingTimeInterval(config.delaySeconds) > now {
            let until = lastSettled.addingTimeInterval(config.delaySeconds)
            state.reason = "\(verb): next batch after a \(formatSeconds(config.delaySeconds)) delay (\(state.updated)/\(state.total) updated)"
            wait(until: until, state.reason)
            return
        }

        // Not-ready containers first: replacing them costs no availability.
        let ordered = outdated.sorted { a, b in
            let ra = slots[a].members.first.map(isReady) ?? false, rb = slots[b].members.first.map(isReady) ?? false
            return (ra ? 1 : 0, slots[a].slot) < (rb ? 1 : 0, slots[b].slot)
        }
        let size = config.parallelism > 0 ? config.parallelism : ordered.count
        let cause: PlacementCause = target.isRollback ? .rollback : .update
        for i in ordered.prefix(size) {
            let old = slots[i].primary!
            var order = config.order
            // Global start-first needs room for both copies on the same node; published ports never allow it.
            if global && order == .startFirst && !Demand(target.spec).hostPorts.isEmpty { order = .stopFirst }
            if old.desired == .stopped || slots[i].members.isEmpty { order = .stopFirst }
            let why = "\(label(old)) \(target.isRollback ? "rolled back" : "updated") from generation \(old.generation) to \(target.generation) (\(order.rawValue))"
            if order == .stopFirst {
                for c in slots[i].members + (slots[i].stopped.map { [$0] } ?? []) {
                    remove(c, .replaced, "\(label(c)) (\(c.id), generation \(c.generation)) removed for the \(target.isRollback ? "rollback" : "update") to generation \(target.generation) (stop-first)")
                }
            }
            requests.append(PlacementRequest(
                slot: old.slot, generation: target.generation, cause: cause, replacing: old,
                replacementCause: target.isRollback ? .rollback : .update, order: order,
                fixedNode: global ? slots[i].node : nil, why: why
            ))
        }
        state.reason = "\(verb): replacing \(min(size, ordered.count)) of \(ordered.count) outdated (\(state.updated)/\(state.total) updated)"
    }
}
