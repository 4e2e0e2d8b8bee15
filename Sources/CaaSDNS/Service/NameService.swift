/// What the name server does with one datagram from a client: a pure decision over the query,
/// the client's address and the table, so every answer is tested without a socket.
///
/// - A name of the client's scope answers itself (authoritative): its addresses as A records,
///   rotated by `turn` so clients spread over the replicas; no address of another type (AAAA,
///   MX, … get an empty answer, so resolvers do not ask elsewhere); an alias answers its CNAME,
///   and the server then asks upstream for the target's addresses.
/// - Any other name (another scope's too: the client cannot tell them from outside names) goes
///   to the upstream resolvers unchanged, or is refused when there are none.
/// - What does not parse gets FORMERR when it carries an id, and no answer otherwise; other
///   opcodes than QUERY get NOTIMP.
public enum NameService {
    /// Time to live of the answers held here: none, so a container replaced elsewhere is
    /// followed at the next lookup (answers change as containers come and go).
    public static let ttl: UInt32 = 0
    /// A reply fits a UDP datagram without EDNS (RFC 1035 §4.2.1): answers beyond it are left
    /// out (the rotation shows the others to the next clients), never truncated mid-record.
    public static let maxReplyBytes = 512

    public enum Decision: Sendable, Equatable {
        /// Send these bytes back to the client.
        case reply([UInt8])
        /// Send the client's query upstream (its id replaced by the server's own).
        case forward(DNSQuery)
        /// Reply with `cname` plus what upstream answers for its target (`question`).
        case resolveAlias(DNSQuery, cname: DNSRecord, target: DNSQuestion)
        /// Nothing to answer.
        case drop
    }

    public static func decide(_ bytes: [UInt8], client: [UInt8], table: NameTable, hasUpstream: Bool, turn: Int = 0) -> Decision {
        let query: DNSQuery
        do {
            query = try DNSCodec.parseQuery(bytes)
        } catch {
            guard let id = DNSCodec.id(of: bytes), bytes.count >= 3, bytes[2] & 0x80 == 0 else { return .drop }
            return .reply(DNSCodec.response(to: DNSQuery(id: id, recursionDesired: bytes[2] & 0x01 != 0, question: nil), code: .formatError,
                                            authoritative: false))
        }
        guard query.opcode == 0 else { return .reply(DNSCodec.response(to: query, code: .notImplemented, authoritative: false)) }
        guard let question = query.question else { return .drop }
        guard question.klass == 1, let answer = table.answer(question.labels, client: client) else {
            return hasUpstream ? .forward(query) : .reply(DNSCodec.response(to: query, code: .refused, authoritative: false))
        }
        switch answer {
        case .addresses(let addresses):
            guard question.type == DNSType.a.rawValue || question.type == 255, !addresses.isEmpty else {
                return .reply(DNSCodec.response(to: query, code: .noError))
            }
            let start = ((turn % addresses.count) + addresses.count) % addresses.count
            let rotated = Array(addresses[start...] + addresses[..<start])
            let records = fitting(rotated.map { DNSRecord(labels: question.labels, ttl: ttl, data: .a($0)) }, after: [], to: query)
            return .reply(DNSCodec.response(to: query, code: .noError, answers: records))
        case .alias(let target):
            let cname = DNSRecord(labels: question.labels, ttl: ttl, data: .cname(target))
            guard hasUpstream, question.type == DNSType.a.rawValue || question.type == DNSType.aaaa.rawValue else {
                return .reply(DNSCodec.response(to: query, code: .noError, answers: [cname]))
            }
            return .resolveAlias(query, cname: cname, target: DNSQuestion(labels: target, type: question.type))
        }
    }

    /// The client's reply once upstream answered an alias's target (`upstream` nil: it did not
    /// answer in time, or not in a form read here): the CNAME, then the target's records.
    public static func aliasReply(_ query: DNSQuery, cname: DNSRecord, upstream: DNSCodec.ParsedResponse?) -> [UInt8] {
        DNSCodec.response(to: query, code: .noError, answers: fitting(upstream?.answers ?? [], after: [cname], to: query))
    }

    /// `first` and as many of `records`, in order, as fit in one reply to `query`: the reply's
    /// size is added up record by record, not encoded again for each.
    static func fitting(_ records: [DNSRecord], after first: [DNSRecord], to query: DNSQuery) -> [DNSRecord] {
        var answers = first
        var size = DNSCodec.response(to: query, code: .noError, answers: first).count
        for record in records {
            size += DNSCodec.size(of: record)
            guard size <= maxReplyBytes else { break }
            answers.append(record)
        }
        return answers
    }

    /// The client's reply when upstream did not answer a forwarded query in time.
    public static func upstreamFailed(_ query: DNSQuery) -> [UInt8] {
        DNSCodec.response(to: query, code: .serverFailure, authoritative: false)
    }
}
