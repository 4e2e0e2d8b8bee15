import Foundation
import CaaSCompose
import Testing

/// Hostile input gets a clear error, quickly; never a crash or a hang.
@Suite struct LimitsTests {
    /// Generous: only a hang or an exponential blow-up exceeds it, not a busy machine.
    static let ceiling = Duration.seconds(10)

    func timedParse(_ text: String, limits: ComposeLimits = .standard) -> (ComposeResult, Duration) {
        let clock = ContinuousClock()
        var result: ComposeResult!
        let elapsed = clock.measure { result = ComposeParser.parse(text, limits: limits) }
        return (result, elapsed)
    }

    @Test func textOverOneMebibyteIsRejectedBeforeParsing() {
        let text = "services:\n  web:\n    image: nginx\n" + "# " + String(repeating: "x", count: 1 << 20) + "\n"
        let (result, elapsed) = timedParse(text)
        #expect(result.spec == nil)
        #expect(result.errors.count == 1)
        #expect(result.errors.first?.message.contains("the limit is 1048576 bytes") == true)
        #expect(result.errors.first?.line == 1)
        #expect(elapsed < Self.ceiling)
    }

    @Test func moreThanFiveHundredServicesIsAnError() {
        var text = "services:\n"
        for i in 0..<501 { text += "  s\(i):\n    image: busybox\n" }
        let result = ComposeParser.parse(text)
        #expect(result.spec == nil)
        #expect(result.errors.map(\.message) == ["501 services is more than the limit of 500"])
        #expect(result.errors.first?.path == "services")
    }

    @Test func fiveHundredServicesAreAccepted() throws {
        var text = "services:\n"
        for i in 0..<500 { text += "  s\(i):\n    image: busybox\n    depends_on: [\(i == 0 ? "s499" : "s\(i - 1)")]\n" }
        // A ring of 500 dependencies: valid shape, one cycle reported.
        let result = ComposeParser.parse(text)
        #expect(result.errors.count == 1)
        #expect(result.errors.first?.message.hasPrefix("dependency cycle: s0 -> s499 -> s498") == true, "\(result.errors)")
    }

