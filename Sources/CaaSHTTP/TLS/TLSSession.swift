import COpenSSL
import Foundation

/// What `TLSSession.readPlaintext()` found.
public enum TLSReadResult: Sendable, Equatable {
    /// Decrypted application data.
    case data([UInt8])
    /// Nothing to hand out yet: feed more ciphertext (after sending `takeOutgoingCiphertext()`).
    case wantMore
    /// The peer sent close_notify: no more data will come.
    case closed
}

/// One TLS connection, driven entirely through memory: the owner moves bytes between the socket
/// and the session (`feed` / `takeOutgoingCiphertext`); the session never touches a socket.
///
/// Not thread-safe: one owner at a time (typically the connection's I/O thread).
///
/// Typical loop: call `readPlaintext()` (which also drives the handshake), then send
/// `takeOutgoingCiphertext()` to the socket, and `feed` whatever the socket delivers. After any
/// thrown error, still send `takeOutgoingCiphertext()`: it holds the alert telling the peer why.
public final class TLSSession {
    private let context: TLSContext   // keeps the SSL_CTX alive as long as the SSL
    private let ssl: OpaquePointer
    private let incoming: OpaquePointer   // ciphertext from the peer, read by OpenSSL
    private let outgoing: OpaquePointer   // ciphertext OpenSSL wrote, for the peer
    private var pendingPlaintext: [UInt8] = []   // written before the handshake finished
    private var failed = false
    private var closing = false
    private var closeNotifySent = false
    private var handshakeDone = false
    private var receivedApplicationData = false

    /// - Parameter serverName: client side only: the SNI name and the name (or IP address) the
    ///   server's certificate must match when the context verifies peers. Defaults to the
    ///   context's `configuration.serverName`.
    public init(context: TLSContext, serverName: String? = nil) throws {
        self.context = context
        OpenSSLErrorQueue.clear()
        guard let ssl = SSL_new(context.pointer) else {
            throw TLSError.openSSL(operation: "SSL_new", message: OpenSSLErrorQueue.drain())
        }
        guard let incoming = BIO_new(BIO_s_mem()), let outgoing = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw TLSError.openSSL(operation: "BIO_new", message: OpenSSLErrorQueue.drain())
        }
        // An empty input BIO means "retry later", not end of file.
        _ = caas_BIO_set_mem_eof_return(incoming, -1)
        _ = caas_BIO_set_mem_eof_return(outgoing, -1)
        SSL_set_bio(ssl, incoming, outgoing)   // the SSL owns both BIOs from now on
        self.ssl = ssl
        self.incoming = incoming
        self.outgoing = outgoing

