/// Names of tenants, tokens and every resource: DNS-label-like, `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`
/// (1 to 63 characters of lower-case letters, digits and `-`, starting and ending with a letter or
/// digit), so a name is safe in a URL, a DNS name, a container label and a shell.
public enum ResourceName {
    public static let pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
    public static let maximumLength = 63

    /// Why `text` is not a valid name, or `nil` when it is.
    public static func problem(with text: String) -> String? {
        let bytes = Array(text.utf8)
        if bytes.isEmpty { return "must not be empty" }
        if bytes.count > maximumLength { return "longer than \(maximumLength) characters" }
        func allowed(_ b: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
        }
        for byte in bytes where !(allowed(byte) || byte == UInt8(ascii: "-")) {
            return "may contain only lower-case letters, digits and '-' (pattern \(pattern))"
        }
        if !allowed(bytes.first!) || !allowed(bytes.last!) {
            return "must start and end with a lower-case letter or digit (pattern \(pattern))"
        }
        return nil
    }

    public static func isValid(_ text: String) -> Bool { problem(with: text) == nil }
}
