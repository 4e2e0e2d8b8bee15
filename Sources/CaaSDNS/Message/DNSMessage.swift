/// The parts of a DNS message (RFC 1035 §4) the name service reads and writes: the header, one
/// question, and answer records of the types it serves (A, AAAA, CNAME). Pure values and codecs;
/// every read is bounds-checked, so any datagram either parses or is refused, never trusted.
public enum DNSType: UInt16, Sendable {
    case a = 1
    case cname = 5
    case aaaa = 28
}

public enum DNSResponseCode: UInt8, Sendable {
    case noError = 0
    case formatError = 1
    case serverFailure = 2
    case nameError = 3
    case notImplemented = 4
    case refused = 5
}

public struct DNSQuestion: Sendable, Equatable {
    /// Lowercased labels, without the root.
    public var labels: [String]
    public var type: UInt16
    public var klass: UInt16

    public init(labels: [String], type: UInt16, klass: UInt16 = 1) {
        self.labels = labels
        self.type = type
        self.klass = klass
    }

    public var name: String { labels.joined(separator: ".") }
}

/// A resource record of an answer section: the name it is for, and typed data.
public struct DNSRecord: Sendable, Equatable {
    public enum Data: Sendable, Equatable {
        case a([UInt8])
        case aaaa([UInt8])
        case cname([String])
    }

    public var labels: [String]
    public var ttl: UInt32
    public var data: Data

    public init(labels: [String], ttl: UInt32, data: Data) {
        self.labels = labels
        self.ttl = ttl
        self.data = data
    }
}

/// A query as received: the header fields a reply echoes and its single question.
public struct DNSQuery: Sendable, Equatable {
    public var id: UInt16
    /// Opcode 0 (QUERY); other opcodes are answered "not implemented".
    public var opcode: UInt8
    public var recursionDesired: Bool
    public var question: DNSQuestion?

    public init(id: UInt16, opcode: UInt8 = 0, recursionDesired: Bool = true, question: DNSQuestion?) {
        self.id = id
        self.opcode = opcode
        self.recursionDesired = recursionDesired
        self.question = question
    }
}

public enum DNSCodec {
    /// Longest name on the wire (RFC 1035 §2.3.4), and longest label.
    static let maxNameBytes = 255
    static let maxLabelBytes = 63

    public struct Malformed: Error, Equatable {
        public var reason: String
    }

    // MARK: Queries

    /// Parses a query; a message that is a response, or that has other than one question, or whose
    /// question does not parse, throws (the server then answers FORMERR when the id is readable).
    public static func parseQuery(_ bytes: [UInt8]) throws(Malformed) -> DNSQuery {
        var reader = Reader(bytes)
        let id = try reader.u16()
        let flags = try reader.u16()
        let questions = try reader.u16()
        _ = try reader.u16(); _ = try reader.u16(); _ = try reader.u16()
        guard flags & 0x8000 == 0 else { throw Malformed(reason: "a response, not a query") }
        let opcode = UInt8((flags >> 11) & 0x0F)
        let rd = flags & 0x0100 != 0
        guard questions == 1 else { throw Malformed(reason: "\(questions) questions") }
        let labels = try reader.name()
        let type = try reader.u16()
        let klass = try reader.u16()
        return DNSQuery(id: id, opcode: opcode, recursionDesired: rd,
                        question: DNSQuestion(labels: labels.map { $0.lowercasedASCII }, type: type, klass: klass))
    }

    /// The id of a message, when it has one (for FORMERR replies to what does not parse).
    public static func id(of bytes: [UInt8]) -> UInt16? {
        bytes.count >= 12 ? UInt16(bytes[0]) << 8 | UInt16(bytes[1]) : nil
    }

    /// A query message, as the server sends upstream (CNAME targets) and tests send the server.
    public static func query(id: UInt16, _ question: DNSQuestion, recursionDesired: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        out.u16(id)
        out.u16(recursionDesired ? 0x0100 : 0)
        out.u16(1); out.u16(0); out.u16(0); out.u16(0)
        out.name(question.labels)
        out.u16(question.type)
        out.u16(question.klass)
        return out
    }

    // MARK: Responses

    /// A reply to `query`: authoritative for the names the service holds, recursion available
    /// (others are forwarded), the question echoed, then `answers`.
    public static func response(to query: DNSQuery, code: DNSResponseCode, answers: [DNSRecord] = [], authoritative: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        out.u16(query.id)
        var flags: UInt16 = 0x8000 | UInt16(query.opcode & 0x0F) << 11 | 0x0080 | UInt16(code.rawValue)
        if authoritative { flags |= 0x0400 }
        if query.recursionDesired { flags |= 0x0100 }
        out.u16(flags)
        out.u16(query.question == nil ? 0 : 1)
        out.u16(UInt16(answers.count)); out.u16(0); out.u16(0)
        if let question = query.question {
            out.name(question.labels)
            out.u16(question.type)
            out.u16(question.klass)
        }
        for record in answers { out.record(record) }
        return out
    }

    /// The bytes `record` takes in an answer section (uncompressed, as `response` writes it).
    public static func size(of record: DNSRecord) -> Int {
        var out: [UInt8] = []
        out.record(record)
        return out.count
    }

    /// A response as the server reads upstream answers: its code and the A, AAAA and CNAME
    /// records of its answer section (names decompressed; other types skipped).
    public struct ParsedResponse: Sendable, Equatable {
        public var id: UInt16
        public var code: UInt8
        public var answers: [DNSRecord]
    }

