import CaaSModel

enum RestartSyntax {
    /// `no`, `always`, `on-failure`, `on-failure:N`, `unless-stopped` (a YAML `false` reads as `no`).
    static func parse(_ text: String) -> RestartPolicy? {
        switch text {
        case "no", "false", "False", "FALSE", "": return .no
        case "always": return .always
        case "unless-stopped": return .unlessStopped
        case "on-failure": return .onFailure(maximumRetries: nil)
        default:
            if text.hasPrefix("on-failure:"), let n = Int(text.dropFirst("on-failure:".count)), n >= 0 {
                return .onFailure(maximumRetries: n)
            }
            return nil
        }
    }
}
