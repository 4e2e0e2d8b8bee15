import CaaSPostgres
import Foundation

/// A tenant's catalog entry: one tag of one repository, with its digest when known.
public struct ImageRecord: Sendable, Equatable {
    public var id: String
    public var repository: String
    public var tag: String
    public var digest: String?
    public var description: String
    public var version: Int64
    public var createdAt: Date
    public var updatedAt: Date

    /// `repository:tag`, or `repository@digest` when the digest is known (pinned).
    public var reference: String {
        if let digest { return "\(repository)@\(digest)" }
        return "\(repository):\(tag)"
    }
}

let imageColumns = "id, repository, tag, digest, description, version, created_at, updated_at"

extension ImageRecord {
    init(row: PostgresRow) throws {
        id = try row.decode("id")
        repository = try row.decode("repository")
        tag = try row.decode("tag")
        digest = try row.decode("digest")
        description = try row.decode("description")
        version = try row.decode("version")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
    }
}

public struct NewImage: Sendable, Equatable {
    public var id: String
    public var repository: String
    public var tag: String
    public var digest: String?
    public var description: String

    public init(id: String, repository: String, tag: String, digest: String?, description: String) {
        self.id = id
        self.repository = repository
        self.tag = tag
        self.digest = digest
        self.description = description
    }
}

extension TenantTransaction {
    public func createImage(_ new: NewImage) throws -> ImageRecord {
        try beginWrite()
        let rows: PostgresRows
        do {
            rows = try connection.query("""
                INSERT INTO images (id, tenant_id, repository, tag, digest, description) VALUES ($1, $2, $3, $4, $5, $6)
                RETURNING \(imageColumns)
                """, [new.id, tenantID, new.repository, new.tag, new.digest, new.description])
        } catch let error as PostgresError where error.isUniqueViolation {
            throw StoreError.conflict("image \(new.repository):\(new.tag) is already in the catalog")
        }
        try appendEvent(type: "image.created", objectKind: "image", objectID: new.id,
                        summary: "image \(new.repository):\(new.tag) registered")
        return try ImageRecord(row: rows[0])
    }

    public func image(_ id: String) throws -> ImageRecord? {
        try connection.query("SELECT \(imageColumns) FROM images WHERE id = $1 AND tenant_id = $2", [id, tenantID])
            .first.map(ImageRecord.init(row:))
    }

    /// The catalog in (repository, tag, id) order; `query` matches a part of the repository name
    /// (case-insensitive, taken literally: no wildcards).
    public func images(query: String?, repository: String?, limit: Int, after: [String]?) throws -> [(ImageRecord, [String])] {
        let rows = try connection.query("""
            SELECT \(imageColumns) FROM images
            WHERE tenant_id = $1
              AND ($2::text IS NULL OR strpos(lower(repository), lower($2)) > 0)
              AND ($3::text IS NULL OR repository = $3)
              AND ($4::text IS NULL OR (repository, tag, id) > ($4::text, $5::text, $6::text))
            ORDER BY repository, tag, id
            LIMIT $7
            """, [tenantID, query, repository, after?[0], after?[1], after?[2], limit + 1])
        return try rows.map { row in
            let image = try ImageRecord(row: row)
            return (image, [image.repository, image.tag, image.id])
        }
    }

    public func updateImage(_ id: String, expectedVersion: Int64?, digest: String??, description: String?) throws -> ImageRecord {
        try beginWrite()
        let setDigest = digest != nil
        let rows = try connection.query("""
            UPDATE images SET digest = CASE WHEN $4 THEN $5 ELSE digest END, description = coalesce($6, description),
                   version = version + 1, updated_at = now()
            WHERE id = $1 AND tenant_id = $2 AND ($3::bigint IS NULL OR version = $3)
            RETURNING \(imageColumns)
            """, [id, tenantID, expectedVersion, setDigest, digest ?? nil, description])
        guard let row = rows.first else { throw try StoreVersioning.missingOrStale(connection, table: "images", kind: "image", id: id) }
        let image = try ImageRecord(row: row)
        try appendEvent(type: "image.updated", objectKind: "image", objectID: id, summary: "image \(image.repository):\(image.tag) changed")
        return image
    }

    /// Removes a catalog entry. Applications made from it keep running their image reference.
    public func deleteImage(_ id: String, expectedVersion: Int64?) throws {
        try beginWrite()
        guard let image = try image(id) else { throw StoreError.notFound(kind: "image", id: id) }
        let count = try connection.execute(
            "DELETE FROM images WHERE id = $1 AND tenant_id = $2 AND ($3::bigint IS NULL OR version = $3)", [id, tenantID, expectedVersion])
        if count == 0 { throw try StoreVersioning.missingOrStale(connection, table: "images", kind: "image", id: id) }
        try appendEvent(type: "image.deleted", objectKind: "image", objectID: id, summary: "image \(image.repository):\(image.tag) removed")
    }
}
