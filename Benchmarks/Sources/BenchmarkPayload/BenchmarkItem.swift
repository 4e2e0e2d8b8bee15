/// The payload both HTTP peers serve on `GET /items`: 50 objects of five short fields,
/// encoded anew on every request.
public struct BenchmarkItem: Codable, Sendable {
    public var id: Int
    public var name: String
    public var image: String
    public var node: String
    public var status: String

    public static let fifty: [BenchmarkItem] = (0..<50).map {
        BenchmarkItem(id: $0, name: "web-\($0)", image: "nginx:1.25", node: "node-\($0 % 7)", status: "running")
    }
}