    public static func parseResponse(_ bytes: [UInt8]) throws(Malformed) -> ParsedResponse {
        var reader = Reader(bytes)
        let id = try reader.u16()
        let flags = try reader.u16()
        let questions = try reader.u16()
        let answerCount = try reader.u16()
        _ = try reader.u16(); _ = try reader.u16()
        guard flags & 0x8000 != 0 else { throw Malformed(reason: "a query, not a response") }
        for _ in 0..<questions {
            _ = try reader.name()
            _ = try reader.u16(); _ = try reader.u16()
        }
        var answers: [DNSRecord] = []
        for _ in 0..<answerCount {
            let labels = try reader.name()
            let type = try reader.u16()
            let klass = try reader.u16()
            let ttl = try reader.u32()
            let length = Int(try reader.u16())
            let end = reader.offset + length
            guard end <= bytes.count else { throw Malformed(reason: "record data past the end") }
            defer { reader.offset = end }
            guard klass == 1 else { continue }
            switch DNSType(rawValue: type) {
            case .a where length == 4:
                answers.append(DNSRecord(labels: labels, ttl: ttl, data: .a(Array(bytes[reader.offset..<end]))))
            case .aaaa where length == 16:
                answers.append(DNSRecord(labels: labels, ttl: ttl, data: .aaaa(Array(bytes[reader.offset..<end]))))
            case .cname:
                answers.append(DNSRecord(labels: labels, ttl: ttl, data: .cname(try reader.name())))
            default:
                continue
            }
        }
        return ParsedResponse(id: id, code: UInt8(flags & 0x000F), answers: answers)
    }

    /// Replaces a message's id (forwarding: the upstream id is ours, the client's goes back).
    public static func withID(_ id: UInt16, _ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= 2 else { return bytes }
        var copy = bytes
        copy[0] = UInt8(id >> 8)
        copy[1] = UInt8(id & 0xFF)
        return copy
    }

    // MARK: Reading

    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        mutating func u8() throws(Malformed) -> UInt8 {
            guard offset < bytes.count else { throw Malformed(reason: "truncated") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func u16() throws(Malformed) -> UInt16 {
            UInt16(try u8()) << 8 | UInt16(try u8())
        }

        mutating func u32() throws(Malformed) -> UInt32 {
            UInt32(try u16()) << 16 | UInt32(try u16())
        }

        /// A name, following compression pointers (each must point backwards, so a loop cannot
        /// form); at most 255 bytes and 63 per label.
        mutating func name() throws(Malformed) -> [String] {
            var labels: [String] = []
            var total = 0
            var position = offset
            var resumeAt: Int? = nil
            var lowestJump = position
            while true {
                guard position < bytes.count else { throw Malformed(reason: "truncated name") }
                let length = Int(bytes[position])
                if length & 0xC0 == 0xC0 {
                    guard position + 1 < bytes.count else { throw Malformed(reason: "truncated pointer") }
                    let target = (length & 0x3F) << 8 | Int(bytes[position + 1])
                    guard target < lowestJump else { throw Malformed(reason: "a compression pointer that does not point back") }
                    if resumeAt == nil { resumeAt = position + 2 }
                    lowestJump = target
                    position = target
                    continue
                }
                guard length & 0xC0 == 0 else { throw Malformed(reason: "unknown label type") }
                if length == 0 {
                    position += 1
                    break
                }
                guard length <= DNSCodec.maxLabelBytes else { throw Malformed(reason: "label over 63 bytes") }
                total += length + 1
                guard total <= DNSCodec.maxNameBytes, position + 1 + length <= bytes.count else { throw Malformed(reason: "name too long") }
                labels.append(String(decoding: bytes[(position + 1)...(position + length)], as: UTF8.self))
                position += 1 + length
            }
            offset = resumeAt ?? position
            return labels
        }
    }
}

extension [UInt8] {
    mutating func u16(_ value: UInt16) {
        append(UInt8(value >> 8)); append(UInt8(value & 0xFF))
    }

    mutating func u32(_ value: UInt32) {
        u16(UInt16(value >> 16)); u16(UInt16(value & 0xFFFF))
    }

    mutating func record(_ record: DNSRecord) {
        name(record.labels)
        switch record.data {
        case .a(let address):
            u16(DNSType.a.rawValue); u16(1); u32(record.ttl); u16(4); append(contentsOf: address)
        case .aaaa(let address):
            u16(DNSType.aaaa.rawValue); u16(1); u32(record.ttl); u16(16); append(contentsOf: address)
        case .cname(let target):
            var rdata: [UInt8] = []
            rdata.name(target)
            u16(DNSType.cname.rawValue); u16(1); u32(record.ttl); u16(UInt16(rdata.count)); append(contentsOf: rdata)
        }
    }

    /// A name, uncompressed (labels are at most 63 bytes: longer ones are cut, which only names
    /// the service never holds could have).
    mutating func name(_ labels: [String]) {
        for label in labels where !label.isEmpty {
            let bytes = Array(label.utf8.prefix(DNSCodec.maxLabelBytes))
            append(UInt8(bytes.count))
            append(contentsOf: bytes)
        }
        append(0)
    }
}

extension String {
    /// Lowercased ASCII letters only (DNS names compare case-insensitively, RFC 4343).
    var lowercasedASCII: String {
        String(decoding: utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
    }
}
