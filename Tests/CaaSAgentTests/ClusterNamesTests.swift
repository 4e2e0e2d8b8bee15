@testable import CaaSAgent
import CaaSDNS
import CaaSModel
import Foundation
import Testing

/// The records of a cluster's name servers (issue 15 item 4), a pure function of the applied
/// state and of what serves.
@Suite struct ClusterNamesTests {
    func container(_ id: String, app: String = "app_1", _ service: String, address: String?, names: [DesiredName]? = nil,
                   state: DesiredContainerState = .running) -> DesiredContainer {
        DesiredContainer(containerId: id, tenantId: "ten_1", appId: app, appName: app, serviceName: service, slot: 1, generation: 1,
                         image: "busybox", network: address == nil ? .host : .caas, state: state, address: address, names: names)
    }

    @Test func clientsGetTheirApplicationsNamesAnsweredByServingContainersOnly() {
        let wpNames = [DesiredName(name: "mysql", service: "db"), DesiredName(name: "db", service: "db"),
                       DesiredName(name: "rds", target: "rds-1.example.com")]
        let state = DesiredClusterState(clusterId: "clu_1", generation: 4, nodes: [
            DesiredNodeState(nodeId: "nod_1", containers: [
                container("ctr_wp1", "wordpress", address: "198.18.1.2", names: wpNames),
                container("ctr_db1", "db", address: "198.18.1.3", names: [DesiredName(name: "db", service: "db")]),
                container("ctr_db3", "db", address: "198.18.1.5", names: [DesiredName(name: "db", service: "db")], state: .stopped),
            ]),
            DesiredNodeState(nodeId: "nod_2", containers: [
                container("ctr_wp2", "wordpress", address: "198.18.2.2", names: wpNames),
                container("ctr_db2", "db", address: "198.18.2.3", names: [DesiredName(name: "db", service: "db")]),
                container("ctr_x", app: "app_2", "db", address: "198.18.2.4", names: [DesiredName(name: "db", service: "db")]),
                container("ctr_host", app: "app_3", "web", address: nil),
            ]),
        ])
        // db2 is starting (not serving) and the stopped db3 serves nothing even if it still ran.
        let table = ClusterNames.table(state, serving: ["ctr_wp1", "ctr_wp2", "ctr_db1", "ctr_db3", "ctr_x"])
        let wordpress: [UInt8] = [198, 18, 2, 2]
        #expect(table.answer(["mysql"], client: wordpress) == .addresses([[198, 18, 1, 3]]))
        #expect(table.answer(["db"], client: [198, 18, 1, 2]) == .addresses([[198, 18, 1, 3]]), "the same on the other node")
        #expect(table.answer(["rds"], client: wordpress) == .alias(["rds-1", "example", "com"]))
        #expect(table.answer(["db"], client: [198, 18, 2, 4]) == .addresses([[198, 18, 2, 4]]), "the other application's db is its own")
        #expect(table.answer(["wordpress"], client: [198, 18, 2, 4]) == nil, "names of another application are not its")
        #expect(table.answer(["mysql"], client: [198, 18, 1, 3]) == nil, "db has no links alias")
        #expect(!table.rendered().contains("app_3"), "a host-networked container is no client")
        // Once db2 serves it is in the answer.
        let later = ClusterNames.table(state, serving: ["ctr_db1", "ctr_db2"])
        #expect(later.answer(["mysql"], client: wordpress) == .addresses([[198, 18, 1, 3], [198, 18, 2, 3]]))
    }

    @Test func aTarArchiveHoldsItsFilesAsTarReadsThem() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("caas-tar-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = TarArchive.archive([TarArchive.File(path: "records", contents: Array("client 1.2.3.4 a/b\nend\n".utf8)),
                                          TarArchive.File(path: "caas-dns", mode: 0o755, contents: Array(repeating: 7, count: 1000))])
        #expect(archive.count % 512 == 0)
        try Data(archive).write(to: URL(fileURLWithPath: directory + "/a.tar"))
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/bin/tar")
        tar.arguments = ["-C", directory, "-xf", directory + "/a.tar"]
        try tar.run()
        tar.waitUntilExit()
        #expect(tar.terminationStatus == 0)
        #expect(try String(contentsOfFile: directory + "/records", encoding: .utf8) == "client 1.2.3.4 a/b\nend\n")
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/caas-dns")
        #expect((attributes[.posixPermissions] as? Int) == 0o755 && (attributes[.size] as? Int) == 1000)
    }
}
