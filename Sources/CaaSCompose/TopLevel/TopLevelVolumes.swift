import CaaSModel

enum TopLevelVolumes {
    /// `volumes:` at the top level: each a null or a mapping of `driver`, `driver_opts`,
    /// `external` (boolean or `{name: …}`), `labels`, `name`.
    static func read(_ node: YNode, reader: ValueReader, log: DiagnosticLog) -> [VolumeSpec] {
        if node.isNull { return [] }
        guard let entries = reader.mapping(node, what: "a mapping of volume names") else { return [] }
        var out: [VolumeSpec] = []
        for entry in entries where !entry.key.hasPrefix("x-") {
            guard VolumeSyntax.isVolumeName(entry.key) else {
                log.error(key: entry, "'\(entry.key)' is not a volume name (letters, digits, '_', '.', '-', starting with a letter or digit)")
                continue
            }
            var volume = VolumeSpec(name: entry.key)
            let body = entry.value
            if body.isNull {
                out.append(volume)
                continue
            }
            guard let fields = reader.mapping(body, what: "a volume definition (a mapping) or nothing") else { continue }
            reader.checkKeys(fields, known: ["driver", "driver_opts", "external", "labels", "name"], context: "volume '\(entry.key)'")
            if let n = body["driver"], let driver = reader.string(n) { volume.driver = driver }
            if let n = body["driver_opts"], let options = reader.keyValues(n, what: "driver option") {
                for (key, value, _) in options { volume.driverOptions[key] = value ?? "" }
                if let access = hostAccess(of: volume) { log.declare(access, at: options.last { $0.key == "device" }?.node ?? n) }
            }
            if let n = body["labels"], let labels = reader.keyValues(n, what: "label") {
                for (key, value, _) in labels { volume.labels[key] = value ?? "" }
            }
            if let n = body["name"], let name = reader.string(n) {
                if checkEngineName(name, at: n, log: log) { volume.externalName = name }
            }
            if let n = body["external"] {
                if let fields = n.entries {
                    reader.checkKeys(fields, known: ["name"], context: "external")
                    volume.external = true
                    if let nameNode = n["name"], let name = reader.string(nameNode), checkEngineName(name, at: nameNode, log: log) {
                        if let existing = volume.externalName, existing != name {
                            log.error(nameNode, "external.name '\(name)' contradicts name '\(existing)'")
                        }
                        volume.externalName = name
                    }
                } else if let flag = reader.bool(n) {
                    volume.external = flag
                }
                if volume.external, let driverEntry = body.entry("driver") ?? body.entry("driver_opts") {
                    log.error(key: driverEntry, "an external volume already exists: it cannot specify '\(driverEntry.key)'")
                }
                if volume.external { log.declare(.externalVolume(volume.externalName ?? volume.name), at: n) }
            }
            out.append(volume)
        }
        return out
    }

    /// What a `local` volume's options make the engine mount from the host: `o: bind` with an
    /// absolute `device` is a bind mount of that path; any other absolute `device` (`type: ext4`,
    /// `device: /dev/sda1`) mounts a host device. Network and tmpfs devices are not host paths.
    static func hostAccess(of volume: VolumeSpec) -> HostAccess? {
        guard volume.driver == nil || volume.driver == "local", let device = volume.driverOptions["device"], device.hasPrefix("/") else {
            return nil
        }
        let flags = (volume.driverOptions["o"] ?? "").split(separator: ",").map { String($0).trimmingSpaces }
        return flags.contains("bind") || flags.contains("rbind") ? .bind(device) : .device(device)
    }

    /// A `name:` becomes (part of) an engine volume name: the engine's characters only.
    private static func checkEngineName(_ name: String, at node: YNode, log: DiagnosticLog) -> Bool {
        guard VolumeSyntax.isVolumeName(name) else {
            log.error(node, "'\(name)' is not a volume name (letters, digits, '_', '.', '-', starting with a letter or digit)")
            return false
        }
        return true
    }
}
