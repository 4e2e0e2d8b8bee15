import COpenSSL
import Foundation

/// Memory BIOs and OpenSSL's error queue, for the certificate authority's PEM and DER work.
enum OpenSSLBuffers {
    /// Runs `body` with a read-only memory BIO over `bytes` (the BIO does not copy; it lives only
    /// inside the call).
    static func reading<T>(_ bytes: [UInt8], _ body: (OpaquePointer) throws -> T) throws -> T {
        try bytes.withUnsafeBytes { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else {
                throw CryptoError.openSSL("BIO_new_mem_buf")
            }
            defer { BIO_free(bio) }
            return try body(bio)
        }
    }

    /// Runs `write` against a fresh memory BIO and returns what it wrote.
    static func writing(_ operation: String, _ write: (OpaquePointer) -> Bool) throws -> [UInt8] {
        guard let bio = BIO_new(BIO_s_mem()) else { throw CryptoError.openSSL("BIO_new") }
        defer { BIO_free(bio) }
        guard write(bio) else { throw CryptoError.openSSL(operation) }
        var data: UnsafeMutablePointer<CChar>?
        let length = caas_BIO_get_mem_data(bio, &data)
        guard length >= 0, let data else { return [] }
        return data.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }

    /// The oldest error on OpenSSL's queue as text, and the queue emptied.
    static func drainErrors() -> String {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages.joined(separator: "; ")
    }
}

extension CryptoError {
    /// `operation` failed; the description carries OpenSSL's reason.
    static func openSSL(_ operation: String) -> CryptoError {
        let code = ERR_peek_error()
        let text = OpenSSLBuffers.drainErrors()
        return CryptoError(operation: text.isEmpty ? operation : "\(operation): \(text)", code: UInt(code))
    }
}
