import CaaSDNS
import Glibc

// caas-dns: the name server the agent runs on each node of a cluster with caas networks, in a
// system container of its own (a static binary, nothing else in the image). See CaaSDNS.
let usage = """
    usage: caas-dns [--listen ADDRESS[:PORT]] [--records PATH] [--upstream ADDRESS[:PORT] ...|--upstream none]
      --listen    where containers ask (default 0.0.0.0:53)
      --records   the name table the agent writes (default /records)
      --upstream  a resolver for other names (repeatable); none: refuse them;
                  default: the nameservers of /etc/resolv.conf
    """

/// A line on standard error (the container's log).
func say(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

func fail(_ message: String) -> Never {
    say("caas-dns: \(message)\n\(usage)")
    exit(2)
}

var listen = UDPAddress(address: [0, 0, 0, 0], port: 53)
var records = "/records"
var upstreams: [UDPAddress]?
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    switch flag {
    case "--listen":
        guard let value = arguments.popFirst(), let address = UDPAddress(value, defaultPort: 53) else { fail("--listen needs an IPv4 address[:port]") }
        listen = address
    case "--records":
        guard let value = arguments.popFirst(), !value.isEmpty else { fail("--records needs a path") }
        records = value
    case "--upstream":
        guard let value = arguments.popFirst() else { fail("--upstream needs an IPv4 address[:port] or none") }
        if value == "none" {
            upstreams = []
        } else {
            guard let address = UDPAddress(value, defaultPort: 53) else { fail("--upstream \(value): not an IPv4 address[:port]") }
            upstreams = (upstreams ?? []) + [address]
        }
    case "-h", "--help":
        print(usage)
        exit(0)
    default:
        fail("unknown argument \(flag)")
    }
}
let resolvers = upstreams ?? DNSServer.nameservers(resolvConf: DNSServer.read("/etc/resolv.conf", limit: 1 << 16) ?? "")
signal(SIGPIPE, SIG_IGN)
signal(SIGTERM) { _ in exit(0) }
signal(SIGINT) { _ in exit(0) }
do {
    let server = try DNSServer(DNSServer.Configuration(listen: listen, recordsPath: records, upstreams: resolvers))
    say("caas-dns: serving on \(server.address?.description ?? listen.description), records \(records), upstream \(resolvers.isEmpty ? "none" : resolvers.map(\.description).joined(separator: " "))")
    server.run()
} catch {
    fail("\(error)")
}
