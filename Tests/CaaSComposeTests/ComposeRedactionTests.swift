import CaaSCompose
import CaaSModel
import Foundation
import Testing

@Suite struct ComposeRedactionTests {
    /// The environment the redacted text parses to, by service and name.
    func environment(_ text: String) throws -> [String: String?] {
        let (spec, _) = try parseValid(text)
        var out: [String: String?] = [:]
        for service in spec.services {
            for variable in service.environment { out["\(service.name).\(variable.name)"] = variable.value }
        }
        return out
    }

    @Test func theTalksWordPressPasswordIsRedactedInTheListFormAndNothingElseChanges() throws {
        let text = try fixtureText("wordpress-cloud.yml")
        let redacted = ComposeRedaction.redact(text)
        #expect(redacted.text == text.replacingOccurrences(of: "- WORDPRESS_DB_PASSWORD=xxxxxx", with: "- WORDPRESS_DB_PASSWORD=***"))
        #expect(!redacted.text.contains("PASSWORD=xxxxxx"))
        #expect(redacted.lines == [14])
        let env = try environment(redacted.text)
        #expect(env["wordpress.WORDPRESS_DB_USER"] == "blog", "the redacted text is still compose")
        #expect(env["wordpress.WORDPRESS_DB_PASSWORD"] == "***")
    }

    @Test func theTalksMySQLPasswordIsRedactedInTheMapForm() throws {
        let text = try fixtureText("wordpress-mysql.yml")
        let redacted = ComposeRedaction.redact(text)
        #expect(redacted.text == text.replacingOccurrences(of: "MYSQL_ROOT_PASSWORD: password", with: "MYSQL_ROOT_PASSWORD: \"***\""))
        #expect(try environment(redacted.text)["db.MYSQL_ROOT_PASSWORD"] == "***")
    }

    @Test func everyWayOfWritingAValueIsRedactedWhereItIsWritten() throws {
        let text = """
            services:
              api:
                image: acme/api
                environment:
                  DB_PASSWORD: 'it''s secret'   # a comment stays
                  API_TOKEN: "tok\\"en"
                  GITHUB_TOKEN: ${GITHUB_TOKEN:-fallback-secret}
                  SIGNING_KEY: |
                    -----BEGIN KEY-----
                    abcdef
                  LEVEL: info
                  EMPTY_PASSWORD:
              worker:
                image: acme/worker
                environment: [ "ADMIN_PASSWORD=hunter2", 'SESSION_SECRET=s3cr3t', MODE=fast, API_KEY=k3y ]
              cron:
                image: acme/cron
                environment:
                  - "DB_PASS=quoted pass"
                  - LEVEL=debug
                  - DB_PASSWORD
            """
        let redacted = ComposeRedaction.redact(text)
        for secret in ["it''s secret", "tok", "fallback-secret", "BEGIN KEY", "abcdef", "hunter2", "s3cr3t", "k3y", "quoted pass"] {
            #expect(!redacted.text.contains(secret), "\(secret) is redacted:\n\(redacted.text)")
        }
        #expect(redacted.text.contains("DB_PASSWORD: \"***\"   # a comment stays"))
        #expect(redacted.text.contains("environment: [ 'ADMIN_PASSWORD=***', 'SESSION_SECRET=***', MODE=fast, API_KEY=*** ]"))
        #expect(redacted.text.contains("- 'DB_PASS=***'\n      - LEVEL=debug\n      - DB_PASSWORD"))
        let env = try environment(redacted.text)
        #expect(env["api.LEVEL"] == "info")
        #expect(env["api.SIGNING_KEY"] == "***")
        #expect(env["worker.MODE"] == "fast")
        #expect(env["cron.LEVEL"] == "debug")
        #expect(env["cron.DB_PASS"] == "***")
        #expect(redacted.lines == [5, 6, 7, 8, 15, 19])
    }

    @Test func anchoredAndMergedEnvironmentsAreRedactedWhereTheAnchorWritesThem() throws {
        let text = """
            x-common: &common
              environment:
                SHARED_SECRET: anchored-secret
            x-env: &env
              - LIST_PASSWORD=aliased-secret
            services:
              a:
                <<: *common
                image: acme/a
              b:
                image: acme/b
                environment: *env
            """
        let redacted = ComposeRedaction.redact(text)
        #expect(!redacted.text.contains("anchored-secret"))
        #expect(!redacted.text.contains("aliased-secret"))
        #expect(redacted.text.contains("SHARED_SECRET: \"***\""))
        #expect(redacted.text.contains("- LIST_PASSWORD=***"))
    }

    @Test func theVersionOneFormatsServicesAtTheTopAreRedactedToo() throws {
        let text = "web:\n  image: nginx\n  environment:\n    - ROOT_PASSWORD=v1-secret\n"
        #expect(ComposeRedaction.redact(text).text == "web:\n  image: nginx\n  environment:\n    - ROOT_PASSWORD=***\n")
    }

    @Test func aSecretWithoutAnExactPlaceWithholdsTheWholeText() throws {
        let folded = "services:\n  api:\n    image: acme/api\n    environment:\n      DB_PASSWORD: first line\n        second line\n"
        #expect(ComposeRedaction.redact(folded).text == ComposeRedaction.withheld)
        #expect(ComposeRedaction.redact("services: [unclosed\n  DB_PASSWORD: x").text == ComposeRedaction.withheld)
    }

