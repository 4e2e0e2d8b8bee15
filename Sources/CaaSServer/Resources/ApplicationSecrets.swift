import CaaSCompose
import CaaSCrypto
import CaaSModel
import Foundation

/// Secrets of applications at rest: values of deploy-time variables and environment entries
/// whose names look secret (`SecretNames`) are sealed with the configured key before they reach
/// the store, and shown as `***` in every answer.
///
/// Stored forms: a sealed variable is `{"sealed": "<base64url>"}` in the variables object; a sealed
/// environment value is the string `sealed:v1:<base64url>` in the spec. Every seal is bound to its
/// tenant, its application and its variable's name (AES-GCM associated data,
/// `associatedData(kind:tenantID:ownerID:name:)`): a seal copied into another application,
/// tenant or variable does not open. The pusher opens environment values when it builds the
/// desired state for an agent (`opened(_:key:)`): the mTLS agent channel is the only place their
/// plain values travel.
///
/// A value that arrives already in the sealed form is accepted only when it is a seal of this very
/// tenant, application and variable (what caas itself stored, say an image application's
/// unchanged environment); anything else is refused (`foreignSeals`), so no client can inject a
/// ciphertext taken from elsewhere.
struct ApplicationSecrets: Sendable {
    static let environmentPrefix = "sealed:v1:"
    let box: SecretBox
    let tenantID: String
    let applicationID: String

    init(key: [UInt8], tenantID: String, applicationID: String) throws {
        box = try SecretBox(key: key)
        self.tenantID = tenantID
        self.applicationID = applicationID
    }

    /// What a seal is bound to: `caas.<kind>.v1`, the tenant id, the owner's id (an application,
    /// or a template for `TemplateSecrets`) and the variable's name, NUL-separated (ids never hold
    /// a NUL, and the name comes last).
    static func associatedData(kind: String, tenantID: String, ownerID: String, name: String) -> [UInt8] {
        Array("caas.\(kind).v1\u{0}\(tenantID)\u{0}\(ownerID)\u{0}\(name)".utf8)
    }

    private func bound(_ kind: String, _ name: String) -> [UInt8] {
        Self.associatedData(kind: kind, tenantID: tenantID, ownerID: applicationID, name: name)
    }

    // MARK: Variables

    /// Variables as stored: JSON object text.
    func sealVariables(_ variables: [String: String]) throws -> String {
        var members: [String: JSONValue] = [:]
        for (name, value) in variables {
            members[name] = SecretNames.isSecret(name)
                ? .object(["sealed": .string(Base64URL.encode(try box.seal(Array(value.utf8), associatedData: bound("variable", name))))])
                : .string(value)
        }
        return JSONValue.object(members).serialized
    }

    /// A stored secret variable that does not open as this application's.
    struct UnopenableVariable: Error {
        var name: String
    }

