import CaaSCrypto
import CaaSModel
import Foundation

/// What an agent keeps between starts, in its state directory (mode 0700; every file 0600):
///
/// - `agent.json`: who it is (agent and cluster ids), where the control plane is;
/// - `key.pem`: its private key (PKCS#8);
/// - `cert.pem`: its certificate followed by its cluster's CA certificate;
/// - `ca.pem`: the control-plane CA, the one certificate it trusts;
/// - `nodes.json`: the node ids of its last registration (a start while the control plane is away).
public struct AgentStateDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public var statePath: String { path + "/agent.json" }
    public var keyPath: String { path + "/key.pem" }
    public var certificatePath: String { path + "/cert.pem" }
    public var trustAnchorPath: String { path + "/ca.pem" }
    public var nodesPath: String { path + "/nodes.json" }

    /// Whether the agent joined (its identity files are there).
    public var hasJoined: Bool {
        [statePath, keyPath, certificatePath, trustAnchorPath].allSatisfy { FileManager.default.fileExists(atPath: $0) }
    }

    /// The recorded identity.
    public struct State: Codable, Sendable, Equatable {
        public var agentId: String
        public var clusterId: String
        /// The public API the agent joined through.
        public var serverUrl: String
        /// The control plane's mTLS URL for agents.
        public var agentApiUrl: String
        /// The agent's own endpoint, as it was told to the control plane.
        public var endpoint: String?
        public var certificateSerial: String
        public var certificateExpiresAt: Date
        public var joinedAt: Date
        public var renewedAt: Date?
    }

    public func loadState() throws -> State {
        guard hasJoined else { throw AgentJoinError.notJoined(path) }
        return try AgentWire.decoder().decode(State.self, from: Data(contentsOf: URL(fileURLWithPath: statePath)))
    }

    /// The agent's certificate (the first of `cert.pem`).
    public func certificate() throws -> Certificate {
        try Certificate(pem: String(contentsOfFile: certificatePath, encoding: .utf8))
    }

    /// Makes the directory (0700) if needed; tightens its mode if it exists.
    public func prepare() throws {
        if !FileManager.default.fileExists(atPath: path) {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        guard chmod(path, 0o700) == 0 else { throw AgentJoinError.stateDirectory("\(path): \(String(cString: strerror(errno)))") }
    }

    /// Saves a newly issued certificate with its key: the key first, then the certificate, then
    /// the state, each written atomically with mode 0600.
    public func save(issued: IssuedCertificateBody, key: PrivateKey, serverURL: String, endpoint: String?, renewal: Bool) throws {
        try prepare()
        var state = State(agentId: issued.agentId, clusterId: issued.clusterId, serverUrl: serverURL, agentApiUrl: issued.agentApiUrl,
                          endpoint: endpoint, certificateSerial: issued.certificateSerial,
                          certificateExpiresAt: issued.certificateExpiresAt, joinedAt: Date(), renewedAt: nil)
        if renewal, let previous = try? loadState() {
            state.joinedAt = previous.joinedAt
            state.renewedAt = Date()
            state.serverUrl = previous.serverUrl
        }
        try Self.writePrivate(Array(try key.pem().utf8), to: keyPath)
        try Self.writePrivate(Array(issued.certificateChain.utf8), to: certificatePath)
        try Self.writePrivate(Array(issued.trustAnchor.utf8), to: trustAnchorPath)
        try Self.writePrivate(Array(try AgentWire.encoder().encode(state)), to: statePath)
    }

    public func saveNodes(_ nodes: [NodeRegistrationBody.Node]) throws {
        try Self.writePrivate(Array(try AgentWire.encoder().encode(nodes)), to: nodesPath)
    }

    public func loadNodes() -> [NodeRegistrationBody.Node]? {
        guard let data = FileManager.default.contents(atPath: nodesPath) else { return nil }
        return try? AgentWire.decoder().decode([NodeRegistrationBody.Node].self, from: data)
    }

    /// Writes `bytes` to `path` through a temporary file (0600) and a rename.
    public static func writePrivate(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw AgentJoinError.stateDirectory("\(temporary): \(String(cString: strerror(errno)))") }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written <= 0 {
                close(fd)
                unlink(temporary)
                throw AgentJoinError.stateDirectory("\(temporary): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
        fsync(fd)
        close(fd)
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw AgentJoinError.stateDirectory("\(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// Why joining or starting from the state directory failed.
public enum AgentJoinError: Error, Sendable, CustomStringConvertible, Equatable {
    case notJoined(String)
    case stateDirectory(String)
    case refused(status: Int, detail: String)
    case unreachable(String)
    case badAnswer(String)
    /// The join would not know who answers (plain HTTP without a CA fingerprint).
    case insecure(String)

    public var description: String {
        switch self {
        case .notJoined(let path): "\(path) holds no agent identity: run `caas-agent join --server URL --token TOKEN --state-dir \(path)` first"
        case .stateDirectory(let detail): "state directory: \(detail)"
        case .refused(let status, let detail): "the control plane refused (\(status)): \(detail)"
        case .unreachable(let detail): "the control plane is not reachable: \(detail)"
        case .badAnswer(let detail): "the control plane's answer is not usable: \(detail)"
        case .insecure(let detail): detail
        }
    }
}
