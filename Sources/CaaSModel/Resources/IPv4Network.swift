/// An IPv4 network in CIDR notation (`10.42.0.0/16`): the cluster's address space and each node's
/// subnet. Pure value: parsing, containment and the n-th subnet of a given prefix length.
public struct IPv4Network: Sendable, Hashable, CustomStringConvertible, Codable {
    /// The network address (host bits zero), as a 32-bit number.
    public let address: UInt32
    public let prefixLength: Int

    public init?(address: UInt32, prefixLength: Int) {
        guard (0...32).contains(prefixLength) else { return nil }
        guard address & ~IPv4Network.mask(prefixLength) == 0 else { return nil }
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses `a.b.c.d/n`. Host bits must be zero (`10.42.0.1/16` is refused with a reason).
    public static func parse(_ text: String) -> Result<IPv4Network, IPv4NetworkError> {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .failure(.syntax("expected a.b.c.d/n, got \(text)")) }
        guard let address = parseAddress(String(parts[0])) else {
            return .failure(.syntax("\(parts[0]) is not an IPv4 address"))
        }
        guard let prefix = Int(parts[1]), (0...32).contains(prefix), parts[1].allSatisfy(\.isASCII), !parts[1].hasPrefix("+") else {
            return .failure(.syntax("the prefix length must be 0 to 32"))
        }
        guard address & ~mask(prefix) == 0 else {
            return .failure(.hostBitsSet("\(text) has host bits set: the network is \(format(address & mask(prefix)))/\(prefix)"))
        }
        return .success(IPv4Network(address: address, prefixLength: prefix)!)
    }

    public init?(_ text: String) {
        guard case .success(let network) = IPv4Network.parse(text) else { return nil }
        self = network
    }

    public static func mask(_ prefixLength: Int) -> UInt32 {
        prefixLength == 0 ? 0 : UInt32.max << UInt32(32 - prefixLength)
    }

    /// Dotted quad, four decimal octets 0…255 without leading zeros (`010.1.1.1` is refused: it is
    /// octal to some parsers).
    public static func parseAddress(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for octet in octets {
            guard !octet.isEmpty, octet.count <= 3, octet.allSatisfy({ $0 >= "0" && $0 <= "9" }),
                  octet == "0" || !octet.hasPrefix("0"), let number = UInt32(octet), number <= 255 else { return nil }
            value = value << 8 | number
        }
        return value
    }

    public static func format(_ address: UInt32) -> String {
        "\(address >> 24).\((address >> 16) & 0xff).\((address >> 8) & 0xff).\(address & 0xff)"
    }

    public var description: String { "\(IPv4Network.format(address))/\(prefixLength)" }

    /// How many addresses the network spans.
    public var size: UInt64 { UInt64(1) << UInt64(32 - prefixLength) }

    public func contains(_ other: IPv4Network) -> Bool {
        other.prefixLength >= prefixLength && other.address & IPv4Network.mask(prefixLength) == address
    }

    public func overlaps(_ other: IPv4Network) -> Bool {
        contains(other) || other.contains(self)
    }

    /// How many subnets of `prefixLength` fit (0 when the prefix is not longer than this one's).
    public func subnetCount(prefixLength length: Int) -> Int {
        guard length > prefixLength, length <= 32 else { return 0 }
        return 1 << (length - prefixLength)
    }

    /// The `index`-th subnet of `prefixLength` inside this network.
    public func subnet(_ index: Int, prefixLength length: Int) -> IPv4Network? {
        guard index >= 0, index < subnetCount(prefixLength: length) else { return nil }
        return IPv4Network(address: address + UInt32(index) << UInt32(32 - length), prefixLength: length)
    }

    /// The position of `subnet` among this network's subnets of its length, if it is one.
    public func index(of subnet: IPv4Network) -> Int? {
        guard contains(subnet), subnet.prefixLength > prefixLength else { return nil }
        return Int((subnet.address - address) >> UInt32(32 - subnet.prefixLength))
    }
}

public enum IPv4NetworkError: Error, Sendable, Equatable, CustomStringConvertible {
    case syntax(String)
    case hostBitsSet(String)

    public var description: String {
        switch self {
        case .syntax(let detail), .hostBitsSet(let detail): detail
        }
    }
}

/// Node subnets of a cluster: equal-sized, aligned blocks of the cluster's network. Because every
/// block of one cluster has the same length and alignment, two blocks overlap exactly when they
/// are equal, which is why a unique constraint on (cluster, subnet) is enough in the database.
public enum SubnetAllocator {
    /// The node subnet length a cluster gets when none is given: /24 for networks up to /22,
    /// otherwise four more bits (at most /30).
    public static func defaultNodePrefix(for network: IPv4Network) -> Int {
        network.prefixLength <= 22 ? 24 : min(network.prefixLength + 4, 30)
    }

    /// Why `nodePrefix` cannot carve `network` into node subnets, or nil when it can.
    public static func problem(network: IPv4Network, nodePrefix: Int) -> String? {
        if nodePrefix <= network.prefixLength { return "node_subnet_prefix must be longer than the network's /\(network.prefixLength)" }
        if nodePrefix > 30 { return "node_subnet_prefix must be at most 30" }
        if nodePrefix - network.prefixLength > 16 { return "node_subnet_prefix gives more than 65536 subnets; use a shorter one" }
        return nil
    }

    /// The lowest free subnet (freed subnets are reused first), or nil when all are taken.
    public static func firstFree(in network: IPv4Network, prefixLength: Int, used: some Sequence<IPv4Network>) -> IPv4Network? {
        let taken = Set(used.compactMap { network.index(of: $0) })
        let count = network.subnetCount(prefixLength: prefixLength)
        var index = 0
        while index < count {
            if !taken.contains(index) { return network.subnet(index, prefixLength: prefixLength) }
            index += 1
        }
        return nil
    }
}
