import CaaSModel
import Foundation

/// The replica count an `AutoScalingPolicy` wants, with why.
public struct AutoscaleDecision: Sendable, Equatable {
    public var replicas: Int
    public var changed: Bool
    public var reason: String
}

public enum Autoscaler {
    /// Step up by `policy.step` when the mean of `cpuSamples` (percent) is above `maxCPU`, down when below `minCPU`,
    /// clamped to `minInstances...maxInstances`; nothing changes within `cooldown` of `lastScaledAt`.
    public static func decide(
        policy: AutoScalingPolicy, currentReplicas: Int, cpuSamples: [Double],
        lastScaledAt: Date?, cooldown: TimeInterval, now: Date
    ) -> AutoscaleDecision {
        let low = max(0, min(policy.minInstances, policy.maxInstances))
        let high = max(low, policy.maxInstances)
        let clamped = min(max(currentReplicas, low), high)
        func hold(_ reason: String) -> AutoscaleDecision {
            AutoscaleDecision(replicas: clamped, changed: clamped != currentReplicas, reason: clamped != currentReplicas
                ? "\(currentReplicas) replicas outside \(low)...\(high): set to \(clamped)" : reason)
        }
        if let lastScaledAt, now < lastScaledAt.addingTimeInterval(cooldown) {
            let left = lastScaledAt.addingTimeInterval(cooldown).timeIntervalSince(now)
            return hold("cooling down for \(formatSeconds(left.rounded(.up))) more: \(clamped) replicas")
        }
        guard !cpuSamples.isEmpty else { return hold("no cpu samples: \(clamped) replicas") }
        let mean = cpuSamples.reduce(0, +) / Double(cpuSamples.count)
        let cpu = String(format: "%.1f", mean)
        let step = max(policy.step, 1)
        if let maxCPU = policy.maxCPU, mean > maxCPU {
            let next = step >= high - clamped ? high : clamped + step
            if next == currentReplicas { return hold("cpu \(cpu)% above \(formatPercent(maxCPU)) but already at the maximum of \(high)") }
            return AutoscaleDecision(replicas: next, changed: true, reason: "cpu \(cpu)% above \(formatPercent(maxCPU)): scale up from \(currentReplicas) to \(next)")
        }
        if let minCPU = policy.minCPU, mean < minCPU {
            let next = step >= clamped - low ? low : clamped - step
            if next == currentReplicas { return hold("cpu \(cpu)% below \(formatPercent(minCPU)) but already at the minimum of \(low)") }
            return AutoscaleDecision(replicas: next, changed: true, reason: "cpu \(cpu)% below \(formatPercent(minCPU)): scale down from \(currentReplicas) to \(next)")
        }
        return hold("cpu \(cpu)% within bounds: \(clamped) replicas")
    }
}

private func formatPercent(_ value: Double) -> String {
    value == value.rounded() ? "\(Int(saturating: value))%" : "\(value)%"
}
