import CaaSModel

/// `volumes:` entries of a service.
///
/// Short syntax `[SOURCE:]TARGET[:MODE]`: a source starting with `/`, `.` or `~` is a host path
/// (bind), any other source names a top-level volume; no source is an anonymous volume. Modes:
/// `ro`, `rw`, and the engine's `z`, `Z`, `nocopy`, propagation flags (accepted, not modelled),
/// comma-separated. Long syntax: `type` (`volume`, `bind`, `tmpfs`), `source`, `target`, `read_only`.
enum VolumeSyntax {
    struct Failure: Error, Equatable { var message: String }

    static let engineModes: Set<String> = ["z", "Z", "nocopy", "shared", "rshared", "slave", "rslave", "private", "rprivate", "consistent", "cached", "delegated"]

    static func isHostPath(_ source: String) -> Bool {
        source.hasPrefix("/") || source.hasPrefix(".") || source.hasPrefix("~")
    }

    static func parseShort(_ text: String) throws(Failure) -> VolumeMount {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var source: String? = nil
        var target: String
        var modeText: String? = nil
        switch parts.count {
        case 1: target = parts[0]
        case 2: source = parts[0]; target = parts[1]
        case 3: source = parts[0]; target = parts[1]; modeText = parts[2]
        default: throw Failure(message: "'\(text)' is not a volume: expected [SOURCE:]TARGET[:MODE]")
        }
        if source?.isEmpty == true { throw Failure(message: "'\(text)': empty volume source") }
        guard target.hasPrefix("/") else {
            throw Failure(message: "'\(text)': the container path '\(target)' must be absolute")
        }
        var readOnly = false
        if let modeText {
            for mode in modeText.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
                switch mode {
                case "ro": readOnly = true
                case "rw": readOnly = false
                case _ where engineModes.contains(mode): break
                default: throw Failure(message: "'\(text)': unknown volume mode '\(mode)' (expected ro or rw)")
                }
            }
        }
        guard let source else { return VolumeMount(kind: .anonymous, source: nil, target: target, readOnly: readOnly) }
        return VolumeMount(kind: isHostPath(source) ? .bind : .volume, source: source, target: target, readOnly: readOnly)
    }

    static func isVolumeName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first.isNumber else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "-") }
    }
}

extension ServiceReader {
    func readVolumes(_ node: YNode) -> [VolumeMount] {
        guard let items = reader.list(node, what: "a list of volumes") else { return [] }
        var out: [VolumeMount] = []
        for item in items {
            let mount: VolumeMount
            if let entries = item.entries {
                guard let m = readLongVolume(item, entries) else { continue }
                mount = m
            } else {
                guard let text = reader.string(item, what: "a volume") else { continue }
                do { mount = try VolumeSyntax.parseShort(text) } catch { log.error(item, error.message); continue }
            }
            if mount.kind == .volume, let name = mount.source, !checkNamedVolume(name, at: item) { continue }
            if mount.kind == .bind, let source = mount.source { log.declare(.bind(source), at: item) }
            out.append(mount)
        }
        return out
    }

    /// A named volume must be declared at the top level (compose's rule), except in compose v1,
    /// which had no top-level volumes and created named volumes on first use.
    func checkNamedVolume(_ name: String, at node: YNode) -> Bool {
        guard VolumeSyntax.isVolumeName(name) else {
            log.error(node, "'\(name)' is not a volume name (letters, digits, '_', '.', '-')")
            return false
        }
        if !context.declaredVolumes.contains(name) && !context.isVersion1 {
            log.error(node, "volume '\(name)' is not declared in the top-level 'volumes'")
            return false
        }
        return true
    }

    private func readLongVolume(_ item: YNode, _ entries: [YEntry]) -> VolumeMount? {
        reader.checkKeys(entries, known: ["type", "source", "target", "read_only", "consistency", "bind", "volume", "tmpfs", "image"], context: "a volume")
        guard let typeNode = item["type"] else {
            log.error(item, "a volume in the long syntax needs 'type' (volume, bind or tmpfs)")
            return nil
        }
        guard let type = reader.string(typeNode) else { return nil }
        guard let targetNode = item["target"] else {
            log.error(item, "a volume in the long syntax needs 'target'")
            return nil
        }
        guard let target = reader.string(targetNode) else { return nil }
        guard target.hasPrefix("/") else {
            log.error(targetNode, "the container path '\(target)' must be absolute")
            return nil
        }
        var readOnly = false
        if let node = item["read_only"], let value = reader.bool(node) { readOnly = value }
        let source = item["source"].flatMap { reader.optionalString($0) } ?? nil
        switch type {
        case "volume":
            guard let source, !source.isEmpty else { return VolumeMount(kind: .anonymous, source: nil, target: target, readOnly: readOnly) }
            return VolumeMount(kind: .volume, source: source, target: target, readOnly: readOnly)
        case "bind":
            guard let source, !source.isEmpty else {
                log.error(item, "a bind mount needs 'source' (a host path)")
                return nil
            }
            return VolumeMount(kind: .bind, source: source, target: target, readOnly: readOnly)
        case "tmpfs":
            if source != nil { log.warning(item["source"]!, "a tmpfs mount has no source; ignored") }
            return VolumeMount(kind: .tmpfs, source: nil, target: target, readOnly: readOnly)
        case "npipe", "cluster", "image":
            log.error(typeNode, "volume type '\(type)' is not supported by caas (expected volume, bind or tmpfs)")
            return nil
        default:
            log.error(typeNode, "unknown volume type '\(type)' (expected volume, bind or tmpfs)")
            return nil
        }
    }

    /// `tmpfs: /run` or a list of container paths (each optionally `:options`).
    func readTmpfs(_ node: YNode) -> [VolumeMount] {
        guard let paths = reader.strings(node, allowSingle: true) else { return [] }
        return paths.compactMap { text, item in
            let path = String(text.split(separator: ":", maxSplits: 1).first ?? "")
            guard path.hasPrefix("/") else {
                log.error(item, "the tmpfs path '\(text)' must be absolute")
                return nil
            }
            return VolumeMount(kind: .tmpfs, source: nil, target: path)
        }
    }
}
