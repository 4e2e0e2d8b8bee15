import CaaSCrypto
import Foundation

/// The image of the nodes' name server: the static `caas-dns` binary alone, imported into each
/// engine that lacks it under a tag of the binary's digest (a new binary is a new image).
public struct NameServerImage: Sendable {
    public static let repository = "caas/dns"
    /// Where the server is in the image.
    public static let executable = "/caas-dns"

    public let reference: String
    public let tag: String
    public let archive: [UInt8]

    /// The image of the binary at `path`; nil when it cannot be read.
    public init?(binary path: String) {
        guard let contents = FileManager.default.contents(atPath: path), !contents.isEmpty else { return nil }
        let bytes = Array(contents)
        tag = String(SHA256.hex(bytes).prefix(16))
        reference = "\(Self.repository):\(tag)"
        archive = TarArchive.archive([TarArchive.File(path: String(Self.executable.dropFirst()), mode: 0o755, contents: bytes)])
    }

    /// `caas-dns` beside the running executable (where `make` and the packages put it).
    public static func besideExecutable() -> String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("caas-dns").path
    }
}
