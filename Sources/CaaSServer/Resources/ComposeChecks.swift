import CaaSCompose
import CaaSCrypto
import CaaSModel
import CaaSStore

/// How the API uses the compose parser: what makes a template acceptable, and what makes a
/// deployment's text plus variables deployable.
enum ComposeChecks {
    /// Whether a diagnostic is only about a variable without a value. Templates are stored before
    /// any variable is known, so these are deployment-time problems, not template errors.
    static func isAboutUnsetVariable(_ diagnostic: ComposeDiagnostic) -> Bool {
        (diagnostic.message.hasPrefix("required variable ") || diagnostic.message.hasPrefix("variable "))
            && diagnostic.message.contains(" is not set")
    }

    /// Parses a template's text: the version to store, or a 422 with every error.
    static func templateVersion(_ text: String, description: String, author: String) throws -> NewTemplateVersion {
        let result = ComposeParser.parse(text)
        let errors = result.errors.filter { !isAboutUnsetVariable($0) }
        if !errors.isEmpty { throw APIError.invalidCompose(errors) }
        let warnings = result.warnings.filter { !isAboutUnsetVariable($0) }
        return NewTemplateVersion(
            compose: text, digestHex: Hex.encode(SHA256.hash(text)),
            variablesJSON: ResourceViews.variables(result.variables, secretLines: ComposeRedaction.redact(text).lines).serialized,
            warningsJSON: JSONValue.array(warnings.map(ResourceViews.diagnostic)).serialized,
            description: description, author: author)
    }

    /// Parses a deployment's text with its variables under the tenant's host policy: the spec, or
    /// a 422 naming every error (what the policy refuses among them, at its line) or every missing
    /// variable.
    static func deployableSpec(_ text: String, variables: [String: String], policy: HostPolicy, pointer: String) throws -> AppSpec {
        let result = ComposeParser.parse(text, variables: variables).checked(against: policy)
        let errors = result.errors.filter { !isAboutUnsetVariable($0) }
        if !errors.isEmpty { throw APIError.invalidCompose(errors, pointer: pointer) }
        if !result.missingVariables.isEmpty || !result.errors.isEmpty {
            var names = result.missingVariables
            for reference in result.variables where reference.isRequired && variables[reference.name] == nil && !names.contains(reference.name) {
                names.append(reference.name)
            }
            throw APIError.missingVariables(names, references: result.variables)
        }
        guard let spec = result.spec else { throw APIError.invalidCompose(result.errors, pointer: pointer) }
        return spec
    }
}
