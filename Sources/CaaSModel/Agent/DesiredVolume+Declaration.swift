extension DesiredVolume {
    /// The mount a container gets for `mount` of a service of application `appId`: a named volume
    /// becomes its owner's engine volume (`VolumeNaming`) with the top-level declaration's
    /// driver, driver options and labels; an undeclared one (compose v1) is owned the same way,
    /// with the engine's defaults. Bind, anonymous and tmpfs mounts pass as they are.
    public init(_ mount: VolumeMount, declared: [String: VolumeSpec], tenantId: String, appId: String) {
        guard mount.kind == .volume, let key = mount.source else {
            self.init(kind: mount.kind, source: mount.source, target: mount.target, readOnly: mount.readOnly)
            return
        }
        let volume = declared[key] ?? VolumeSpec(name: key)
        self.init(kind: .volume, source: VolumeNaming.engineName(of: volume, tenantId: tenantId, appId: appId),
                  target: mount.target, readOnly: mount.readOnly, driver: volume.driver, driverOptions: volume.driverOptions,
                  labels: volume.labels, declaredName: key, external: volume.external)
    }
}
