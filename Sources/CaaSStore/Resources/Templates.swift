import CaaSPostgres
import Foundation

public struct TemplateRecord: Sendable, Equatable {
    public var id: String
    public var name: String
    public var description: String
    /// The highest version number that exists (0 when every version was deleted).
    public var latestVersion: Int
    public var versionCount: Int
    public var version: Int64
    public var createdAt: Date
    public var updatedAt: Date
}

let templateColumns = """
    t.id, t.name, t.description, t.version, t.created_at, t.updated_at, t.created_at::text AS sort_time,
    coalesce((SELECT max(v.number) FROM template_versions v WHERE v.template_id = t.id), 0)::int8 AS latest_version,
    (SELECT count(*) FROM template_versions v WHERE v.template_id = t.id)::int8 AS version_count
    """

extension TemplateRecord {
    init(row: PostgresRow) throws {
        id = try row.decode("id")
        name = try row.decode("name")
        description = try row.decode("description")
        latestVersion = try row.decode("latest_version")
        versionCount = try row.decode("version_count")
        version = try row.decode("version")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
    }
}

/// One immutable version of a template.
public struct TemplateVersionRecord: Sendable, Equatable {
    public var templateID: String
    public var number: Int
    public var compose: String
    public var digestHex: String
    /// The variables the text references, as JSON array text (the API renders it).
    public var variablesJSON: String
    /// Parser warnings at creation, as JSON array text.
    public var warningsJSON: String
    public var description: String
    public var author: String
    public var createdAt: Date
}

let templateVersionColumns = """
    template_id, number, compose, encode(digest, 'hex') AS digest, variables::text AS variables,
    warnings::text AS warnings, description, author, created_at
    """

extension TemplateVersionRecord {
    init(row: PostgresRow) throws {
        templateID = try row.decode("template_id")
        number = try row.decode("number")
        compose = try row.decode("compose")
        digestHex = try row.decode("digest")
        variablesJSON = try row.decode("variables")
        warningsJSON = try row.decode("warnings")
        description = try row.decode("description")
        author = try row.decode("author")
        createdAt = try row.decode("created_at")
    }
}

/// A version to add: the text was parsed and found valid before it gets here.
public struct NewTemplateVersion: Sendable, Equatable {
    public var compose: String
    public var digestHex: String
    public var variablesJSON: String
    public var warningsJSON: String
    public var description: String
    /// The name of the token that adds it.
    public var author: String

    public init(compose: String, digestHex: String, variablesJSON: String, warningsJSON: String, description: String, author: String) {
        self.compose = compose
        self.digestHex = digestHex
        self.variablesJSON = variablesJSON
        self.warningsJSON = warningsJSON
        self.description = description
        self.author = author
    }
}

extension TenantTransaction {
    public func createTemplate(id: String, name: String, description: String, first: NewTemplateVersion) throws -> (TemplateRecord, TemplateVersionRecord) {
        try beginWrite()
        do {
            _ = try connection.execute(
                "INSERT INTO templates (id, tenant_id, name, description) VALUES ($1, $2, $3, $4)",
                [id, tenantID, name, description])
        } catch let error as PostgresError where error.isUniqueViolation {
            throw StoreError.conflict("a template named \(name) exists")
        }
        try appendEvent(type: "template.created", objectKind: "template", objectID: id, summary: "template \(name) created")
        let version = try addTemplateVersion(id, expectedVersion: nil, first)
        return (try requireTemplate(id), version)
    }

    /// Adds the next version (numbers are never reused).
    public func addTemplateVersion(_ templateID: String, expectedVersion: Int64?, _ new: NewTemplateVersion) throws -> TemplateVersionRecord {
        try beginWrite()
        let rows = try connection.query("""
            UPDATE templates SET version_counter = version_counter + 1, version = version + 1, updated_at = now()
            WHERE id = $1 AND tenant_id = $2 AND ($3::bigint IS NULL OR version = $3)
            RETURNING version_counter, name
            """, [templateID, tenantID, expectedVersion])
        guard let row = rows.first else {
            throw try StoreVersioning.missingOrStale(connection, table: "templates", kind: "template", id: templateID)
        }
        let number: Int = try row.decode("version_counter")
        let name: String = try row.decode("name")
        let inserted = try connection.query("""
            INSERT INTO template_versions (tenant_id, template_id, number, compose, digest, variables, warnings, description, author)
            VALUES ($1, $2, $3, $4, decode($5, 'hex'), $6::jsonb, $7::jsonb, $8, $9)
            RETURNING \(templateVersionColumns)
            """, [tenantID, templateID, number, new.compose, new.digestHex, new.variablesJSON, new.warningsJSON,
                  new.description, new.author])
        try appendEvent(type: "template.version_created", objectKind: "template", objectID: templateID,
                        summary: "template \(name) version \(number) added by \(new.author)")
        return try TemplateVersionRecord(row: inserted[0])
    }

    public func template(_ id: String) throws -> TemplateRecord? {
        try connection.query("SELECT \(templateColumns) FROM templates t WHERE t.id = $1 AND t.tenant_id = $2", [id, tenantID])
            .first.map(TemplateRecord.init(row:))
    }

    func requireTemplate(_ id: String) throws -> TemplateRecord {
        guard let template = try template(id) else { throw StoreError.notFound(kind: "template", id: id) }
        return template
    }

