// Our side of the HTTP comparison: CaaSHTTP's server and router with the same two endpoints as
// HummingbirdPeer. Run by scripts/bench-http.sh.
import BenchmarkPayload
import CaaSHTTP
import Logging

struct Ping: Encodable { let ok: Bool }

let port = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 8080
var router = Router()
router.get("/ping") { _, _ in try .json(Ping(ok: true)) }
router.get("/items") { _, _ in try .json(BenchmarkItem.fifty) }
var logger = Logger(label: "caas.bench")
logger.logLevel = .warning
// The load generators all connect from 127.0.0.1: not capped per address.
var configuration = HTTPServerConfiguration(addresses: [.tcp(host: "127.0.0.1", port: port)])
configuration.exemptFromAddressLimit = { _ in true }
let server = try HTTPServer(configuration: configuration, responder: router, logger: logger)
try server.start()
_ = server.shutdownOnSignals()
await server.waitUntilStopped()