    /// The plain values of stored variables (for a re-parse on update).
    func openVariables(_ stored: String) throws -> [String: String] {
        guard case .object(let members) = try JSONParser.parse(Array(stored.utf8)) else { return [:] }
        var out: [String: String] = [:]
        for (name, value) in members {
            switch value {
            case .string(let text): out[name] = text
            case .object(let sealed):
                guard let text = sealed["sealed"]?.stringValue, let bytes = Base64URL.decode(text),
                      let plain = try? box.open(bytes, associatedData: bound("variable", name)) else { throw UnopenableVariable(name: name) }
                out[name] = String(decoding: plain, as: UTF8.self)
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

    /// An environment entry whose value is in the sealed form but is no seal of this application's
    /// for that variable.
    struct ForeignSeal: Equatable, Sendable {
        var service: String
        var name: String
        var value: String
    }

    /// Every environment value in the sealed form that does not open as this tenant's,
    /// application's and variable's own: such a spec is refused.
    func foreignSeals(in spec: AppSpec) -> [ForeignSeal] {
        spec.services.flatMap { service in
            service.environment.compactMap { variable -> ForeignSeal? in
                guard let value = variable.value, value.hasPrefix(Self.environmentPrefix) else { return nil }
                return (try? open(value, name: variable.name)) == nil
                    ? ForeignSeal(service: service.name, name: variable.name, value: value) : nil
            }
        }
    }

    /// The spec with every secret-looking environment value sealed, and every environment value
    /// that contains one of `secretValues` (a secret variable interpolated into, say,
    /// `DATABASE_URL`). Values already sealed are left as they are: check them with
    /// `foreignSeals` first.
    func seal(_ spec: AppSpec, secretValues: [String] = []) throws -> AppSpec {
        var sealed = spec
        let needles = secretValues.filter { !$0.isEmpty }
        for index in sealed.services.indices {
            sealed.services[index].environment = try sealed.services[index].environment.map { variable in
                guard let value = variable.value, !value.hasPrefix(Self.environmentPrefix),
                      SecretNames.isSecret(variable.name) || needles.contains(where: { value.contains($0) }) else {
                    return variable
                }
                let bytes = try box.seal(Array(value.utf8), associatedData: bound("env", variable.name))
                return EnvironmentVariable(name: variable.name, value: Self.environmentPrefix + Base64URL.encode(bytes))
            }
        }
        return sealed
    }

    /// Compose text as stored: every secret environment value written as a literal (without `$`)
    /// replaced by its seal where it is written (`ComposeRedaction.rewrite`), so the stored text
    /// holds no plain secret either and still parses to the same (sealed) environment. Values
    /// that interpolate (`${DB_PASSWORD}`, `${X:-default}`, `$$`) stay as written: a re-parse with
    /// new variables needs them. A text whose secret values have no exact place stays as given.
    func sealText(_ text: String) throws -> String {
        let sealed = try ComposeRedaction.rewrite(text) { name, written in
            guard !written.contains("$"), !written.hasPrefix(Self.environmentPrefix) else { return nil }
            return Self.environmentPrefix + Base64URL.encode(try box.seal(Array(written.utf8), associatedData: bound("env", name)))
        }
        return sealed?.text ?? text
    }

    /// The plain value of environment variable `name`: a value not in the sealed form is plain
    /// already; a sealed one opens only as this application's seal for `name`.
    func open(_ value: String, name: String) throws -> String {
        guard value.hasPrefix(Self.environmentPrefix) else { return value }
        guard let bytes = Base64URL.decode(String(value.dropFirst(Self.environmentPrefix.count))) else {
            throw CryptoError(operation: "sealed value is not base64url")
        }
        return String(decoding: try box.open(bytes, associatedData: bound("env", name)), as: UTF8.self)
    }

    // MARK: Pushes

    /// A sealed environment value of a desired container that does not open (a key that changed,
    /// or a row altered in the database): the push is not sent.
    struct UnopenableSeal: Error, CustomStringConvertible {
        var applicationID: String
        var service: String
        var name: String

        var description: String {
            "the sealed value of \(name) in service \(service) of application \(applicationID) does not open "
                + "(sealed under another CAAS_SECRETS_KEY, or before seals were bound to their application): "
                + "redeploy the application giving its secrets again"
        }
    }

    /// The desired state with every sealed environment value opened, each under its own
    /// container's tenant and application: what the agent gives the engine.
    static func opened(_ state: DesiredClusterState, key: [UInt8]) throws -> DesiredClusterState {
        let box = try SecretBox(key: key)
        var opened = state
        for n in opened.nodes.indices {
            for c in opened.nodes[n].containers.indices {
                let container = opened.nodes[n].containers[c]
                guard container.environment.contains(where: { $0.value?.hasPrefix(environmentPrefix) == true }) else { continue }
                let secrets = ApplicationSecrets(box: box, tenantID: container.tenantId, applicationID: container.appId)
                opened.nodes[n].containers[c].environment = try container.environment.map { variable in
                    guard let value = variable.value, value.hasPrefix(environmentPrefix) else { return variable }
                    do {
                        return EnvironmentVariable(name: variable.name, value: try secrets.open(value, name: variable.name))
                    } catch {
                        throw UnopenableSeal(applicationID: container.appId, service: container.serviceName, name: variable.name)
                    }
                }
            }
        }
        return opened
    }

    private init(box: SecretBox, tenantID: String, applicationID: String) {
        self.box = box
        self.tenantID = tenantID
        self.applicationID = applicationID
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

    /// The spec as answers show it: secret-looking environment values masked, sealed ones, and
    /// (for a spec not sealed yet) those that contain one of `secretValues`.
    static func masked(_ spec: AppSpec, secretValues: [String] = []) -> AppSpec {
        var masked = spec
        let needles = secretValues.filter { !$0.isEmpty }
        for index in masked.services.indices {
            masked.services[index].environment = masked.services[index].environment.map { variable in
                guard let value = variable.value,
                      SecretNames.isSecret(variable.name) || value.hasPrefix(environmentPrefix) || needles.contains(where: { value.contains($0) }) else {
                    return variable
                }
                return EnvironmentVariable(name: variable.name, value: SecretNames.mask)
            }
        }
        return masked
    }
}

extension APIError {
    /// 422: environment values in the sealed form that are no seals of this application's (pasted
    /// from another application or tenant, or made up): each named, its ciphertext never echoed.
    static func foreignSeals(_ seals: [ApplicationSecrets.ForeignSeal],
                             pointer: (ApplicationSecrets.ForeignSeal) -> String) -> APIError {
        let errors = seals.map { seal in
            FieldError(pointer: pointer(seal), detail: "environment variable \(seal.name) of service \(seal.service) holds a value in "
                + "caas's sealed form (\(ApplicationSecrets.environmentPrefix)…) that was not sealed for this application: give its plain value")
        }
        let names = seals.map { "\($0.service).\($0.name)" }.joined(separator: ", ")
        return APIError(status: 422, slug: "foreign-sealed-value", title: "A sealed value belongs to another application",
                        detail: "sealed values are accepted only from this application's own seals: \(names)", errors: errors)
    }
}
