import CaaSCompose
import CaaSCrypto
import CaaSModel

/// Template versions' secrets at rest: each literal secret environment value of a version's
/// compose text (one written without `$`) is stored sealed where it is written, bound to the
/// tenant, the template and the variable's name (`ApplicationSecrets.associatedData`, kind
/// `template-env`). A deployment opens them (`openText`) before it parses the text; the
/// application then seals them as its own (`ApplicationSecrets`).
///
/// A text that already holds a value in the sealed form is refused (`foreignSeals`): a template
/// version is written by a client, and caas never shows a client one of its seals.
struct TemplateSecrets: Sendable {
    let box: SecretBox
    let tenantID: String
    let templateID: String

    init(key: [UInt8], tenantID: String, templateID: String) throws {
        box = try SecretBox(key: key)
        self.tenantID = tenantID
        self.templateID = templateID
    }

    private func bound(_ name: String) -> [UInt8] {
        ApplicationSecrets.associatedData(kind: "template-env", tenantID: tenantID, ownerID: templateID, name: name)
    }

    /// The names of secret environment entries whose written value is in caas's sealed form.
    static func foreignSeals(in text: String) -> [String] {
        var names: [String] = []
        _ = ComposeRedaction.rewrite(text) { name, written in
            if written.hasPrefix(ApplicationSecrets.environmentPrefix), !names.contains(name) { names.append(name) }
            return nil
        }
        return names
    }

    /// The text as stored: literal secret values sealed where they are written (the text as given
    /// when they have no exact place in it).
    func sealText(_ text: String) throws -> String {
        let sealed = try ComposeRedaction.rewrite(text) { name, written in
            guard !written.contains("$"), !written.hasPrefix(ApplicationSecrets.environmentPrefix) else { return nil }
            return ApplicationSecrets.environmentPrefix + Base64URL.encode(try box.seal(Array(written.utf8), associatedData: bound(name)))
        }
        return sealed?.text ?? text
    }

    /// The text with this template's seals opened where they are written: what a deployment
    /// parses. A value in the sealed form that is not this template's stays as it is (the
    /// application then refuses it).
    func openText(_ text: String) -> String {
        let opened = ComposeRedaction.rewrite(text) { name, written -> String? in
            guard written.hasPrefix(ApplicationSecrets.environmentPrefix),
                  let bytes = Base64URL.decode(String(written.dropFirst(ApplicationSecrets.environmentPrefix.count))),
                  let plain = try? box.open(bytes, associatedData: bound(name)) else { return nil }
            return String(decoding: plain, as: UTF8.self)
        }
        return opened?.text ?? text
    }
}

extension APIError {
    /// 422: secret environment values of a template text in caas's sealed form, each named.
    static func sealedValuesInTemplate(_ names: [String]) -> APIError {
        APIError(status: 422, slug: "foreign-sealed-value", title: "A sealed value belongs to another application",
                 detail: "environment values in caas's sealed form are not accepted in templates: \(names.joined(separator: ", "))",
                 errors: names.map { name in
                     FieldError(pointer: "/compose", detail: "environment variable \(name) holds a value in caas's sealed form "
                         + "(\(ApplicationSecrets.environmentPrefix)…): give its plain value")
                 })
    }
}
