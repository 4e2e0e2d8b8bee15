/// A PostgreSQL type, identified by its OID (`pg_type.oid`). Built-in types have fixed OIDs;
/// user-defined types (enums, domains over arrays, …) have OIDs ≥ 16384 that differ per database.
public struct PostgresDataType: Sendable, Hashable, CustomStringConvertible {
    public var oid: UInt32

    public init(oid: UInt32) { self.oid = oid }

    /// "Let the server infer the type from the context" (used for `String` parameters, so a
    /// string can be compared with a `uuid`, `jsonb` or enum column without a cast).
    public static let unspecified = PostgresDataType(oid: 0)
    public static let bool = PostgresDataType(oid: 16)
    public static let bytea = PostgresDataType(oid: 17)
    public static let char = PostgresDataType(oid: 18)
    public static let name = PostgresDataType(oid: 19)
    public static let int8 = PostgresDataType(oid: 20)
    public static let int2 = PostgresDataType(oid: 21)
    public static let int4 = PostgresDataType(oid: 23)
    public static let text = PostgresDataType(oid: 25)
    public static let oidType = PostgresDataType(oid: 26)
    public static let json = PostgresDataType(oid: 114)
    public static let float4 = PostgresDataType(oid: 700)
    public static let float8 = PostgresDataType(oid: 701)
    public static let unknown = PostgresDataType(oid: 705)
    public static let bpchar = PostgresDataType(oid: 1042)
    public static let varchar = PostgresDataType(oid: 1043)
    public static let date = PostgresDataType(oid: 1082)
    public static let time = PostgresDataType(oid: 1083)
    public static let timestamp = PostgresDataType(oid: 1114)
    public static let timestamptz = PostgresDataType(oid: 1184)
    public static let interval = PostgresDataType(oid: 1186)
    public static let numeric = PostgresDataType(oid: 1700)
    public static let uuid = PostgresDataType(oid: 2950)
    public static let jsonb = PostgresDataType(oid: 3802)

    public static let boolArray = PostgresDataType(oid: 1000)
    public static let byteaArray = PostgresDataType(oid: 1001)
    public static let nameArray = PostgresDataType(oid: 1003)
    public static let int2Array = PostgresDataType(oid: 1005)
    public static let int4Array = PostgresDataType(oid: 1007)
    public static let textArray = PostgresDataType(oid: 1009)
    public static let bpcharArray = PostgresDataType(oid: 1014)
    public static let varcharArray = PostgresDataType(oid: 1015)
    public static let int8Array = PostgresDataType(oid: 1016)
    public static let float4Array = PostgresDataType(oid: 1021)
    public static let float8Array = PostgresDataType(oid: 1022)
    public static let timestampArray = PostgresDataType(oid: 1115)
    public static let timestamptzArray = PostgresDataType(oid: 1185)
    public static let numericArray = PostgresDataType(oid: 1231)
    public static let uuidArray = PostgresDataType(oid: 2951)
    public static let jsonArray = PostgresDataType(oid: 199)
    public static let jsonbArray = PostgresDataType(oid: 3807)

    /// Element type of a built-in array type; nil for anything that is not a known array.
    public var arrayElementType: PostgresDataType? {
        Self.elementOfArray[self]
    }

    /// The array type whose elements are of this type, for the built-in types.
    public var arrayType: PostgresDataType? {
        Self.arrayOfElement[self]
    }

    /// A user-defined type (enum, domain, composite…): its OID is assigned per database.
    public var isUserDefined: Bool { oid >= 16384 }

    private static let elementOfArray: [PostgresDataType: PostgresDataType] = [
        .boolArray: .bool, .byteaArray: .bytea, .nameArray: .name, .int2Array: .int2,
        .int4Array: .int4, .textArray: .text, .bpcharArray: .bpchar, .varcharArray: .varchar,
        .int8Array: .int8, .float4Array: .float4, .float8Array: .float8,
        .timestampArray: .timestamp, .timestamptzArray: .timestamptz, .numericArray: .numeric,
        .uuidArray: .uuid, .jsonArray: .json, .jsonbArray: .jsonb,
    ]

    private static let arrayOfElement: [PostgresDataType: PostgresDataType] = {
        var map: [PostgresDataType: PostgresDataType] = [:]
        for (array, element) in elementOfArray { map[element] = array }
        map[.unspecified] = .textArray
        return map
    }()

    private static let names: [UInt32: String] = [
        0: "unspecified", 16: "bool", 17: "bytea", 18: "char", 19: "name", 20: "int8", 21: "int2",
        23: "int4", 25: "text", 26: "oid", 114: "json", 700: "float4", 701: "float8",
        705: "unknown", 1042: "bpchar", 1043: "varchar", 1082: "date", 1083: "time",
        1114: "timestamp", 1184: "timestamptz", 1186: "interval", 1700: "numeric", 2950: "uuid",
        3802: "jsonb", 1000: "bool[]", 1001: "bytea[]", 1003: "name[]", 1005: "int2[]",
        1007: "int4[]", 1009: "text[]", 1014: "bpchar[]", 1015: "varchar[]", 1016: "int8[]",
        1021: "float4[]", 1022: "float8[]", 1115: "timestamp[]", 1185: "timestamptz[]",
        1231: "numeric[]", 2951: "uuid[]", 199: "json[]", 3807: "jsonb[]",
    ]

    public var description: String {
        Self.names[oid] ?? "oid \(oid)"
    }
}
