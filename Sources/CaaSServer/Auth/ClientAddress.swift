import Foundation
import CaaSModel

/// Which address a request comes from, as failed-authentication throttling and the logs see it.
///
/// The peer of the TCP connection, unless that peer is one of the operator's proxies
/// (`CAAS_TRUSTED_PROXIES`): then `X-Forwarded-For` is read from the right, each trusted proxy's
/// hop is skipped, and the first address not trusted is the client. Hops left of it were written
/// by the client itself and are never believed. Pure, so it is tested on values.
public struct TrustedProxies: Sendable, Equatable {
    /// IPv4 networks (`10.0.0.0/8`, a lone `10.0.0.7` is a /32).
    public var networks: [IPv4Network]
    /// Other addresses trusted as written (IPv6 such as `::1`).
    public var addresses: Set<String>

    public init(networks: [IPv4Network] = [], addresses: Set<String> = []) {
        self.networks = networks
        self.addresses = addresses
    }

    public var isEmpty: Bool { networks.isEmpty && addresses.isEmpty }

    /// Parses a comma-separated list; the first entry that is neither a CIDR, an IPv4 address
    /// nor an IPv6 address is the error.
    public static func parse(_ text: String) throws(ParseError) -> TrustedProxies {
        var proxies = TrustedProxies()
        for raw in text.split(separator: ",") {
            let entry = raw.trimmingCharacters(in: .whitespaces)
            if entry.isEmpty { continue }
            if entry.contains("/") {
                switch IPv4Network.parse(entry) {
                case .success(let network): proxies.networks.append(network)
                case .failure(let error): throw ParseError(message: "\(entry): \(error)")
                }
            } else if let address = IPv4Network.parseAddress(entry) {
                proxies.networks.append(IPv4Network(address: address, prefixLength: 32)!)
            } else if entry.contains(":"), entry.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }), entry.count <= 45 {
                proxies.addresses.insert(entry.lowercased())
            } else {
                throw ParseError(message: "\(entry) is not an IPv4 network (a.b.c.d/n) or an IP address")
            }
        }
        return proxies
    }

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public func trusts(_ address: String) -> Bool {
        if let v4 = IPv4Network.parseAddress(address) {
            return networks.contains { $0.address == v4 & IPv4Network.mask($0.prefixLength) }
        }
        return addresses.contains(address.lowercased())
    }

    /// The client's address: `peer` (already without its port) unless `peer` is trusted and
    /// `forwardedFor` names hops.
    public func client(peer: String, forwardedFor: String?) -> String {
        guard trusts(peer), let forwardedFor else { return peer }
        let hops = forwardedFor.split(separator: ",").map { Self.bare(String($0)) }
        var client = peer
        for hop in hops.reversed() {
            guard !hop.isEmpty, hop.count <= 64 else { break }
            client = hop
            if !trusts(hop) { break }
        }
        return client
    }

    /// ` 203.0.113.9 ` → `203.0.113.9`; `[2001:db8::1]:443` → `2001:db8::1`; `198.51.100.2:80` → `198.51.100.2`.
    static func bare(_ hop: String) -> String {
        let text = hop.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            return String(text[text.index(after: text.startIndex)..<close])
        }
        if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            return String(text[..<colon])
        }
        return text
    }
}
