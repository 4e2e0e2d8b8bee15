/// Compose variable interpolation: `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME-default}`,
/// `${NAME:?message}`, `${NAME?message}`, `${NAME:+alternate}`, `${NAME+alternate}` and `$$`.
///
/// Defaults, messages and alternates may themselves contain references (`${A:-${B}}`); they are only
/// evaluated when used. A `$` followed by anything else, or an unterminated `${`, is a syntax error.
/// Interpolation is a pure function of the text and the variables.
public enum Interpolation {
    /// The outcome of interpolating one scalar.
    public struct Outcome: Sendable, Equatable {
        public var value: String
        /// Every reference written in the text, evaluated or not, in order.
        public var references: [VariableReference]
        public var problems: [Problem]

        public init(value: String, references: [VariableReference], problems: [Problem]) {
            self.value = value
            self.references = references
            self.problems = problems
        }
    }

    public enum Problem: Sendable, Equatable {
        /// Not valid interpolation syntax; the value cannot be computed.
        case syntax(String)
        /// `${NAME:?…}` / `${NAME?…}` without a value: an error.
        case missingRequired(name: String, message: String)
        /// `${NAME}` / `$NAME` without a value: substituted empty, a warning.
        case missing(name: String)
    }

    /// Interpolates `text` with `variables`.
    public static func interpolate(_ text: String, variables: [String: String]) -> Outcome {
        guard text.contains("$") else { return Outcome(value: text, references: [], problems: []) }
        var parser = TemplateParser(Array(text.unicodeScalars))
        do {
            let segments = try parser.parseSegments(insideBraces: false)
            var references: [VariableReference] = []
            collectReferences(segments, into: &references)
            var problems: [Problem] = []
            let value = evaluate(segments, variables: variables, problems: &problems)
            return Outcome(value: value, references: references, problems: problems)
        } catch let error as TemplateSyntaxError {
            return Outcome(value: text, references: [], problems: [.syntax(error.message)])
        } catch {
            return Outcome(value: text, references: [], problems: [.syntax("\(error)")])
        }
    }

    // MARK: - Syntax

    enum Operator: Sendable, Equatable {
        case defaultIfUnsetOrEmpty  // :-
        case defaultIfUnset  // -
        case requiredNonEmpty  // :?
        case required  // ?
        case alternateIfNonEmpty  // :+
        case alternateIfSet  // +
    }

    indirect enum Segment: Sendable, Equatable {
        case literal(String)
        case variable(name: String, op: Operator?, word: [Segment], wordText: String)
    }

    struct TemplateSyntaxError: Error {
        var message: String
    }

    struct TemplateParser {
        let scalars: [Unicode.Scalar]
        var index = 0

        init(_ scalars: [Unicode.Scalar]) {
            self.scalars = scalars
        }

        static func isNameStart(_ c: Unicode.Scalar) -> Bool {
            c == "_" || ("a"..."z").contains(c) || ("A"..."Z").contains(c)
        }

        static func isNameChar(_ c: Unicode.Scalar) -> Bool {
            isNameStart(c) || ("0"..."9").contains(c)
        }

        func peek(_ offset: Int = 0) -> Unicode.Scalar? {
            index + offset < scalars.count ? scalars[index + offset] : nil
        }

        /// Reads until the end of the text, or (inside braces) until the `}` closing the current `${`.
        mutating func parseSegments(insideBraces: Bool) throws -> [Segment] {
            var segments: [Segment] = []
            var literal = String.UnicodeScalarView()
            func flush() {
                if !literal.isEmpty {
                    segments.append(.literal(String(literal)))
                    literal = String.UnicodeScalarView()
                }
            }
            while let c = peek() {
                if insideBraces && c == "}" {
                    flush()
                    return segments
                }
                guard c == "$" else {
                    literal.append(c)
                    index += 1
                    continue
                }
                guard let next = peek(1) else {
                    throw TemplateSyntaxError(message: "invalid interpolation: '$' at the end of the value (write '$$' for a literal '$')")
                }
                if next == "$" {
                    literal.append("$")
                    index += 2
                } else if next == "{" {
                    flush()
                    index += 2
                    segments.append(try parseBraced())
                } else if Self.isNameStart(next) {
                    flush()
                    index += 1
                    segments.append(.variable(name: readName(), op: nil, word: [], wordText: ""))
                } else {
                    throw TemplateSyntaxError(message: "invalid interpolation: '$\(next)' (a variable name starts with a letter or '_'; write '$$' for a literal '$')")
                }
            }
            if insideBraces {
                throw TemplateSyntaxError(message: "invalid interpolation: unterminated '${' (missing '}')")
            }
            flush()
            return segments
        }

