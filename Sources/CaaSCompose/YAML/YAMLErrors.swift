import Yams

/// YAML syntax errors as positioned messages.
enum YAMLErrors {
    static func position(_ error: any Error) -> (line: Int, column: Int) {
        guard let yamlError = error as? YamlError else { return (1, 1) }
        switch yamlError {
        case let .scanner(_, _, mark, _), let .parser(_, _, mark, _), let .composer(_, _, mark, _):
            return (mark.line, mark.column)
        case let .duplicatedKeysInMapping(_, context):
            return (context.mark.line, context.mark.column)
        default:
            return (1, 1)
        }
    }

    static func message(_ error: any Error) -> String {
        guard let yamlError = error as? YamlError else { return "invalid YAML: \(error)" }
        switch yamlError {
        case let .scanner(context, problem, _, _), let .parser(context, problem, _, _), let .composer(context, problem, _, _):
            if let context, !context.text.isEmpty {
                return "invalid YAML: \(problem) (\(context.text))"
            }
            return "invalid YAML: \(problem)"
        case let .duplicatedKeysInMapping(duplicates, _):
            return "invalid YAML: duplicate key\(duplicates.count == 1 ? "" : "s") \(duplicates.map { "'\($0)'" }.joined(separator: ", "))"
        case let .reader(problem, _, _, _):
            return "invalid text: \(problem)"
        default:
            return "invalid YAML: \(yamlError)"
        }
    }
}
