/// What `GET /v1/version` and `caas-server --version` report.
public enum CaaSVersion {
    public static let version = "0.1.0"
    /// The API's path prefix version.
    public static let api = "v1"
}
