import CaaSModel

/// The labels that mark an engine volume as one caas created, and for whom. Volumes without
/// them (external ones, anyone else's) are never removed.
public enum VolumeLabels {
    public static let cluster = ContainerLabels.cluster
    public static let tenant = ContainerLabels.tenant
    public static let app = ContainerLabels.app
    /// The top-level key that declared it in the application's compose file.
    public static let volume = "caas.volume"

    /// The compose `labels` of the volume, then ours (which the compose ones cannot override).
    public static func labels(for volume: DesiredVolume, of container: DesiredContainer, clusterId: String) -> [String: String] {
        var labels = volume.labels.filter { !$0.key.hasPrefix("caas.") }
        labels[cluster] = clusterId
        labels[tenant] = container.tenantId
        labels[app] = container.appId
        labels[self.volume] = volume.declaredName ?? volume.source ?? ""
        return labels
    }
}

extension VolumeCreateBody {
    /// The engine's create request for the named volume `volume` of `container`: its name, the
    /// compose top-level `driver` (default `local`), `driver_opts` and `labels`, and our labels.
    /// `nil` for anything but a named, non-external volume (those the agent never creates).
    public init?(_ volume: DesiredVolume, of container: DesiredContainer, clusterId: String) {
        guard volume.kind == .volume, !volume.external, let name = volume.source else { return nil }
        self.init(name: name, driver: volume.driver ?? "local", driverOpts: volume.driverOptions,
                  labels: VolumeLabels.labels(for: volume, of: container, clusterId: clusterId))
    }
}
