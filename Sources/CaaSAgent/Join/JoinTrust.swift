/// Why an agent may believe the trust anchor a join answers with. Over `https://` with the
/// server's certificate verified, the channel says who answered. Over plain `http://` (or with
/// verification off) anyone on the path could answer with their own CA and receive every push
/// after: then the operator gives the control-plane CA's SHA-256 to compare
/// (`GET /v1/clusters/{id}/agent/trust`), or says `--insecure-join` and compares the printed one.
public enum JoinTrust: Sendable, Equatable {
    /// Believe the anchor because the channel is authenticated; refuse to join otherwise.
    case channel
    /// The anchor's SHA-256 (hex; `:` separators and case ignored) must be this.
    case fingerprint(String)
    /// Believe whatever answers (development); the fingerprint is printed to compare.
    case insecure

    /// Why the join must not even be sent; nil when it may.
    public func refusalBeforeSending(authenticatedChannel: Bool) -> String? {
        if case .fingerprint(let expected) = self, Self.normalized(expected).count != 64 || !Self.normalized(expected).allSatisfy(\.isHexDigit) {
            return "--ca-fingerprint must be a SHA-256 in hexadecimal (64 digits), not \(expected.prefix(80))"
        }
        guard self == .channel, !authenticatedChannel else { return nil }
        return "joining over plain http:// cannot tell who answers: pass --ca-fingerprint with the control plane's CA SHA-256 "
            + "(GET /v1/clusters/{id}/agent/trust), or --insecure-join to trust the answer and compare the fingerprint it prints"
    }

    /// Why the answer's anchor (its SHA-256, hex) is not believed; nil when it is.
    public func refusal(ofAnchor fingerprint: String) -> String? {
        guard case .fingerprint(let expected) = self, Self.normalized(expected) != Self.normalized(fingerprint) else { return nil }
        return "the control plane answered with CA \(fingerprint), not the expected \(Self.normalized(expected)): not joining"
    }

    static func normalized(_ text: String) -> String {
        String(text.lowercased().filter { $0 != ":" && !$0.isWhitespace })
    }
}
