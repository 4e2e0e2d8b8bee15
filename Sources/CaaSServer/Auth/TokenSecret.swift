import CaaSCrypto

/// API token secrets: `caas_` + base32 of 32 bytes from OpenSSL's generator (256 bits), shown
/// once. Only the SHA-256 of the whole secret is stored.
public enum TokenSecret {
    public static let prefix = "caas_"
    public static let randomBytes = 32

    public static func generate() throws -> String {
        prefix + Base32.encode(try SecureRandom.bytes(randomBytes))
    }

    /// Lower-case hex SHA-256 of the secret: what the database keeps and looks up.
    public static func digestHex(_ secret: String) -> String {
        Hex.encode(SHA256.hash(secret))
    }

    /// Whether `text` has the shape of a secret (checked before hashing anything).
    public static func isWellFormed(_ text: String) -> Bool {
        guard text.hasPrefix(prefix) else { return false }
        let body = text.dropFirst(prefix.count)
        guard body.utf8.count >= 52, body.utf8.count <= 128 else { return false }
        return body.utf8.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "2")...UInt8(ascii: "7")).contains($0) }
    }
}
