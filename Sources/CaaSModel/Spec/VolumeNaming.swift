/// The engine name of a top-level volume: who owns it decides what it is called on the nodes.
///
/// A named volume belongs to its application. Two applications that both declare `data` get two
/// engine volumes, `caas_<tenant>_<app>_data` each, so one cannot read the other's files. The
/// name is a pure function of the owner and the declaration: every push, every agent and every
/// node arrive at the same one.
///
/// An `external` volume already exists and keeps the name it was given (`name:`, else its key).
/// Whether a tenant may name one at all is its host policy's decision (`HostPolicy.externalVolumes`),
/// taken where compose text is validated and deployed, not here.
public enum VolumeNaming {
    /// The engine volume for `volume`, declared by application `appId` of tenant `tenantId`.
    /// A non-external volume's `name:` (when given) replaces its key in the last part.
    public static func engineName(of volume: VolumeSpec, tenantId: String, appId: String) -> String {
        if volume.external { return volume.externalName ?? volume.name }
        return ownedName(volume.externalName ?? volume.name, tenantId: tenantId, appId: appId)
    }

    /// `caas_<tenant>_<app>_<name>`, each part sanitised to the engine's volume-name characters.
    public static func ownedName(_ name: String, tenantId: String, appId: String) -> String {
        "caas_\(sanitize(tenantId))_\(sanitize(appId))_\(sanitize(name))"
    }

    /// Engine volume names allow `[a-zA-Z0-9_.-]`; anything else becomes `_` (an empty part: `_`).
    /// The whole name starts with `caas`, so it also starts with a letter as the engine requires.
    public static func sanitize(_ part: String) -> String {
        let mapped = part.unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_", ".", "-": Character(scalar)
            default: "_"
            }
        }
        return mapped.isEmpty ? "_" : String(mapped)
    }
}
