import CaaSModel

extension ServiceReader {
    struct EnvironmentOutput {
        var variables: [EnvironmentVariable] = []
        var constraints: [PlacementConstraint] = []
        var passthrough: [VariableReference] = []
    }

    /// `environment:` as a list (`KEY=VALUE`, `KEY`) or a mapping; values of any scalar type become
    /// strings, a null or bare `KEY` takes the deploy-time variable of that name when given.
    /// Swarm-classic placement entries (`constraint:…`, `availability:…`, `affinity:…`) become
    /// placement constraints and are not passed to the container.
    func readEnvironment(_ node: YNode) -> EnvironmentOutput {
        var out = EnvironmentOutput()
        guard let pairs = reader.keyValues(node, what: "environment") else { return out }
        var indexByName: [String: Int] = [:]
        for (key, value, item) in pairs {
            if ConstraintSyntax.isEnvironmentConstraint(key) {
                // List form `constraint:az==2` splits at the first '=': key `constraint:az`, value `=2`.
                let expression = value.map { key + "=" + $0 } ?? key
                do {
                    switch try ConstraintSyntax.parseEnvironment(expression) {
                    case .constraint(let c): out.constraints.append(c)
                    case .ignored(let reason): log.warning(item, reason)
                    }
                } catch {
                    log.error(item, error.message)
                }
                continue
            }
            let name = key.trimmingSpaces
            guard !name.isEmpty, !name.contains(where: { $0 == " " || $0 == "\t" }) else {
                log.error(item, "'\(key)' is not an environment variable name")
                continue
            }
            var resolved = value
            if value == nil {
                out.passthrough.append(VariableReference(name: name, kind: .passthrough, path: item.path, line: item.line, column: item.column))
                resolved = variables[name]
            }
            if let index = indexByName[name] {
                log.warning(item, "environment variable \(name) is set twice; the last value wins")
                out.variables[index].value = resolved
            } else {
                indexByName[name] = out.variables.count
                out.variables.append(EnvironmentVariable(name: name, value: resolved))
            }
        }
        return out
    }
}
