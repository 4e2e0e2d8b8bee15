import CaaSCompose
import Testing

@Suite struct InterpolationTests {
    let vars = ["NAME": "web", "EMPTY": "", "PORT": "8080"]

    func value(_ text: String) -> String {
        Interpolation.interpolate(text, variables: vars).value
    }

    func problems(_ text: String) -> [Interpolation.Problem] {
        Interpolation.interpolate(text, variables: vars).problems
    }

    @Test func braceAndBareFormsSubstitute() {
        #expect(value("${NAME}") == "web")
        #expect(value("$NAME") == "web")
        #expect(value("x-$NAME-y") == "x-web-y")
        #expect(value("$NAME.local") == "web.local")
        #expect(value("${NAME}_1") == "web_1")
        #expect(value("$NAME_1") == "", "a bare name extends over letters, digits and '_'")
    }

    @Test func textWithoutDollarIsUntouched() {
        let outcome = Interpolation.interpolate("plain {text} :- ?", variables: [:])
        #expect(outcome == Interpolation.Outcome(value: "plain {text} :- ?", references: [], problems: []))
    }

    @Test func doubleDollarIsALiteralDollar() {
        #expect(value("$$") == "$")
        #expect(value("cost: $$5") == "cost: $5")
        #expect(value("$${NAME}") == "${NAME}")
        #expect(problems("$$HOME").isEmpty)
    }

    @Test func colonDashDefaultsWhenUnsetOrEmpty() {
        #expect(value("${MISSING:-fallback}") == "fallback")
        #expect(value("${EMPTY:-fallback}") == "fallback")
        #expect(value("${NAME:-fallback}") == "web")
        #expect(problems("${MISSING:-x}").isEmpty)
    }

    @Test func dashDefaultsOnlyWhenUnset() {
        #expect(value("${MISSING-fallback}") == "fallback")
        #expect(value("${EMPTY-fallback}") == "")
        #expect(value("${NAME-fallback}") == "web")
    }

    @Test func defaultsMayBeEmptyOrContainSpacesAndColons() {
        #expect(value("${MISSING:-}") == "")
        #expect(value("${MISSING:-a b:c}") == "a b:c")
    }

    @Test func nestedDefaultIsEvaluatedOnlyWhenUsed() {
        #expect(value("${MISSING:-${PORT}}") == "8080")
        #expect(value("${MISSING:-${ALSO_MISSING:-deep}}") == "deep")
        let used = Interpolation.interpolate("${NAME:-${ALSO_MISSING}}", variables: vars)
        #expect(used.value == "web")
        #expect(used.problems.isEmpty, "an unused default raises no warning")
        #expect(used.references.map(\.name) == ["NAME", "ALSO_MISSING"], "but it is still listed")
    }

    @Test func colonQuestionRequiresNonEmpty() {
        #expect(problems("${MISSING:?set MISSING please}") == [.missingRequired(name: "MISSING", message: "set MISSING please")])
        #expect(problems("${EMPTY:?must not be empty}") == [.missingRequired(name: "EMPTY", message: "must not be empty")])
        #expect(problems("${NAME:?x}").isEmpty)
        #expect(value("${NAME:?x}") == "web")
    }

    @Test func questionRequiresSetButAcceptsEmpty() {
        #expect(problems("${MISSING?needed}") == [.missingRequired(name: "MISSING", message: "needed")])
        #expect(problems("${EMPTY?needed}").isEmpty)
        #expect(problems("${MISSING?}") == [.missingRequired(name: "MISSING", message: "")])
    }

    @Test func alternateForms() {
        #expect(value("${NAME:+set}") == "set")
        #expect(value("${EMPTY:+set}") == "")
        #expect(value("${EMPTY+set}") == "set")
        #expect(value("${MISSING+set}") == "")
    }

    @Test func missingPlainVariableIsEmptyWithAProblem() {
        let outcome = Interpolation.interpolate("a${MISSING}b$ALSO", variables: vars)
        #expect(outcome.value == "ab")
        #expect(outcome.problems == [.missing(name: "MISSING"), .missing(name: "ALSO")])
    }

    @Test func referencesRecordDefaultsAndRequirement() {
        let refs = Interpolation.interpolate("${A:-1} ${B-2} ${C:?boom} ${D?} $E ${F:+x}", variables: [:]).references
        #expect(refs.map(\.name) == ["A", "B", "C", "D", "E", "F"])
        #expect(refs.map(\.defaultValue) == ["1", "2", nil, nil, nil, nil])
        #expect(refs.map(\.isRequired) == [false, false, true, true, false, false])
        #expect(refs[2].requiredMessage == "boom")
        #expect(refs[3].requiredMessage == nil)
    }

    @Test(arguments: [
        ("${", "unterminated"),
        ("${NAME", "unterminated"),
        ("${NAME:-x", "unterminated"),
        ("${}", "names no variable"),
        ("${1X}", "variable name starts"),
        ("${NAME!}", "unexpected '!'"),
        ("${NA ME}", "unexpected ' '"),
        ("price $5", "'$5'"),
        ("trailing $", "end of the value"),
        ("$-x", "'$-'"),
    ])
    func invalidSyntaxIsAnError(text: String, fragment: String) {
        let outcome = Interpolation.interpolate(text, variables: vars)
        #expect(outcome.problems.count == 1)
        guard case .syntax(let message) = outcome.problems.first else {
            Issue.record("expected a syntax problem for \(text)")
            return
        }
        #expect(message.contains(fragment), "\(message)")
        #expect(outcome.value == text, "the value is left as written")
    }
}
