import CaaSCrypto
import Foundation

/// The key that seals application secrets at rest. An operator gives it as `CAAS_SECRETS_KEY`;
/// a server on the embedded PostgreSQL keeps its own in `<data-dir>/secrets.key` (mode 0600),
/// created on first start, so sealed values survive restarts beside the data they protect.
public enum SecretsKeyFile {
    public static func loadOrCreate(dataDirectory: String) throws -> [UInt8] {
        let path = URL(fileURLWithPath: dataDirectory).appendingPathComponent("secrets.key").path
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            guard let key = Hex.decode(text.trimmingCharacters(in: .whitespacesAndNewlines)), key.count == 32 else {
                throw ConfigurationError(setting: "CAAS_SECRETS_KEY", message: "\(path) does not hold 64 hex digits")
            }
            return key
        }
        let key = try SecureRandom.bytes(32)
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw ConfigurationError(setting: "CAAS_SECRETS_KEY", message: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let text = Array((Hex.encode(key) + "\n").utf8)
        guard write(descriptor, text, text.count) == text.count, fsync(descriptor) == 0 else {
            throw ConfigurationError(setting: "CAAS_SECRETS_KEY", message: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        return key
    }
}
