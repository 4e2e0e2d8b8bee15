import CaaSCrypto
import CaaSModel
import Foundation

/// Secrets of applications at rest: values of deploy-time variables and environment entries
/// whose names look secret (`SecretNames`) are sealed with the configured key before they reach
/// the store, and shown as `***` in every answer.
///
/// Stored forms: a sealed variable is `{"sealed": "<base64url>"}` in the variables object; a sealed
/// environment value is the string `sealed:v1:<base64url>` in the spec. The scheduler opens them
/// when it builds a container's configuration.
struct ApplicationSecrets: Sendable {
    static let environmentPrefix = "sealed:v1:"
    let box: SecretBox

    init(key: [UInt8]) throws {
        box = try SecretBox(key: key)
    }

    // MARK: Variables

    /// Variables as stored: JSON object text.
    func sealVariables(_ variables: [String: String]) throws -> String {
        var members: [String: JSONValue] = [:]
        for (name, value) in variables {
            members[name] = SecretNames.isSecret(name)
                ? .object(["sealed": .string(Base64URL.encode(try box.seal(Array(value.utf8))))])
                : .string(value)
        }
        return JSONValue.object(members).serialized
    }

    /// The plain values of stored variables (for a re-parse on update).
    func openVariables(_ stored: String) throws -> [String: String] {
        guard case .object(let members) = try JSONParser.parse(Array(stored.utf8)) else { return [:] }
        var out: [String: String] = [:]
        for (name, value) in members {
            switch value {
            case .string(let text): out[name] = text
            case .object(let sealed):
                guard let text = sealed["sealed"]?.stringValue, let bytes = Base64URL.decode(text) else { continue }
                out[name] = String(decoding: try box.open(bytes), as: UTF8.self)
            default: continue
            }
        }
        return out
    }

    /// What answers show: sealed values masked.
    static func viewVariables(_ stored: String) -> JSONValue {
        guard let value = try? JSONParser.parse(Array(stored.utf8)), case .object(let members) = value else { return .object([:]) }
        return .object(members.mapValues { value in
            if case .string = value { return value }
            return .string(SecretNames.mask)
        })
    }

    // MARK: Environment in specs

    /// The spec with every secret-looking environment value sealed, and every environment value
    /// that contains one of `secretValues` (a secret variable interpolated into, say,
    /// `DATABASE_URL`).
    func seal(_ spec: AppSpec, secretValues: [String] = []) throws -> AppSpec {
        var sealed = spec
        let needles = secretValues.filter { !$0.isEmpty }
        for index in sealed.services.indices {
            sealed.services[index].environment = try sealed.services[index].environment.map { variable in
                guard let value = variable.value, !value.hasPrefix(Self.environmentPrefix),
                      SecretNames.isSecret(variable.name) || needles.contains(where: { value.contains($0) }) else {
                    return variable
                }
                return EnvironmentVariable(name: variable.name,
                                           value: Self.environmentPrefix + Base64URL.encode(try box.seal(Array(value.utf8))))
            }
        }
        return sealed
    }

    func open(_ sealedValue: String) throws -> String {
        guard sealedValue.hasPrefix(Self.environmentPrefix),
              let bytes = Base64URL.decode(String(sealedValue.dropFirst(Self.environmentPrefix.count))) else { return sealedValue }
        return String(decoding: try box.open(bytes), as: UTF8.self)
    }

    /// The names of secret variables whose values would still be stored in clear somewhere in the
    /// sealed spec (a command, a label, an image): such a spec is refused. Values shorter than
    /// four characters are not searched (too likely to match by chance).
    static func leaks(in sealed: AppSpec, variables: [String: String]) -> [String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        guard let data = try? encoder.encode(sealed) else { return [] }
        let text = String(decoding: data, as: UTF8.self)
        return variables.keys.sorted().filter { name in
            guard SecretNames.isSecret(name), let value = variables[name], value.count >= 4 else { return false }
            let escaped = JSONValue.string(value).serialized.dropFirst().dropLast()
            return text.contains(String(escaped))
        }
    }

    /// The spec as answers show it: secret-looking environment values masked.
    static func masked(_ spec: AppSpec) -> AppSpec {
        var masked = spec
        for index in masked.services.indices {
            masked.services[index].environment = masked.services[index].environment.map { variable in
                guard let value = variable.value, SecretNames.isSecret(variable.name) || value.hasPrefix(environmentPrefix) else {
                    return variable
                }
                return EnvironmentVariable(name: variable.name, value: SecretNames.mask)
            }
        }
        return masked
    }
}
