/// One page of a list: `{"items": [...], "next_cursor": "..." | null}`.
public struct ListPage: Sendable, Equatable {
    public var items: [JSON]
    public var nextCursor: String?

    public init(items: [JSON], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }

    public init(_ json: JSON) throws(CaaSClientError) {
        guard let items = json["items"]?.arrayValue else {
            throw .invalidResponse("a list answer without items: \(json.compact().prefix(120))")
        }
        self.items = items
        nextCursor = json["next_cursor"]?.stringValue
    }
}

extension CaaSClient {
    /// The largest page the API serves.
    public static let maximumPageSize = 500

    /// One page of `path`.
    public func page(_ path: String, query: [(String, String)] = [], limit: Int? = nil, cursor: String? = nil) async throws -> ListPage {
        var query = query
        if let limit { query.append(("limit", String(min(limit, Self.maximumPageSize)))) }
        if let cursor { query.append(("cursor", cursor)) }
        return try ListPage(try await send(.get, path, query: query).json())
    }

    /// Every item of `path` (following `next_cursor`), or the first `limit` of them.
    public func list(_ path: String, query: [(String, String)] = [], limit: Int? = nil) async throws -> [JSON] {
        var items: [JSON] = []
        var cursor: String?
        repeat {
            let wanted = limit.map { $0 - items.count } ?? Self.maximumPageSize
            let page = try await self.page(path, query: query, limit: min(wanted, Self.maximumPageSize), cursor: cursor)
            items += page.items
            cursor = page.nextCursor
        } while cursor != nil && (limit.map { items.count < $0 } ?? true)
        return limit.map { Array(items.prefix($0)) } ?? items
    }
}
