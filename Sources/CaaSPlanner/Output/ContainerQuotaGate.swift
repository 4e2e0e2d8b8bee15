/// The tenant's containers quota, applied to plans where containers are born.
///
/// A new slot (first deployment, scale up, a node joining a global service) takes room in the
/// quota; beyond the room left, its placement is dropped and the slot reported unplaced with the
/// explanation `quota: containers 50/50`, to be retried by a later plan. Replacements (rolling
/// updates, rollbacks, moves off lost or drained nodes) and restarts take the place of a container
/// that counts already, so they always pass: a full quota never stops an application healing.
public enum ContainerQuotaGate {
    /// Whether `placement` grows the tenant's count of containers.
    public static func isNew(_ placement: ContainerPlacement) -> Bool {
        placement.replacing == nil && (placement.cause == .missing || placement.cause == .globalNode)
    }

    /// `plans` with new slots beyond `limit - used` taken out, in plan order (the first plans and,
    /// within a plan, the first placements keep their room).
    public static func admit(_ plans: [Plan], used: Int, limit: Int) -> [Plan] {
        var room = max(0, limit - used)
        var admitted = 0
        var held: [[ContainerPlacement]] = []
        var gated = plans.map { plan -> Plan in
            var plan = plan
            var kept: [ContainerPlacement] = []
            var out: [ContainerPlacement] = []
            for placement in plan.placements {
                if !isNew(placement) {
                    kept.append(placement)
                } else if room > 0 {
                    room -= 1
                    admitted += 1
                    kept.append(placement)
                } else {
                    out.append(placement)
                }
            }
            plan.placements = kept
            held.append(out)
            return plan
        }
        let explanation = "quota: containers \(used + admitted)/\(limit)"
        for index in gated.indices where !held[index].isEmpty {
            var slotsByService: [String: [Int]] = [:]
            var order: [String] = []
            for placement in held[index] {
                if slotsByService[placement.serviceID] == nil { order.append(placement.serviceID) }
                slotsByService[placement.serviceID, default: []].append(placement.slot)
            }
            for service in order {
                let slots = slotsByService[service]!
                if let existing = gated[index].unplaced.firstIndex(where: { $0.serviceID == service }) {
                    gated[index].unplaced[existing].slots = (gated[index].unplaced[existing].slots + slots).sorted()
                    gated[index].unplaced[existing].explanation += "; \(explanation)"
                } else {
                    gated[index].unplaced.append(Unplaced(serviceID: service, slots: slots, explanation: explanation))
                }
            }
        }
        return gated
    }
}
