/// Opaque resource identifiers with a type prefix: `app_…`, `clu_…`.
public enum IdentifierKind: String, Sendable, CaseIterable {
    case tenant = "ten"
    case token = "tok"
    case cluster = "clu"
    case node = "nod"
    case template = "tpl"
    case image = "img"
    case application = "app"
    case service = "svc"
    case container = "ctr"
    case deployment = "dep"
    case job = "job"
}

public enum Identifier {
    private static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz")

    /// A new identifier: the kind's prefix, `_`, and 20 base-32 characters (100 random bits).
    public static func make(_ kind: IdentifierKind) -> String {
        var generator = SystemRandomNumberGenerator()
        var suffix = ""
        suffix.reserveCapacity(20)
        for _ in 0..<20 {
            suffix.append(alphabet[Int(generator.next(upperBound: UInt8(alphabet.count)))])
        }
        return kind.rawValue + "_" + suffix
    }

    /// Whether `text` has the shape of an identifier of `kind`. Ids are checked before any lookup.
    public static func isValid(_ text: String, kind: IdentifierKind) -> Bool {
        let prefix = kind.rawValue + "_"
        guard text.hasPrefix(prefix), text.utf8.count == prefix.utf8.count + 20 else { return false }
        return text.dropFirst(prefix.count).allSatisfy { alphabet.contains($0) }
    }
}
