import CaaSModel

/// `ports:` and `expose:` in every form compose accepts.
///
/// Short syntax: `[HOST_IP:][PUBLISHED:]TARGET[/PROTOCOL]`, where ports may be ranges (`8000-8010`)
/// and an IPv6 host address is bracketed (`[::1]:80:80`). An empty published part
/// (`127.0.0.1::80`) lets the host port be chosen at placement. Long syntax: `target`, `published`
/// (integer or string, ranges), `host_ip`, `protocol`, `mode`, `name`, `app_protocol`.
/// A published range must have as many ports as the target range.
enum PortSyntax {
    static let validPorts = 1...65535

    struct Failure: Error, Equatable {
        var message: String
    }

    /// Parses the short syntax.
    static func parseShort(_ text: String) throws(Failure) -> PortMapping {
        var body = Substring(text.trimmingSpaces)
        var proto = TransportProtocol.tcp
        if let slash = body.lastIndex(of: "/") {
            proto = try parseProtocol(String(body[body.index(after: slash)...]))
            body = body[..<slash]
        }
        var hostIP: String? = nil
        if body.hasPrefix("[") {
            guard let close = body.firstIndex(of: "]") else {
                throw Failure(message: "'\(text)': unterminated '[' in the host address")
            }
            hostIP = String(body[body.index(after: body.startIndex)..<close])
            let rest = body[body.index(after: close)...]
            guard rest.hasPrefix(":") else {
                throw Failure(message: "'\(text)': expected ':' after the bracketed host address")
            }
            body = rest.dropFirst()
            if hostIP!.isEmpty { throw Failure(message: "'\(text)': empty host address") }
        }
        let parts = body.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let publishedText: String?
        let targetText: String
        switch (parts.count, hostIP) {
        case (1, nil):
            publishedText = nil; targetText = parts[0]
        case (2, _):
            publishedText = parts[0]; targetText = parts[1]
        case (3, nil):
            hostIP = parts[0]; publishedText = parts[1]; targetText = parts[2]
            if parts[0].isEmpty { throw Failure(message: "'\(text)': empty host address") }
        default:
            throw Failure(message: "'\(text)' is not a port mapping: expected [HOST_IP:][PUBLISHED:]TARGET[/PROTOCOL]")
        }
        if let ip = hostIP, !isPlausibleAddress(ip) {
            throw Failure(message: "'\(text)': '\(ip)' is not an IP address")
        }
        let target = try parseRange(targetText, in: text, protocol: proto, role: "container")
        var published: PortRange? = nil
        if let publishedText, !publishedText.isEmpty {
            published = try parseRange(publishedText, in: text, protocol: proto, role: "published")
        }
        try checkSizes(target: target, published: published, text: text)
        return PortMapping(target: target, published: published, hostIP: hostIP)
    }

    static func checkSizes(target: PortRange, published: PortRange?, text: String) throws(Failure) {
        if let published, published.count != target.count {
            throw Failure(message: "'\(text)': the published range has \(published.count) port\(published.count == 1 ? "" : "s") but the container range has \(target.count)")
        }
    }

    static func parseProtocol(_ text: String) throws(Failure) -> TransportProtocol {
        guard let proto = TransportProtocol(rawValue: text.lowercased()) else {
            throw Failure(message: "unknown protocol '\(text)' (expected tcp, udp or sctp)")
        }
        return proto
    }

    /// `80` or `8000-8010`.
    static func parseRange(_ text: String, in whole: String, protocol proto: TransportProtocol, role: String) throws(Failure) -> PortRange {
        let bounds = text.split(separator: "-", omittingEmptySubsequences: false).map { String($0).trimmingSpaces }
        guard bounds.count <= 2 else {
            throw Failure(message: "'\(whole)': '\(text)' is not a port or a port range")
        }
        var numbers: [Int] = []
        for bound in bounds {
            guard !bound.isEmpty, bound.allSatisfy(\.isASCII), let n = Int(bound) else {
                throw Failure(message: "'\(whole)': '\(text)' is not a valid \(role) port or port range")
            }
            guard validPorts.contains(n) else {
                throw Failure(message: "'\(whole)': \(role) port \(n) is out of range (1…65535)")
            }
            numbers.append(n)
        }
        if numbers.count == 2, numbers[1] < numbers[0] {
            throw Failure(message: "'\(whole)': the range \(text) ends before it starts")
        }
        return PortRange(numbers[0], numbers.count == 2 ? numbers[1] : nil, protocol: proto)
    }

