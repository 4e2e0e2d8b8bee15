import CaaSCompose
import CaaSModel
import Foundation
import Testing

/// Reads a fixture shipped with the test bundle (`Fixtures/NAME` or `Fixtures/corpus/NAME`).
func fixtureText(_ path: String) throws -> String {
    let base = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures")
    return try String(contentsOf: base.appendingPathComponent(path), encoding: .utf8)
}

/// Parses and requires a valid spec, printing diagnostics when it is not.
func parseValid(_ text: String, variables: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation) throws -> (AppSpec, ComposeResult) {
    let result = ComposeParser.parse(text, variables: variables)
    let spec = try #require(result.spec, "expected a valid spec; diagnostics:\n\(result.diagnostics.map(\.description).joined(separator: "\n"))", sourceLocation: sourceLocation)
    return (spec, result)
}

func service(_ spec: AppSpec, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> ServiceSpec {
    try #require(spec.service(named: name), "no service \(name)", sourceLocation: sourceLocation)
}


/// The named service, or an empty placeholder with a recorded issue (usable inside `#expect`).
func svc(_ spec: AppSpec, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) -> ServiceSpec {
    guard let s = spec.service(named: name) else {
        Issue.record("no service \(name)", sourceLocation: sourceLocation)
        return ServiceSpec(name: name, image: "")
    }
    return s
}
