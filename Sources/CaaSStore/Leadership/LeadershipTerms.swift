import CaaSPostgres
import Foundation

/// One replica's term as leader of a singleton: the fencing token its writes carry.
public struct LeadershipTerm: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var epoch: Int64
    public var holder: String

    public init(name: String, epoch: Int64, holder: String) {
        self.name = name
        self.epoch = epoch
        self.holder = holder
    }

    public var description: String { "\(name) term \(epoch) of \(holder)" }
}

/// A singleton's write refused: another term began since (this leader lost its session).
public struct LeadershipLost: Error, Sendable, Equatable, CustomStringConvertible {
    public var term: LeadershipTerm
    public var current: Int64?
    public var description: String { "\(term) is over (the current term is \(current.map(String.init) ?? "none")): not acting" }
}

extension SystemTransaction {
    /// Begins a new term of `name` for `holder` (call while holding the singleton's lock).
    public func beginTerm(_ name: String, holder: String) throws -> LeadershipTerm {
        let epoch: Int64 = try connection.query("""
            INSERT INTO leadership_terms (name, epoch, holder) VALUES ($1, 1, $2)
            ON CONFLICT (name) DO UPDATE SET epoch = leadership_terms.epoch + 1, holder = EXCLUDED.holder, since = now()
            RETURNING epoch
            """, [name, holder])[0].decode("epoch")
        return LeadershipTerm(name: name, epoch: epoch, holder: holder)
    }

    /// Throws `LeadershipLost` unless `term` is still the current one. Call first in a
    /// singleton's transaction: the row is share-locked until commit, so a new term cannot begin
    /// while this write is in flight, and none of it lands after one did.
    public func fence(_ term: LeadershipTerm) throws {
        let current = try connection.query("SELECT epoch FROM leadership_terms WHERE name = $1 FOR SHARE", [term.name])
            .first.map { try $0.decode("epoch", as: Int64.self) }
        guard current == term.epoch else { throw LeadershipLost(term: term, current: current) }
    }
}
