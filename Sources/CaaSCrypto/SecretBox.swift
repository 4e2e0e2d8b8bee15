import COpenSSL

/// Authenticated encryption of small secrets at rest (AES-256-GCM through OpenSSL's EVP API).
///
/// Sealed form: 12-byte random nonce ‖ ciphertext ‖ 16-byte tag. A wrong key, any changed byte or
/// other associated data fails to open; nothing is returned then.
///
/// Associated data binds a seal to where it belongs (say, a tenant, an application and a variable
/// name): it is authenticated, not stored, so `open` must be given the same bytes `seal` was.
public struct SecretBox: Sendable {
    public static let keyByteCount = 32
    static let nonceByteCount = 12
    static let tagByteCount = 16

    private let key: [UInt8]

    public init(key: [UInt8]) throws(CryptoError) {
        guard key.count == SecretBox.keyByteCount else { throw CryptoError(operation: "SecretBox key must be 32 bytes") }
        self.key = key
    }

    public func seal(_ plaintext: [UInt8], associatedData: [UInt8] = []) throws(CryptoError) -> [UInt8] {
        let nonce = try SecureRandom.bytes(SecretBox.nonceByteCount)
        guard let context = EVP_CIPHER_CTX_new() else { throw CryptoError.last("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, key, nonce) == 1 else { throw CryptoError.last("EVP_EncryptInit_ex") }
        if !associatedData.isEmpty {
            var ignored: Int32 = 0
            guard EVP_EncryptUpdate(context, nil, &ignored, associatedData, Int32(associatedData.count)) == 1 else {
                throw CryptoError.last("EVP_EncryptUpdate (associated data)")
            }
        }
        var out = [UInt8](repeating: 0, count: plaintext.count + 16)
        var length: Int32 = 0
        if !plaintext.isEmpty {
            guard EVP_EncryptUpdate(context, &out, &length, plaintext, Int32(plaintext.count)) == 1 else {
                throw CryptoError.last("EVP_EncryptUpdate")
            }
        }
        var total = Int(length)
        var finalLength: Int32 = 0
        let finished = out.withUnsafeMutableBufferPointer { buffer in
            EVP_EncryptFinal_ex(context, buffer.baseAddress! + total, &finalLength)
        }
        guard finished == 1 else { throw CryptoError.last("EVP_EncryptFinal_ex") }
        total += Int(finalLength)
        var tag = [UInt8](repeating: 0, count: SecretBox.tagByteCount)
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(SecretBox.tagByteCount), &tag) == 1 else {
            throw CryptoError.last("EVP_CTRL_GCM_GET_TAG")
        }
        return nonce + out.prefix(total) + tag
    }

    public func open(_ sealed: [UInt8], associatedData: [UInt8] = []) throws(CryptoError) -> [UInt8] {
        guard sealed.count >= SecretBox.nonceByteCount + SecretBox.tagByteCount else {
            throw CryptoError(operation: "SecretBox.open: too short")
        }
        let nonce = Array(sealed.prefix(SecretBox.nonceByteCount))
        var tag = Array(sealed.suffix(SecretBox.tagByteCount))
        let ciphertext = Array(sealed.dropFirst(SecretBox.nonceByteCount).dropLast(SecretBox.tagByteCount))
        guard let context = EVP_CIPHER_CTX_new() else { throw CryptoError.last("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, key, nonce) == 1 else { throw CryptoError.last("EVP_DecryptInit_ex") }
        if !associatedData.isEmpty {
            var ignored: Int32 = 0
            guard EVP_DecryptUpdate(context, nil, &ignored, associatedData, Int32(associatedData.count)) == 1 else {
                throw CryptoError.last("EVP_DecryptUpdate (associated data)")
            }
        }
        var out = [UInt8](repeating: 0, count: ciphertext.count + 16)
        var length: Int32 = 0
        if !ciphertext.isEmpty {
            guard EVP_DecryptUpdate(context, &out, &length, ciphertext, Int32(ciphertext.count)) == 1 else {
                throw CryptoError.last("EVP_DecryptUpdate")
            }
        }
        var total = Int(length)
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(SecretBox.tagByteCount), &tag) == 1 else {
            throw CryptoError.last("EVP_CTRL_GCM_SET_TAG")
        }
        var finalLength: Int32 = 0
        let verified = out.withUnsafeMutableBufferPointer { buffer in
            EVP_DecryptFinal_ex(context, buffer.baseAddress! + total, &finalLength)
        }
        guard verified == 1 else { throw CryptoError(operation: "SecretBox.open: authentication failed") }
        total += Int(finalLength)
        return Array(out.prefix(total))
    }
}
