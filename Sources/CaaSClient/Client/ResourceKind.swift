/// A kind of object of the API: where its collection lives, the prefix of its ids, and how a
/// list call filters it by name. Every path the client uses is declared here or in `API`.
public struct ResourceKind: Sendable, Equatable {
    /// As messages say it: "cluster", "application".
    public var singular: String
    /// The collection: `/v1/clusters`.
    public var collection: String
    /// Ids of this kind start with it: `clu_`.
    public var idPrefix: String
    /// The list filter that selects by name (`nil`: the list is searched page by page).
    public var nameFilter: String?

    public init(singular: String, collection: String, idPrefix: String, nameFilter: String? = "name_prefix") {
        self.singular = singular
        self.collection = collection
        self.idPrefix = idPrefix
        self.nameFilter = nameFilter
    }

    public func path(_ id: String) -> String { "\(collection)/\(CaaSClient.percentEncode(id))" }

    /// Whether `text` is an id of this kind (else it is taken as a name).
    public func isID(_ text: String) -> Bool { text.hasPrefix(idPrefix) && text.count > idPrefix.count }

    public static let tenant = ResourceKind(singular: "tenant", collection: "/v1/tenants", idPrefix: "ten_", nameFilter: "name_prefix")
    public static let token = ResourceKind(singular: "token", collection: "/v1/tokens", idPrefix: "tok_", nameFilter: nil)
    public static let cluster = ResourceKind(singular: "cluster", collection: "/v1/clusters", idPrefix: "clu_")
    public static let node = ResourceKind(singular: "node", collection: "/v1/nodes", idPrefix: "nod_", nameFilter: nil)
    public static let template = ResourceKind(singular: "template", collection: "/v1/templates", idPrefix: "tpl_")
    public static let image = ResourceKind(singular: "image", collection: "/v1/images", idPrefix: "img_", nameFilter: "repository")
    public static let application = ResourceKind(singular: "application", collection: "/v1/apps", idPrefix: "app_")
    /// Services have no collection of their own: they are listed per application
    /// (`/v1/apps/{id}/services`) and read at `/v1/services/{id}`.
    public static let service = ResourceKind(singular: "service", collection: "/v1/services", idPrefix: "svc_", nameFilter: nil)
    public static let container = ResourceKind(singular: "container", collection: "/v1/containers", idPrefix: "ctr_", nameFilter: nil)
    public static let deployment = ResourceKind(singular: "deployment", collection: "/v1/deployments", idPrefix: "dep_", nameFilter: nil)
}

extension CaaSClient {
    /// The object `nameOrID` names: an id is read directly; a name is looked up with the kind's
    /// list filter (plus `scope`, such as `cluster_id`) and must match exactly one object.
    /// `listPath` replaces the kind's collection for kinds listed under a parent.
    public func resolve(_ kind: ResourceKind, _ nameOrID: String, scope: [(String, String)] = [], listPath: String? = nil) async throws -> JSON {
        if kind.isID(nameOrID) {
            do {
                return try await get(kind.path(nameOrID))
            } catch CaaSClientError.problem(let problem) where problem.status == 404 {
                throw CaaSClientError.notFound(kind: kind.singular, name: nameOrID)
            }
        }
        var query = scope
        if let filter = kind.nameFilter { query.append((filter, nameOrID)) }
        let matches = try await list(listPath ?? kind.collection, query: query).filter { $0["name"]?.stringValue == nameOrID }
        switch matches.count {
        case 0: throw CaaSClientError.notFound(kind: kind.singular, name: nameOrID)
        case 1: return matches[0]
        default: throw CaaSClientError.ambiguous(kind: kind.singular, name: nameOrID, ids: matches.compactMap { $0["id"]?.stringValue })
        }
    }

    /// The id of the object `nameOrID` names (ids are returned as they are, unread).
    public func resolveID(_ kind: ResourceKind, _ nameOrID: String, scope: [(String, String)] = []) async throws -> String {
        if kind.isID(nameOrID) { return nameOrID }
        guard let id = try await resolve(kind, nameOrID, scope: scope)["id"]?.stringValue else {
            throw CaaSClientError.invalidResponse("the \(kind.singular) \(nameOrID) has no id")
        }
        return id
    }
}
