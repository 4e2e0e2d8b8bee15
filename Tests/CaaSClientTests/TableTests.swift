@testable import CaaSClient
import Foundation
import Testing

@Suite struct TableTests {
    @Test func columnsAlignToTheWidestCellWithThreeSpacesAndNoTrailingBlanks() {
        let table = Table(headers: ["ID", "NAME", "STATUS"], rows: [["clu_1", "prod", "active"], ["clu_22", "a", "pending"]])
        #expect(table.render() == """
            ID       NAME   STATUS
            clu_1    prod   active
            clu_22   a      pending

            """)
    }

    @Test func colourNeverShiftsColumns() {
        let table = Table(headers: ["NAME", "STATUS", "AGE"], rows: [["web", "running", "5m"], ["database", "failed", "1h"]])
        let coloured = table.render(style: TerminalStyle(colour: true)) { index, text in index == 1 ? TerminalStyle.colour(forStatus: text) : nil }
        let stripped = coloured.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression)
        #expect(stripped == table.render())
        #expect(coloured.contains("\u{1B}[32mrunning\u{1B}[0m"))
        #expect(coloured.contains("\u{1B}[31mfailed\u{1B}[0m"))
    }

    @Test func wideCharactersCountTwoColumnsAndControlCharactersAreNeutralised() {
        #expect(Table.displayWidth("数据库") == 6)
        let table = Table(headers: ["A", "B"], rows: [["数据", "x"], ["ab\u{1B}[2J", "y"]])
        let lines = table.render().split(separator: "\n")
        #expect(lines[1] == "数据     x")  // the widest cell is "ab?[2J": 6 columns
        #expect(!lines[2].contains("\u{1B}"))
    }

    @Test func resourceTablesShowAgesAndHideWideColumnsByDefault() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let created = now.addingTimeInterval(-3 * 3600 - 5)
        let formatter = ISO8601DateFormatter()
        let cluster = Cluster(["id": "clu_a", "name": "prod", "status": "active", "agent_status": "connected", "node_count": 2,
                               "network_cidr": "10.42.0.0/16", "labels": ["env": "prod"], "created_at": .string(formatter.string(from: created))])
        let narrow = ResourceTables.clusters.table([cluster], wide: false, now: now)
        #expect(narrow.headers == ["ID", "NAME", "STATUS", "AGENT", "NODES", "AGE"])
        #expect(narrow.rows == [["clu_a", "prod", "active", "connected", "2", "3h"]])
        let wide = ResourceTables.clusters.table([cluster], wide: true, now: now)
        #expect(wide.headers.contains("NETWORK") && wide.rows[0].contains("env=prod"))
    }

    @Test func psShowsWhereEachContainerServesAndWideItsPublishedPorts() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let formatter = ISO8601DateFormatter()
        let served = Container(["id": "ctr_a", "service_id": "svc_web", "service_name": "web", "slot": 3, "node_id": "nod_1", "observed_state": "running", "health": "healthy",
                                "desired_state": "running", "address": "127.0.0.1:20345", "restart_count": 0,
                                "ports": [["container_port": 80, "host_port": 8080, "host_address": nil, "protocol": "tcp"],
                                          ["container_port": 53, "host_port": 10053, "host_address": "127.0.0.1", "protocol": "udp"]],
                                "started_at": .string(formatter.string(from: now.addingTimeInterval(-120)))])
        let isolated = Container(["id": "ctr_b", "service_id": "svc_batch", "node_id": "nod_1", "observed_state": "running", "health": "unknown",
                                  "address": nil, "ports": []])
        let narrow = ResourceTables.containers.table([served, isolated], wide: false, now: now)
        #expect(narrow.headers == ["ID", "SERVICE", "NODE", "STATE", "HEALTH", "ADDRESS", "STARTED"])
        #expect(narrow.rows[0] == ["ctr_a", "web.3", "nod_1", "running", "healthy", "127.0.0.1:20345", "2m ago"])
        #expect(narrow.rows[1][1] == "svc_batch", "without a name (an older server) the id stands in")
        #expect(narrow.rows[1][5] == "")
        let wide = ResourceTables.containers.table([served, isolated], wide: true, now: now)
        let ports = wide.headers.firstIndex(of: "PORTS")
        #expect(ports.map { wide.rows[0][$0] } == "8080->80/tcp,127.0.0.1:10053->53/udp")
        #expect(ports.map { wide.rows[1][$0] } == "")
    }

    @Test func agesReadLikeKubectl() {
        let now = Date(timeIntervalSince1970: 1_000_000)
        #expect(RelativeTime.age(of: now.addingTimeInterval(-45), now: now) == "45s")
        #expect(RelativeTime.age(of: now.addingTimeInterval(-600), now: now) == "10m")
        #expect(RelativeTime.age(of: now.addingTimeInterval(-5 * 3600), now: now) == "5h")
        #expect(RelativeTime.age(of: now.addingTimeInterval(-3 * 86400), now: now) == "3d")
        #expect(RelativeTime.age(of: now.addingTimeInterval(-800 * 86400), now: now) == "2y")
        #expect(RelativeTime.age(of: now.addingTimeInterval(30), now: now) == "0s")
        #expect(RelativeTime.age(of: nil, now: now) == "")
    }

    @Test func colourOnlyOnATerminalAndNeverWithNoColor() {
        #expect(TerminalStyle.detect(isTerminal: true, environment: [:]).colour)
        #expect(!TerminalStyle.detect(isTerminal: false, environment: [:]).colour)
        #expect(!TerminalStyle.detect(isTerminal: true, environment: ["NO_COLOR": "1"]).colour)
        #expect(!TerminalStyle.detect(isTerminal: true, environment: ["TERM": "dumb"]).colour)
        #expect(TerminalStyle.plain.paint("x", .red) == "x")
    }

    @Test func projectNamesFollowTheNameRule() {
        #expect(NameRule.normalise("My_Blog.v2") == "my-blog-v2")
        #expect(NameRule.normalise("--x--") == "x")
        #expect(NameRule.normalise("ÄÖ") == "default")
        #expect(NameRule.normalise(String(repeating: "a", count: 62) + "-b") == String(repeating: "a", count: 62))
    }
}

@Suite struct YAMLWriterTests {
    @Test func writesBlockYAMLWithSortedKeysAndQuotesAmbiguousStrings() {
        let value: JSON = ["name": "web", "replicas": 3, "on": "yes", "labels": ["a": "1"], "ports": ["80:80", 443], "empty": [:], "none": nil]
        #expect(YAMLWriter.write(value) == """
            empty: {}
            labels:
              a: "1"
            name: web
            none: null
            "on": "yes"
            ports:
            - "80:80"
            - 443
            replicas: 3

            """)
    }

    @Test func multiLineTextBecomesALiteralBlock() {
        let value: JSON = ["compose": "services:\n  web:\n    image: nginx\n"]
        #expect(YAMLWriter.write(value) == "compose: |\n  services:\n    web:\n      image: nginx\n")
    }

    @Test func listsOfObjectsNestUnderDashes() {
        let value: JSON = [["id": "a", "count": 1], ["id": "b", "count": 2]]
        #expect(YAMLWriter.write(value) == "- count: 1\n  id: a\n- count: 2\n  id: b\n")
    }
}
