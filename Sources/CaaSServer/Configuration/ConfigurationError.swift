/// A setting that cannot be used, named as the operator wrote it (flag or environment variable).
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var setting: String
    public var message: String

    public init(setting: String, message: String) {
        self.setting = setting
        self.message = message
    }

    public var description: String { "invalid \(setting): \(message)" }
}
