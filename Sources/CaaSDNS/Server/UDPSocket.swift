import Glibc

/// An IPv4 address and port, as the server's sockets send and receive them.
public struct UDPAddress: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var address: [UInt8]
    public var port: UInt16

    public init(address: [UInt8], port: UInt16) {
        self.address = address
        self.port = port
    }

    /// `a.b.c.d[:port]` (port `defaultPort` when left out); nil for anything else.
    public init?(_ text: String, defaultPort: UInt16) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = NameTable.ipv4(String(parts[0])) else { return nil }
        var port = defaultPort
        if parts.count == 2 {
            guard let value = UInt16(parts[1]), value > 0 else { return nil }
            port = value
        }
        self.init(address: address, port: port)
    }

    public var description: String { "\(NameTable.format(address)):\(port)" }

    var sockaddr: sockaddr_in {
        var value = sockaddr_in()
        value.sin_family = sa_family_t(AF_INET)
        value.sin_port = port.bigEndian
        value.sin_addr.s_addr = (UInt32(address[0]) << 24 | UInt32(address[1]) << 16 | UInt32(address[2]) << 8 | UInt32(address[3])).bigEndian
        return value
    }

    init(_ value: sockaddr_in) {
        let host = UInt32(bigEndian: value.sin_addr.s_addr)
        self.init(address: [UInt8(host >> 24), UInt8((host >> 16) & 0xFF), UInt8((host >> 8) & 0xFF), UInt8(host & 0xFF)],
                  port: UInt16(bigEndian: value.sin_port))
    }
}

public struct UDPSocketError: Error, CustomStringConvertible {
    public var operation: String
    public var code: Int32
    public var description: String { "\(operation): \(String(cString: strerror(code)))" }
}

/// A non-blocking IPv4 UDP socket.
public final class UDPSocket {
    public let descriptor: Int32

    /// A socket bound to `address` (port 0: any free port).
    public init(bindingTo address: UDPAddress) throws(UDPSocketError) {
        let type = Int32(SOCK_DGRAM.rawValue)
        let fd = socket(AF_INET, type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw UDPSocketError(operation: "socket", code: errno) }
        descriptor = fd
        var reuse: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var buffer: Int32 = 1 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, socklen_t(MemoryLayout<Int32>.size))
        var value = address.sockaddr
        let bound = withUnsafePointer(to: &value) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw UDPSocketError(operation: "bind \(address)", code: code)
        }
    }

    deinit { close(descriptor) }

    /// The address the socket is bound to (its port, when it asked for any).
    public func localAddress() -> UDPAddress? {
        var value = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &value) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return result == 0 ? UDPAddress(value) : nil
    }

    /// One datagram, or nil when none is waiting.
    public func receive(into buffer: inout [UInt8]) -> (bytes: [UInt8], from: UDPAddress)? {
        var from = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let count = buffer.withUnsafeMutableBytes { raw in
            withUnsafeMutablePointer(to: &from) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(descriptor, raw.baseAddress, raw.count, 0, $0, &length) }
            }
        }
        guard count >= 0 else { return nil }
        return (Array(buffer[0..<count]), UDPAddress(from))
    }

    /// Sends one datagram; a full buffer or an unreachable peer drops it, as UDP does.
    @discardableResult
    public func send(_ bytes: [UInt8], to address: UDPAddress) -> Bool {
        var to = address.sockaddr
        let sent = bytes.withUnsafeBytes { raw in
            withUnsafePointer(to: &to) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(descriptor, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        return sent == bytes.count
    }
}
