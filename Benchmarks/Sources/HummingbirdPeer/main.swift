// The comparison peer: a minimal Hummingbird 2 server with the same two endpoints as CaaSPeer.
import Foundation
import Hummingbird
import BenchmarkPayload

struct Ping: ResponseEncodable { let ok: Bool }
struct ItemList: ResponseEncodable { let items: [BenchmarkItem] }

let port = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 8081
let router = Router()
router.get("ping") { _, _ -> Ping in Ping(ok: true) }
router.get("items") { _, _ -> [BenchmarkItem] in BenchmarkItem.fifty }
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