    public func templates(namePrefix: String?, limit: Int, after: [String]?) throws -> [(TemplateRecord, [String])] {
        let rows = try connection.query("""
            SELECT \(templateColumns) FROM templates t
            WHERE t.tenant_id = $1
              AND ($2::text IS NULL OR starts_with(t.name, $2))
              AND ($3::timestamptz IS NULL OR (t.created_at, t.id) > ($3::timestamptz, $4::text))
            ORDER BY t.created_at, t.id
            LIMIT $5
            """, [tenantID, namePrefix, after?[0], after?[1], limit + 1])
        return try rows.map { (try TemplateRecord(row: $0), try CreationOrder.key($0)) }
    }

    public func updateTemplate(_ id: String, expectedVersion: Int64?, name: String?, description: String?) throws -> TemplateRecord {
        try beginWrite()
        let count: Int
        do {
            count = try connection.execute("""
                UPDATE templates SET name = coalesce($4, name), description = coalesce($5, description),
                       version = version + 1, updated_at = now()
                WHERE id = $1 AND tenant_id = $2 AND ($3::bigint IS NULL OR version = $3)
                """, [id, tenantID, expectedVersion, name, description])
        } catch let error as PostgresError where error.isUniqueViolation {
            throw StoreError.conflict("a template named \(name ?? "") exists")
        }
        if count == 0 { throw try StoreVersioning.missingOrStale(connection, table: "templates", kind: "template", id: id) }
        let template = try requireTemplate(id)
        try appendEvent(type: "template.updated", objectKind: "template", objectID: id, summary: "template \(template.name) changed")
        return template
    }

    public func templateVersion(_ templateID: String, number: Int) throws -> TemplateVersionRecord? {
        try connection.query("""
            SELECT \(templateVersionColumns) FROM template_versions WHERE template_id = $1 AND number = $2 AND tenant_id = $3
            """, [templateID, number, tenantID]).first.map(TemplateVersionRecord.init(row:))
    }

    /// Versions in number order; `after` is the previous page's last number.
    public func templateVersions(_ templateID: String, limit: Int, after: Int?) throws -> [TemplateVersionRecord] {
        try connection.query("""
            SELECT \(templateVersionColumns) FROM template_versions
            WHERE template_id = $1 AND tenant_id = $2 AND ($3::int8 IS NULL OR number > $3)
            ORDER BY number LIMIT $4
            """, [templateID, tenantID, after, limit + 1]).map(TemplateVersionRecord.init(row:))
    }

    /// Applications deployed from the template (one version, or any), as "name (id)".
    func applicationsUsing(templateID: String, number: Int?) throws -> [String] {
        try connection.query("""
            SELECT id, name FROM applications
            WHERE template_id = $1 AND tenant_id = $2 AND ($3::int8 IS NULL OR template_version = $3)
            ORDER BY name, id
            """, [templateID, tenantID, number]).map { "\(try $0.decode("name", as: String.self)) (\(try $0.decode("id", as: String.self)))" }
    }

    /// Deletes one version; refused (naming the applications) while any application uses it.
    public func deleteTemplateVersion(_ templateID: String, number: Int) throws {
        try beginWrite()
        let template = try requireTemplate(templateID)
        _ = try connection.query("SELECT 1 FROM templates WHERE id = $1 FOR UPDATE", [templateID])
        let users = try applicationsUsing(templateID: templateID, number: number)
        if !users.isEmpty {
            throw StoreError.inUse("version \(number) of template \(template.name) is used by \(users.joined(separator: ", "))")
        }
        let count: Int
        do {
            count = try connection.execute(
                "DELETE FROM template_versions WHERE template_id = $1 AND number = $2 AND tenant_id = $3", [templateID, number, tenantID])
        } catch let error as PostgresError where error.isForeignKeyViolation {
            throw StoreError.inUse("version \(number) of template \(template.name) is used by an application")
        }
        if count == 0 { throw StoreError.notFound(kind: "template version", id: "\(templateID)/versions/\(number)") }
        _ = try connection.execute("UPDATE templates SET version = version + 1, updated_at = now() WHERE id = $1", [templateID])
        try appendEvent(type: "template.version_deleted", objectKind: "template", objectID: templateID,
                        summary: "template \(template.name) version \(number) deleted")
    }

    /// Deletes a template with all its versions; refused while any version is in use.
    public func deleteTemplate(_ id: String, expectedVersion: Int64?) throws {
        try beginWrite()
        let template = try requireTemplate(id)
        if let expectedVersion, expectedVersion != template.version { throw StoreError.versionMismatch(current: template.version) }
        _ = try connection.query("SELECT 1 FROM templates WHERE id = $1 FOR UPDATE", [id])
        let users = try applicationsUsing(templateID: id, number: nil)
        if !users.isEmpty {
            throw StoreError.inUse("template \(template.name) is used by \(users.joined(separator: ", "))")
        }
        let count: Int
        do {
            count = try connection.execute("DELETE FROM templates WHERE id = $1 AND tenant_id = $2 AND version = $3",
                                           [id, tenantID, template.version])
        } catch let error as PostgresError where error.isForeignKeyViolation {
            throw StoreError.inUse("template \(template.name) is used by an application")
        }
        if count == 0 { throw try StoreVersioning.missingOrStale(connection, table: "templates", kind: "template", id: id) }
        try appendEvent(type: "template.deleted", objectKind: "template", objectID: id, summary: "template \(template.name) deleted")
    }
}