    @Test func rewritingPutsAnyValueWhereTheSecretIsWrittenAndTheTextStillParsesToIt() throws {
        let text = """
            services:
              api:
                image: acme/api
                environment:
                  DB_PASSWORD: hunter2
                  API_TOKEN: "quoted token"
                  GITHUB_TOKEN: ${GITHUB_TOKEN}
              worker:
                image: acme/worker
                environment: [ADMIN_PASSWORD=flow-secret, MODE=fast, 'SESSION_SECRET=it''s']
              cron:
                image: acme/cron
                environment:
                  - ROOT_PASSWORD=block-secret
            """
        var seen: [String: String] = [:]
        let rewritten = try #require(ComposeRedaction.rewrite(text) { name, written in
            seen[name] = written
            return written.contains("$") ? nil : "sealed:v1:" + String(written.unicodeScalars.filter(\.properties.isAlphabetic)) + "-_9"
        })
        #expect(seen == ["DB_PASSWORD": "hunter2", "API_TOKEN": "quoted token", "GITHUB_TOKEN": "${GITHUB_TOKEN}",
                         "ADMIN_PASSWORD": "flow-secret", "SESSION_SECRET": "it's", "ROOT_PASSWORD": "block-secret"])
        #expect(rewritten.text.contains("DB_PASSWORD: sealed:v1:hunter-_9"), "plain stays plain: \(rewritten.text)")
        #expect(rewritten.text.contains("API_TOKEN: \"sealed:v1:quotedtoken-_9\""))
        #expect(rewritten.text.contains("GITHUB_TOKEN: ${GITHUB_TOKEN}"), "left as written")
        #expect(rewritten.text.contains("[ADMIN_PASSWORD=sealed:v1:flowsecret-_9, MODE=fast, 'SESSION_SECRET=sealed:v1:its-_9']"))
        #expect(rewritten.text.contains("- ROOT_PASSWORD=sealed:v1:blocksecret-_9"))
        let env = try environment(rewritten.text)
        #expect(env["api.DB_PASSWORD"] == "sealed:v1:hunter-_9")
        #expect(env["api.API_TOKEN"] == "sealed:v1:quotedtoken-_9")
        #expect(env["worker.ADMIN_PASSWORD"] == "sealed:v1:flowsecret-_9", "a plain value with colons parses in a flow list")
        #expect(env["worker.MODE"] == "fast")
        #expect(env["worker.SESSION_SECRET"] == "sealed:v1:its-_9")
        #expect(env["cron.ROOT_PASSWORD"] == "sealed:v1:blocksecret-_9")
        #expect(ComposeRedaction.redact(rewritten.text).text == ComposeRedaction.redact(text).text, "the same text is shown either way")
    }

    @Test func aNewValueReadsBackExactlyWhateverItHolds() throws {
        let text = "services:\n  api:\n    image: acme/api\n    environment:\n      DB_PASSWORD: x\n    labels: {a: b}\n  cron:\n    image: acme/cron\n    environment:\n      - API_TOKEN=y\n"
        for value in ["two\nlines", "tab\tquote\" back\\slash 'single'", "  spaced  ", "# not a comment", "ends:", "null", "", "\u{2028}\u{85}\u{feff}é"] {
            let rewritten = try #require(ComposeRedaction.rewrite(text) { _, _ in value })
            let env = try environment(rewritten.text)
            #expect(env["api.DB_PASSWORD"] == .some(value), "\(value.debugDescription) as a mapping's value: \(rewritten.text)")
            #expect(env["cron.API_TOKEN"] == .some(value), "\(value.debugDescription) in a list: \(rewritten.text)")
        }
    }

    @Test func aDocumentBuiltToHurtIsWithheldQuickly() throws {
        // Merges of merges: every level doubles the walk (2^16 environments at the bottom).
        var text = "x-0: &m0\n  environment:\n    DB_PASSWORD: deep-secret\n"
        for level in 1...16 {
            text += "x-\(level): &m\(level)\n  <<: [*m\(level - 1), *m\(level - 1)]\n"
        }
        text += "services:\n  web:\n    image: nginx\n    <<: *m16\n"
        let started = ContinuousClock.now
        #expect(ComposeRedaction.redact(text).text == ComposeRedaction.withheld)
        #expect(ContinuousClock.now - started < .seconds(5))
        let aliasKey = "a: &a [1, 2]\n*a : x\nservices:\n  web:\n    environment:\n      DB_PASSWORD: s\n"
        #expect(ComposeRedaction.redact(aliasKey).text == ComposeRedaction.withheld, "an alias as a key is screened out")
    }

    @Test func textWithoutSecretsIsShownAsWritten() throws {
        let text = try fixtureText("restserver.yml")
        #expect(ComposeRedaction.redact(text).text == text)
        #expect(ComposeRedaction.redact(text).lines.isEmpty)
        let plain = "services:\n  web:\n    image: nginx\n    environment:\n      MONKEY_COUNT: 3\n      PASSWORD_HINT_URL:\n"
        #expect(ComposeRedaction.redact(plain).text == plain)
    }
}