        if context.isClient {
            SSL_set_connect_state(ssl)
            if let name = serverName ?? context.configuration.serverName, !name.isEmpty {
                try configureServerName(name, verify: context.configuration.verifyPeer)
            }
        } else {
            SSL_set_accept_state(ssl)
        }
    }

    deinit { SSL_free(ssl) }

    private func configureServerName(_ name: String, verify: Bool) throws {
        let bare = name.hasPrefix("[") && name.hasSuffix("]") ? String(name.dropFirst().dropLast()) : name
        let isIPAddress = Self.isIPAddressLiteral(bare)
        // RFC 6066: SNI carries host names only, never addresses.
        if !isIPAddress {
            guard caas_SSL_set_tlsext_host_name(ssl, bare) == 1 else {
                throw TLSError.openSSL(operation: "setting SNI \(bare)", message: OpenSSLErrorQueue.drain())
            }
        }
        guard verify else { return }
        if isIPAddress {
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), bare) == 1 else {
                throw TLSError.openSSL(operation: "setting expected IP address \(bare)", message: OpenSSLErrorQueue.drain())
            }
        } else {
            SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
            guard SSL_set1_host(ssl, bare) == 1 else {
                throw TLSError.openSSL(operation: "setting expected host name \(bare)", message: OpenSSLErrorQueue.drain())
            }
        }
    }

    static func isIPAddressLiteral(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    // MARK: Ciphertext in and out

    /// Hands the session bytes read from the socket.
    public func feed(_ ciphertext: [UInt8]) {
        ciphertext.withUnsafeBytes { feed($0) }
    }

    /// Hands the session bytes read from the socket.
    public func feed(_ ciphertext: UnsafeRawBufferPointer) {
        guard var base = ciphertext.baseAddress else { return }
        var remaining = ciphertext.count
        while remaining > 0 {
            let chunk = Int32(clamping: remaining)
            let written = BIO_write(incoming, base, chunk)
            guard written > 0 else { return }   // a memory BIO only fails when out of memory
            base += Int(written)
            remaining -= Int(written)
        }
    }

    /// The ciphertext that must go to the socket now (handshake records, data, alerts).
    public func takeOutgoingCiphertext() -> [UInt8] {
        let pending = caas_BIO_pending(outgoing)
        guard pending > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: Int(pending))
        let count = bytes.withUnsafeMutableBytes { BIO_read(outgoing, $0.baseAddress, Int32(pending)) }
        if count <= 0 { return [] }
        if Int(count) < bytes.count { bytes.removeSubrange(Int(count)...) }
        return bytes
    }

    /// `true` when ciphertext is waiting in `takeOutgoingCiphertext()`.
    public var hasOutgoingCiphertext: Bool { caas_BIO_pending(outgoing) > 0 }

    // MARK: Plaintext

    public var isHandshakeComplete: Bool { handshakeDone }

    /// Drives the handshake and returns whatever application data is available.
    public func readPlaintext() throws -> TLSReadResult {
        if failed { throw TLSError.sessionClosed }
        if !handshakeDone {
            guard try handshake() else { return .wantMore }
        }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            OpenSSLErrorQueue.clear()
            let count = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if count > 0 {
                result.append(contentsOf: buffer[0..<Int(count)])
                receivedApplicationData = true
                continue
            }
            let error = SSL_get_error(ssl, count)
            switch error {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return result.isEmpty ? .wantMore : .data(result)
            case SSL_ERROR_ZERO_RETURN:
                return result.isEmpty ? .closed : .data(result)
            default:
                if !result.isEmpty { return .data(result) }   // report the error on the next call
                failed = true
                // In TLS 1.3 a client finishes its handshake before the server has checked the
                // client certificate; the server's verdict arrives as an alert on the first
                // read. An alert before any data is the handshake failing, so say so.
                if context.isClient && !receivedApplicationData && error == SSL_ERROR_SSL {
                    throw TLSError.handshakeFailed(describe(error))
                }
                throw TLSError.protocolError(describe(error))
            }
        }
    }

    /// Encrypts `bytes`; before the handshake completes, they are queued and sent right after it.
    public func writePlaintext(_ bytes: [UInt8]) throws {
        if failed || closing { throw TLSError.sessionClosed }
        guard !bytes.isEmpty else { return }
        if !handshakeDone || !pendingPlaintext.isEmpty {
            pendingPlaintext.append(contentsOf: bytes)
            if handshakeDone { try flushPendingPlaintext() }
            return
        }
        let written = try write(bytes[...])
        if written < bytes.count { pendingPlaintext.append(contentsOf: bytes[written...]) }
    }

    /// Queues close_notify (take it with `takeOutgoingCiphertext()`). Further writes throw.
    /// Called before the handshake completes, close_notify follows the handshake and any data
    /// already written.
    public func close() {
        guard !closing else { return }
        closing = true
        sendCloseNotifyIfDue()
    }

    private func sendCloseNotifyIfDue() {
        guard closing, !closeNotifySent, !failed, handshakeDone, pendingPlaintext.isEmpty else { return }
        closeNotifySent = true
        OpenSSLErrorQueue.clear()
        _ = SSL_shutdown(ssl)
        OpenSSLErrorQueue.clear()
    }

    /// The negotiated protocol version, such as "TLSv1.3" (after the handshake).
    public var protocolVersion: String? {
        guard handshakeDone, let name = SSL_get_version(ssl) else { return nil }
        return String(cString: name)
    }

    /// The peer's certificate (after the handshake), if it sent one.
    public var peerCertificate: PeerCertificate? {
        guard let x509 = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(x509) }
        return try? PeerCertificate(x509: x509)
    }

    // MARK: Internals

    /// Returns `true` once the handshake has completed.
    private func handshake() throws -> Bool {
        OpenSSLErrorQueue.clear()
        let status = SSL_do_handshake(ssl)
        if status == 1 {
            handshakeDone = true
            try flushPendingPlaintext()
            sendCloseNotifyIfDue()
            return true
        }
        let error = SSL_get_error(ssl, status)
        if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { return false }
        failed = true
        throw TLSError.handshakeFailed(describe(error))
    }

    private func flushPendingPlaintext() throws {
        guard !pendingPlaintext.isEmpty else { return }
        let written = try write(pendingPlaintext[...])
        pendingPlaintext.removeFirst(written)
        sendCloseNotifyIfDue()
    }

    /// Writes as much as OpenSSL accepts; with a memory BIO that is everything unless the
    /// session is mid-renegotiation.
    private func write(_ bytes: ArraySlice<UInt8>) throws -> Int {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let chunk = min(bytes.endIndex - offset, 64 * 1024)
            OpenSSLErrorQueue.clear()
            let count = bytes.withUnsafeBytes { raw in
                SSL_write(ssl, raw.baseAddress! + (offset - bytes.startIndex), Int32(chunk))
            }
            if count > 0 {
                offset += Int(count)
                continue
            }
            let error = SSL_get_error(ssl, count)
            if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { break }
            failed = true
            throw TLSError.protocolError(describe(error))
        }
        return offset - bytes.startIndex
    }

    /// A readable reason: certificate verification result first, then OpenSSL's error queue.
    private func describe(_ error: Int32) -> String {
        var parts: [String] = []
        let verify = SSL_get_verify_result(ssl)
        if verify != X509_V_OK, let text = X509_verify_cert_error_string(verify) {
            parts.append("certificate verification: \(String(cString: text))")
        }
        let queue = OpenSSLErrorQueue.drain()
        switch error {
        case SSL_ERROR_SSL:
            parts.append(queue)
        case SSL_ERROR_SYSCALL:
            parts.append("unexpected end of stream (\(queue))")
        default:
            parts.append("SSL error \(error) (\(queue))")
        }
        return parts.joined(separator: "; ")
    }
}
