import CaaSCrypto
import CaaSModel
import Foundation

/// Settings of the resource API. `resolve` is pure so it is tested on values.
public struct ResourceSettings: Sendable, Equatable {
    /// `CAAS_SECRETS_KEY`: 32 bytes as 64 hex digits or 43 base64url characters; encrypts the
    /// values of secret-looking variables and environment entries at rest. `nil`: the control
    /// plane makes a random key per process (development only: sealed values do not survive a
    /// restart) and logs a warning.
    public var secretsKey: [UInt8]?
    /// `CAAS_ROLLOUT_DEADLINE`: seconds a rollout may take before it ends as failed.
    public var rolloutDeadlineSeconds: Int = 600
    /// `CAAS_DEFAULT_CLUSTER_CIDR`: the network of clusters created without one.
    public var defaultClusterNetwork: String = "10.42.0.0/16"

    public init(secretsKey: [UInt8]? = nil) {
        self.secretsKey = secretsKey
    }

    public static func resolve(environment: [String: String]) throws(ConfigurationError) -> ResourceSettings {
        var key: [UInt8]?
        if let text = environment["CAAS_SECRETS_KEY"], !text.isEmpty {
            key = text.count == 64 ? Hex.decode(text) : Base64URL.decode(text)
            guard key?.count == SecretBox.keyByteCount else {
                throw ConfigurationError(setting: "CAAS_SECRETS_KEY", message: "must be 32 bytes as 64 hex digits or 43 base64url characters (e.g. `openssl rand -hex 32`)")
            }
        }
        var settings = ResourceSettings(secretsKey: key)
        if let text = environment["CAAS_ROLLOUT_DEADLINE"], !text.isEmpty {
            guard let seconds = Int(text), (10...86_400).contains(seconds) else {
                throw ConfigurationError(setting: "CAAS_ROLLOUT_DEADLINE", message: "\(text) is not a number of seconds from 10 to 86400")
            }
            settings.rolloutDeadlineSeconds = seconds
        }
        if let text = environment["CAAS_DEFAULT_CLUSTER_CIDR"], !text.isEmpty {
            guard case .success = IPv4Network.parse(text) else {
                throw ConfigurationError(setting: "CAAS_DEFAULT_CLUSTER_CIDR", message: "\(text) is not an IPv4 network like 10.42.0.0/16")
            }
            settings.defaultClusterNetwork = text
        }
        return settings
    }
}