        mutating func readName() -> String {
            var name = String.UnicodeScalarView()
            while let c = peek(), Self.isNameChar(c) {
                name.append(c)
                index += 1
            }
            return String(name)
        }

        /// After `${`: `NAME}` or `NAME<op>word}`.
        mutating func parseBraced() throws -> Segment {
            guard let first = peek() else {
                throw TemplateSyntaxError(message: "invalid interpolation: unterminated '${' (missing '}')")
            }
            guard Self.isNameStart(first) else {
                if first == "}" {
                    throw TemplateSyntaxError(message: "invalid interpolation: '${}' names no variable")
                }
                throw TemplateSyntaxError(message: "invalid interpolation: '${\(first)…' (a variable name starts with a letter or '_')")
            }
            let name = readName()
            guard let c = peek() else {
                throw TemplateSyntaxError(message: "invalid interpolation: unterminated '${\(name)' (missing '}')")
            }
            if c == "}" {
                index += 1
                return .variable(name: name, op: nil, word: [], wordText: "")
            }
            let op: Operator
            switch (c, peek(1)) {
            case (":", "-"): op = .defaultIfUnsetOrEmpty; index += 2
            case (":", "?"): op = .requiredNonEmpty; index += 2
            case (":", "+"): op = .alternateIfNonEmpty; index += 2
            case ("-", _): op = .defaultIfUnset; index += 1
            case ("?", _): op = .required; index += 1
            case ("+", _): op = .alternateIfSet; index += 1
            default:
                throw TemplateSyntaxError(message: "invalid interpolation: unexpected '\(c)' in '${\(name)…}' (expected '}', ':-', '-', ':?', '?', ':+' or '+')")
            }
            let start = index
            let word = try parseSegments(insideBraces: true)
            let wordText = String(String.UnicodeScalarView(scalars[start..<index]))
            index += 1  // the closing brace
            return .variable(name: name, op: op, word: word, wordText: wordText)
        }
    }

    // MARK: - Evaluation

    static func collectReferences(_ segments: [Segment], into references: inout [VariableReference]) {
        for segment in segments {
            guard case let .variable(name, op, word, wordText) = segment else { continue }
            var reference = VariableReference(name: name)
            switch op {
            case .defaultIfUnsetOrEmpty, .defaultIfUnset:
                reference.defaultValue = wordText
            case .requiredNonEmpty, .required:
                reference.isRequired = true
                reference.requiredMessage = wordText.isEmpty ? nil : wordText
            case .alternateIfNonEmpty, .alternateIfSet, nil:
                break
            }
            references.append(reference)
            collectReferences(word, into: &references)
        }
    }

    static func evaluate(_ segments: [Segment], variables: [String: String], problems: inout [Problem]) -> String {
        var out = ""
        for segment in segments {
            switch segment {
            case .literal(let text):
                out += text
            case let .variable(name, op, word, _):
                let value = variables[name]
                let isSetNonEmpty = !(value ?? "").isEmpty
                switch op {
                case nil:
                    if let value { out += value } else { problems.append(.missing(name: name)) }
                case .defaultIfUnsetOrEmpty:
                    out += isSetNonEmpty ? value! : evaluate(word, variables: variables, problems: &problems)
                case .defaultIfUnset:
                    out += value ?? evaluate(word, variables: variables, problems: &problems)
                case .requiredNonEmpty, .required:
                    let satisfied = op == .required ? value != nil : isSetNonEmpty
                    if satisfied {
                        out += value!
                    } else {
                        let message = evaluate(word, variables: variables, problems: &problems)
                        problems.append(.missingRequired(name: name, message: message))
                    }
                case .alternateIfNonEmpty:
                    if isSetNonEmpty { out += evaluate(word, variables: variables, problems: &problems) }
                case .alternateIfSet:
                    if value != nil { out += evaluate(word, variables: variables, problems: &problems) }
                }
            }
        }
        return out
    }
}
