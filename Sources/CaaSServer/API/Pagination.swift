import CaaSCrypto

/// `limit` and `cursor` of a list request. The cursor is opaque to clients: base64url of a JSON
/// array holding the last item's sort key; anything that does not decode to that shape is a 400.
public struct PageRequest: Sendable, Equatable {
    public static let defaultLimit = 50
    public static let maximumLimit = 500

    public var limit: Int
    /// The sort key of the last item of the previous page, `nil` for the first page.
    public var after: [String]?

    public init(limit: Int = PageRequest.defaultLimit, after: [String]? = nil) {
        self.limit = limit
        self.after = after
    }

    /// Reads `limit` and `cursor`; `keyCount` is how many values this list's sort key has.
    public static func parse(query: [String: String], keyCount: Int) throws(APIError) -> PageRequest {
        var page = PageRequest()
        if let text = query["limit"] {
            guard let limit = Int(text), (1...maximumLimit).contains(limit) else {
                throw APIError.badRequest("limit must be an integer from 1 to \(maximumLimit)", pointer: "limit")
            }
            page.limit = limit
        }
        if let cursor = query["cursor"], !cursor.isEmpty {
            guard let key = PageCursor.decode(cursor), key.count == keyCount else {
                throw APIError.badRequest("cursor is not one this server issued", pointer: "cursor", type: "invalid-cursor")
            }
            page.after = key
        }
        return page
    }
}

public enum PageCursor {
    public static func encode(_ key: [String]) -> String {
        Base64URL.encode(JSONValue.array(key.map(JSONValue.string)).serialized)
    }

    public static func decode(_ text: String) -> [String]? {
        guard text.utf8.count <= 2048, let bytes = Base64URL.decode(text),
              let value = try? JSONParser.parse(bytes), case .array(let items) = value else { return nil }
        var key: [String] = []
        for item in items {
            guard case .string(let part) = item, part.utf8.count <= 512 else { return nil }
            key.append(part)
        }
        return key
    }
}

/// A page of a list answer: `{"items": [...], "next_cursor": "..." | null}`.
public struct Page: Sendable {
    public var items: [JSONValue]
    public var nextCursor: String?

    /// Builds the page from up to `limit + 1` rows fetched: the extra row only says "there is more".
    public init<Row>(fetched: [Row], limit: Int, key: (Row) -> [String], render: (Row) -> JSONValue) {
        let shown = Array(fetched.prefix(limit))
        items = shown.map(render)
        nextCursor = fetched.count > limit ? PageCursor.encode(key(shown[shown.count - 1])) : nil
    }

    public var json: JSONValue {
        .object(["items": .array(items), "next_cursor": nextCursor.map(JSONValue.string) ?? .null])
    }
}
