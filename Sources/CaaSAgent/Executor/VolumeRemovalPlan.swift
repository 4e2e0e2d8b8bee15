import CaaSModel

/// Which engine volumes of a node go, a pure function of values: those caas created in this
/// cluster for an application the desired state lists in `volumeRemovals`, matched on all three
/// of our labels (cluster, tenant, application). External volumes carry none of them, so they
/// are never chosen.
public enum VolumeRemovalPlan {
    /// - Returns: the names to remove, sorted.
    public static func volumesToRemove(clusterId: String, removals: [VolumeRemoval], observed: [EngineVolume]) -> [String] {
        guard !removals.isEmpty else { return [] }
        let wanted = Set(removals)
        return observed.filter { volume in
            guard volume.labels[VolumeLabels.cluster] == clusterId,
                  let tenant = volume.labels[VolumeLabels.tenant], let app = volume.labels[VolumeLabels.app] else { return false }
            return wanted.contains(VolumeRemoval(tenantId: tenant, appId: app))
        }
        .map(\.name).sorted()
    }
}