    static func isPlausibleAddress(_ text: String) -> Bool {
        if text.contains(":") {
            return text.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        }
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { o in
            !o.isEmpty && o.count <= 3 && o.allSatisfy(\.isASCII) && (Int(o).map { (0...255).contains($0) } ?? false)
        }
    }
}

extension ServiceReader {
    func readPorts(_ node: YNode) -> [PortMapping] {
        guard let items = reader.list(node, what: "a list of ports") else { return [] }
        var out: [PortMapping] = []
        for item in items {
            if let entries = item.entries {
                if let mapping = readLongPort(item, entries) { out.append(mapping) }
                continue
            }
            guard let text = reader.string(item, what: "a port") else { continue }
            do {
                out.append(try PortSyntax.parseShort(text))
            } catch {
                log.error(item, error.message)
            }
        }
        return out
    }

    private func readLongPort(_ item: YNode, _ entries: [YEntry]) -> PortMapping? {
        reader.checkKeys(entries, known: ["target", "published", "host_ip", "protocol", "mode", "name", "app_protocol"], context: "a port")
        var proto = TransportProtocol.tcp
        if let node = item["protocol"], let text = reader.string(node) {
            do { proto = try PortSyntax.parseProtocol(text) } catch { log.error(node, error.message) }
        }
        guard let targetNode = item["target"] else {
            log.error(item, "a port in the long syntax needs 'target'")
            return nil
        }
        var ok = true
        var target = PortRange(0)
        if let text = reader.string(targetNode, what: "a container port") {
            do { target = try PortSyntax.parseRange(text, in: text, protocol: proto, role: "container") } catch { log.error(targetNode, error.message); ok = false }
        } else { ok = false }
        var published: PortRange? = nil
        if let node = item["published"], let optional = reader.optionalString(node, what: "a published port"), let text = optional, !text.isEmpty {
            do { published = try PortSyntax.parseRange(text, in: text, protocol: proto, role: "published") } catch { log.error(node, error.message); ok = false }
        }
        var hostIP: String? = nil
        if let node = item["host_ip"], let text = reader.string(node) {
            if PortSyntax.isPlausibleAddress(text) { hostIP = text } else { log.error(node, "'\(text)' is not an IP address"); ok = false }
        }
        var mode: PortPublishMode? = nil
        if let node = item["mode"], let text = reader.string(node) {
            if let m = PortPublishMode(rawValue: text) { mode = m } else { log.error(node, "unknown port mode '\(text)' (expected ingress or host)"); ok = false }
        }
        guard ok else { return nil }
        do {
            try PortSyntax.checkSizes(target: target, published: published, text: "\(published.map { "\($0.lower)-\($0.upper)" } ?? ""):\(target.lower)-\(target.upper)")
        } catch {
            log.error(item, "the published range has \(published!.count) ports but the target range has \(target.count)")
            return nil
        }
        return PortMapping(target: target, published: published, hostIP: hostIP, mode: mode)
    }

    func readExpose(_ node: YNode) -> [PortRange] {
        guard let items = reader.list(node, what: "a list of ports") else { return [] }
        var out: [PortRange] = []
        for item in items {
            guard let text = reader.string(item, what: "a port") else { continue }
            var body = Substring(text.trimmingSpaces)
            do {
                var proto = TransportProtocol.tcp
                if let slash = body.lastIndex(of: "/") {
                    proto = try PortSyntax.parseProtocol(String(body[body.index(after: slash)...]))
                    body = body[..<slash]
                }
                out.append(try PortSyntax.parseRange(String(body), in: text, protocol: proto, role: "exposed"))
            } catch {
                log.error(item, error.message)
            }
        }
        return out
    }
}
