/// JSON merge patch (RFC 7396): members of the patch replace the target's, `null` removes one,
/// objects merge recursively, anything else (arrays included) replaces wholesale.
public enum MergePatch {
    public static func apply(_ patch: JSONValue, to target: JSONValue) -> JSONValue {
        guard case .object(let patchMembers) = patch else { return patch }
        var result: [String: JSONValue]
        if case .object(let targetMembers) = target { result = targetMembers } else { result = [:] }
        for (key, value) in patchMembers {
            if value == .null {
                result[key] = nil
            } else {
                result[key] = apply(value, to: result[key] ?? .null)
            }
        }
        return .object(result)
    }
}
