import COpenSSL

/// Errors of CaaSCrypto: OpenSSL said no.
public struct CryptoError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var code: UInt

    public init(operation: String, code: UInt = 0) {
        self.operation = operation
        self.code = code
    }

    public var description: String { "\(operation) failed (OpenSSL error \(code))" }

    static func last(_ operation: String) -> CryptoError {
        CryptoError(operation: operation, code: UInt(ERR_get_error()))
    }
}

/// Cryptographically secure random bytes from OpenSSL's DRBG (`RAND_bytes`).
public enum SecureRandom {
    public static func bytes(_ count: Int) throws(CryptoError) -> [UInt8] {
        precondition(count >= 0 && count <= Int(Int32.max))
        var out = [UInt8](repeating: 0, count: count)
        if count == 0 { return out }
        let ok = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        guard ok == 1 else { throw CryptoError.last("RAND_bytes") }
        return out
    }
}