    @Test func billionLaughsAliasExpansionIsBounded() {
        var text = "x-0: &l0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        for level in 1..<20 {
            text += "x-\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ",") + "]\n"
        }
        text += "services:\n  web:\n    image: nginx\n    command: *l19\n"
        let (result, elapsed) = timedParse(text)
        #expect(result.spec == nil)
        #expect(result.errors.count == 1)
        #expect(result.errors.first?.message.contains("expands to more than 200000 YAML nodes") == true)
        #expect(elapsed < Self.ceiling)
    }

    @Test func aliasesRepeatingALongStringAreBounded() {
        let long = String(repeating: "a", count: 200_000)
        var text = "x-long: &long \"\(long)\"\nservices:\n  web:\n    image: nginx\n    command:\n"
        for _ in 0..<200 { text += "      - *long\n" }
        let (result, elapsed) = timedParse(text)
        #expect(result.spec == nil)
        #expect(result.errors.first?.message.contains("bytes of text") == true)
        #expect(elapsed < Self.ceiling)
    }

    @Test func modestAnchorReuseIsFine() throws {
        var text = "x-env: &env\n  A: \"1\"\n  B: \"2\"\nservices:\n"
        for i in 0..<50 { text += "  s\(i):\n    image: busybox\n    environment: *env\n" }
        let (spec, _) = try parseValid(text)
        #expect(spec.services.count == 50)
        #expect(spec.services.allSatisfy { $0.environment.count == 2 })
    }

    @Test func aliasOfALargeTreeUsedAsAKeyIsRejectedBeforeHashing() {
        var text = "x-0: &k0 [a, b, c, d, e, f, g, h]\n"
        for level in 1..<30 {
            text += "x-\(level): &k\(level) [*k\(level - 1), *k\(level - 1)]\n"
        }
        // Every way YAML lets a node that is not a plain string be a key: in block style, in flow
        // mappings (with or without a value, on a continuation line) and as flow sequences' single pairs.
        let keys = ["*k29 : boom", "{*k29 : boom}", "[*k29: boom]", "? *k29\n: boom", "[*k29:boom]", "[x, *k29 : boom]",
                    "{*k29}", "{a: 1, *k29}", "{a: 1,\n *k29: boom}", "{[*k29]: boom}", "[[*k29]: boom]", "{x: [y], [*k29]}",
                    "{{a: *k29}: boom}", "[? *k29]", "{? *k29 : boom}", "a: ? *k29", "[x, [*k29]: boom]"]
        for key in keys {
            let (result, elapsed) = timedParse(text + "services:\n  web:\n    image: nginx\nx-bad:\n  " + key.replacingOccurrences(of: "\n", with: "\n  ") + "\n")
            #expect(result.spec == nil, "\(key)")
            #expect(result.errors.count == 1, "\(key): \(result.errors)")
            #expect(elapsed < Self.ceiling, "\(key)")
        }
    }

    /// Found by the fuzzer: an alias followed by `:` with no space, in a flow sequence, made
    /// the YAML library hash a 9⁷-leaf tree (minutes).
    @Test func anAliasKeyWithoutASpaceInAFlowSequenceIsRejectedBeforeHashing() {
        var text = "x-a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        for (level, name) in "bcdefghi".enumerated() {
            let previous = Array("abcdefghi")[level]
            let items = (0..<9).map { $0 == 4 && name == "h" ? "*\(previous):*\(previous)" : "*\(previous)" }
            text += "x-\(name): &\(name) [" + items.joined(separator: ",") + "]\n"
        }
        text += "services:\n  web:\n    image: nginx\n    command: *i\n"
        let (result, elapsed) = timedParse(text)
        #expect(result.errors.map(\.message) == ["a YAML alias cannot be used as a mapping key"])
        #expect(result.errors.first?.line == 8)
        #expect(elapsed < Self.ceiling)
    }

    /// Flow style that only looks like a key: aliases and merges as values, `?`, `*` and `:` inside strings.
    @Test func flowValuesThatResembleKeysAreAccepted() throws {
        let text = """
        x-env: &env {A: "1"}
        x-cmd: &cmd [sh, -c]
        services:
          web:
            image: nginx
            environment: {<<: *env, B: "2", C: "a ? b"}
            command: [ls, "*.txt", a ? b, "*x: y", http://x:80/]
            entrypoint: *cmd
            labels: {a: b}
        """
        let (spec, _) = try parseValid(text)
        #expect(spec.services[0].environment.map(\.name).sorted() == ["A", "B", "C"])
        #expect(spec.services[0].command == ["ls", "*.txt", "a ? b", "*x: y", "http://x:80/"])
        #expect(spec.services[0].entrypoint == ["sh", "-c"])
    }

    /// An alias repeats its anchor's text, but not its variable uses or their warnings: a missing
    /// variable anchored once and repeated 10⁵ times is one reference and one warning.
    @Test func aliasesRepeatVariablesOnce() {
        var text = "x-a: &a [" + Array(repeating: "\"$MISSING\"", count: 10).joined(separator: ",") + "]\n"
        for (level, name) in "bcde".enumerated() {
            text += "x-\(name): &\(name) [" + Array(repeating: "*\(Array("abcd")[level])", count: 10).joined(separator: ",") + "]\n"
        }
        text += "services:\n  web:\n    image: nginx\n"
        let (result, elapsed) = timedParse(text)
        #expect(result.spec != nil, "\(result.errors)")
        #expect(result.variables.count == 10, "each written use once")
        #expect(result.warnings.count == 10, "\(result.warnings.count) warnings")
        #expect(result.missingVariables == ["MISSING"])
        #expect(elapsed < Self.ceiling)
    }

    @Test func moreThanTenThousandVariableUsesIsAnError() {
        let many = "services:\n  web:\n    image: nginx\n    command: \"" + String(repeating: "${A:-x}", count: 10_001) + "\"\n"
        let result = ComposeParser.parse(many)
        #expect(result.errors.map(\.message) == ["the document uses variables more than 10000 times"])
        #expect(result.errors.first?.line == 4)
        let enough = "services:\n  web:\n    image: nginx\n    command: \"" + String(repeating: "${A:-x}", count: 10_000) + "\"\n"
        #expect(ComposeParser.parse(enough).spec != nil)
    }

    /// At most 500 errors and 500 warnings are listed, each then closed by a count of the rest;
    /// warnings never crowd out an error.
    @Test func diagnosticsAreCappedWithACountOfTheRest() {
        var text = "services:\n  web:\n    image: nginx\n    environment:\n"
        for i in 0..<600 { text += "      V\(i): $M\(i)\n" }
        text += "    restart: sometimes\n"
        let result = ComposeParser.parse(text)
        #expect(result.warnings.count == 501)
        #expect(result.warnings.last?.message == "100 more warnings not shown (at most 500 are listed)")
        #expect(result.errors.map(\.message) == ["unknown restart policy 'sometimes' (expected no, always, on-failure[:N] or unless-stopped)"])
        #expect(result.spec == nil)

        var errors = "services:\n  web:\n    image: nginx\n    ports:\n"
        for i in 0..<502 { errors += "      - \"p\(i)\"\n" }
        let many = ComposeParser.parse(errors)
        #expect(many.errors.count == 501)
        #expect(many.errors.last?.message == "2 more errors not shown (at most 500 are listed)", "\(many.errors.suffix(2))")
    }

    @Test func deepFlowNestingIsRejected() {
        let text = "services:\n  web:\n    image: nginx\n    x-deep: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "\n"
        let (result, elapsed) = timedParse(text)
        #expect(result.errors.map(\.message) == ["the document nests deeper than 64 levels"])
        #expect(elapsed < Self.ceiling)
    }

    @Test func deepBlockNestingIsRejected() {
        var text = "services:\n  web:\n    image: nginx\n    x-deep:\n"
        for level in 0..<1000 { text += String(repeating: " ", count: 6 + level) + "k\(level):\n" }
        let (result, elapsed) = timedParse(text)
        #expect(result.errors.count == 1)
        #expect(result.errors.first?.message == "the document nests deeper than 64 levels")
        #expect(elapsed < Self.ceiling)
    }

    @Test func deepSequenceMarkersOnOneLineAreRejected() {
        let text = "services:\n  web:\n    image: nginx\n    x-deep: \n      " + String(repeating: "- ", count: 20_000) + "x\n"
        let (result, elapsed) = timedParse(text)
        #expect(result.errors.count == 1)
        #expect(result.errors.first?.message == "the document nests deeper than 64 levels")
        #expect(elapsed < Self.ceiling)
    }

    @Test func ordinaryNestingWellBelowTheLimitIsAccepted() throws {
        // Block scalars with deep indentation and flow lists inside strings are not structure.
        let text = """
        services:
          web:
            image: nginx
            command:
              - sh
              - -c
              - |
                text
                      - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
                                                                        deeply indented text [[[[[[[[[[[[[[[[[[
            labels:
              note: "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
        """
        let (spec, _) = try parseValid(text)
        #expect(spec.services.first?.command?.count == 3)
    }

    @Test func limitsAreConfigurable() {
        let result = ComposeParser.parse("services:\n  a:\n    image: x\n  b:\n    image: y\n", limits: ComposeLimits(maxServices: 1))
        #expect(result.errors.map(\.message) == ["2 services is more than the limit of 1"])
    }

    @Test func emptyAndNonMappingDocumentsAreErrors() {
        #expect(ComposeParser.parse("").errors.map(\.message) == ["the compose text is empty"])
        #expect(ComposeParser.parse("# only a comment\n").errors.map(\.message) == ["the compose text is empty"])
        #expect(ComposeParser.parse("- a\n- b\n").errors.first?.message.contains("found a list") == true)
        #expect(ComposeParser.parse("services:\n").errors.map(\.message) == ["'services' defines no service"])
        #expect(ComposeParser.parse("a: 1\n---\nb: 2\n").errors.first?.message.contains("invalid YAML") == true)
    }
}
