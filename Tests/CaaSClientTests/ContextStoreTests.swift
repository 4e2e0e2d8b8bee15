@testable import CaaSClient
import Foundation
import Testing

@Suite struct ContextStoreTests {
    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "caasctl-contexts-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int) ?? -1
    }

    @Test func xdgConfigHomeIsRespectedElseHomeDotConfig() {
        #expect(ContextStore(environment: ["XDG_CONFIG_HOME": "/x/cfg", "HOME": "/home/u"]).path == "/x/cfg/caas/config.json")
        #expect(ContextStore(environment: ["HOME": "/home/u"]).path == "/home/u/.config/caas/config.json")
        // A relative XDG_CONFIG_HOME is invalid by the spec and ignored.
        #expect(ContextStore(environment: ["XDG_CONFIG_HOME": "rel", "HOME": "/home/u"]).path == "/home/u/.config/caas/config.json")
    }

    @Test func savedFileIsMode0600InADirectoryOfMode0700EvenUnderAPermissiveUmask() throws {
        let base = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let store = ContextStore(environment: ["XDG_CONFIG_HOME": base + "/cfg"])
        let old = umask(0)
        defer { umask(old) }
        try store.upsert("prod", Context(server: "https://caas.example:8443", token: "caas_secret", caFile: "/ca.pem"))
        #expect(Self.mode(store.path) == 0o600)
        #expect(Self.mode(store.directory) == 0o700)
        #expect(Self.mode(base + "/cfg") == 0o700)
        #expect(store.permissionWarning() == nil)
        let loaded = try store.load()
        #expect(loaded.currentContext == "prod")
        #expect(loaded.contexts["prod"] == Context(server: "https://caas.example:8443", token: "caas_secret", caFile: "/ca.pem"))
        let text = try String(contentsOfFile: store.path, encoding: .utf8)
        #expect(text.contains("\"current_context\" : \"prod\"") && text.contains("\"ca_file\""))
    }

    @Test func writesAreAtomicAndLeaveNoTemporaryFiles() throws {
        let base = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let store = ContextStore(path: base + "/caas/config.json")
        for index in 0..<20 { try store.upsert("c\(index)", Context(server: "http://127.0.0.1:\(8000 + index)")) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.directory) == ["config.json"])
        #expect(try store.load().contexts.count == 20)
        #expect(try store.load().currentContext == "c19")
    }

    @Test func useAndRemoveChangeTheCurrentContext() throws {
        let base = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let store = ContextStore(path: base + "/config.json")
        try store.upsert("a", Context(server: "http://a"))
        try store.upsert("b", Context(server: "http://b"))
        try store.use("a")
        #expect(try store.load().currentContext == "a")
        #expect(throws: ContextStoreError.noSuchContext("zzz")) { try store.use("zzz") }
        try store.remove("a")
        let after = try store.load()
        #expect(after.currentContext == nil && after.contexts.keys.sorted() == ["b"])
        #expect(throws: ContextStoreError.noSuchContext("a")) { try store.remove("a") }
    }

    @Test func aFileReadableByOthersIsReported() throws {
        let base = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let store = ContextStore(path: base + "/config.json")
        try store.upsert("a", Context(server: "http://a", token: "t"))
        chmod(store.path, 0o644)
        #expect(store.permissionWarning()?.contains("chmod 600") == true)
    }

    @Test func aMalformedFileIsAnErrorNotAnEmptyConfiguration() throws {
        let base = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let store = ContextStore(path: base + "/config.json")
        try "{not json".write(toFile: store.path, atomically: true, encoding: .utf8)
        #expect(throws: ContextStoreError.self) { try store.load() }
    }

    @Test func flagsBeatEnvironmentWhichBeatsTheContext() throws {
        let configuration = ContextConfiguration(currentContext: "prod", contexts: [
            "prod": Context(server: "https://prod", token: "tp", caFile: "/prod.pem"),
            "lab": Context(server: "http://lab", token: "tl"),
        ])
        let fromContext = try ConnectionSettings.resolve(flags: .init(), contextFlag: nil, environment: [:], configuration: configuration)
        #expect(fromContext == ConnectionSettings(server: "https://prod", token: "tp", caFile: "/prod.pem", contextName: "prod"))
        let fromEnvironment = try ConnectionSettings.resolve(flags: .init(), contextFlag: nil,
                                                             environment: ["CAAS_SERVER": "http://env", "CAAS_TOKEN": "te"], configuration: configuration)
        #expect(fromEnvironment.server == "http://env" && fromEnvironment.token == "te" && fromEnvironment.caFile == "/prod.pem")
        let fromFlags = try ConnectionSettings.resolve(flags: .init(server: "http://flag", token: "tf"), contextFlag: "lab",
                                                       environment: ["CAAS_SERVER": "http://env", "CAAS_TOKEN": "te"], configuration: configuration)
        #expect(fromFlags.server == "http://flag" && fromFlags.token == "tf" && fromFlags.contextName == "lab")
        let otherContext = try ConnectionSettings.resolve(flags: .init(), contextFlag: nil, environment: ["CAAS_CONTEXT": "lab"], configuration: configuration)
        #expect(otherContext.server == "http://lab")
        #expect(throws: ContextStoreError.noSuchContext("nope")) {
            try ConnectionSettings.resolve(flags: .init(), contextFlag: "nope", environment: [:], configuration: configuration)
        }
    }
}
