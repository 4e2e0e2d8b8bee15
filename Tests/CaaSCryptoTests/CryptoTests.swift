import CaaSCrypto
import Testing

@Suite struct CryptoTests {
    @Test func sha256MatchesKnownVectors() {
        #expect(SHA256.hex(Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func randomBytesAreFreshEachCall() throws {
        let a = try SecureRandom.bytes(32)
        let b = try SecureRandom.bytes(32)
        #expect(a.count == 32)
        #expect(a != b)
    }

    @Test func constantTimeCompareAnswersEquality() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(ConstantTime.equals([], []))
    }

    @Test func base32RoundTripsAndRejectsJunk() throws {
        #expect(Base32.encode(Array("foobar".utf8)) == "mzxw6ytboi")
        for length in 0..<40 {
            let bytes = try SecureRandom.bytes(length)
            #expect(Base32.decode(Base32.encode(bytes)) == bytes)
        }
        #expect(Base32.decode("mzxw6yt!") == nil)
        #expect(Base32.decode("mzxw6ytboj") == nil)  // trailing bits not zero
    }

    @Test func base64URLRoundTripsAndRejectsJunk() throws {
        #expect(Base64URL.encode(Array("foob".utf8)) == "Zm9vYg")
        #expect(Base64URL.encode([0xfb, 0xff]) == "-_8")
        for length in 0..<40 {
            let bytes = try SecureRandom.bytes(length)
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
        #expect(Base64URL.decode("Zm9vYg==") == nil)
        #expect(Base64URL.decode("Zm9vYh") == nil)
    }

    @Test func hexRoundTrips() {
        #expect(Hex.encode([0, 255, 16]) == "00ff10")
        #expect(Hex.decode("00ff10") == [0, 255, 16])
        #expect(Hex.decode("0g") == nil)
    }
}

@Suite struct SecretBoxTests {
    @Test func sealedSecretsOpenOnlyWithTheirKeyAndUntouched() throws {
        let box = try SecretBox(key: Array(repeating: 7, count: 32))
        let sealed = try box.seal(Array("hunter2".utf8))
        #expect(sealed.count == 12 + 7 + 16)
        #expect(try box.open(sealed) == Array("hunter2".utf8))
        #expect(try box.seal(Array("hunter2".utf8)) != sealed, "a fresh nonce every time")
        #expect(try box.open(try box.seal([])) == [])
        var tampered = sealed
        tampered[14] ^= 1
        #expect(throws: CryptoError.self) { try box.open(tampered) }
        let other = try SecretBox(key: Array(repeating: 8, count: 32))
        #expect(throws: CryptoError.self) { try other.open(sealed) }
        #expect(throws: CryptoError.self) { try SecretBox(key: [1, 2, 3]) }
    }
}

@Suite struct SecretBoxAssociatedDataTests {
    let box = try! SecretBox(key: Array(repeating: 7, count: 32))
    let here = Array("caas.env tnt_a app_a DB_PASSWORD".utf8)

    @Test func aSealOpensOnlyWithTheAssociatedDataItWasSealedWith() throws {
        let sealed = try box.seal(Array("hunter2".utf8), associatedData: here)
        #expect(sealed.count == 12 + 7 + 16, "associated data is authenticated, not stored")
        #expect(try box.open(sealed, associatedData: here) == Array("hunter2".utf8))
        #expect(throws: CryptoError.self, "another application's seal") {
            try box.open(sealed, associatedData: Array("caas.env tnt_a app_b DB_PASSWORD".utf8))
        }
        #expect(throws: CryptoError.self, "another variable's seal") {
            try box.open(sealed, associatedData: Array("caas.env tnt_a app_a API_TOKEN".utf8))
        }
        #expect(throws: CryptoError.self, "no associated data") { try box.open(sealed) }
        let unbound = try box.seal(Array("hunter2".utf8))
        #expect(throws: CryptoError.self, "a seal without associated data is not one of this place") {
            try box.open(unbound, associatedData: here)
        }
        #expect(try box.open(try box.seal([], associatedData: here), associatedData: here) == [])
    }

    /// The GCM specification's test case 16 (AES-256, 60-byte plaintext, 20 bytes of associated
    /// data): the associated data is GCM's own, so any AES-GCM implementation opens these seals.
    @Test func associatedDataIsGCMsAsTheSpecificationsVectorShows() throws {
        let key = Hex.decode("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")!
        let nonce = Hex.decode("cafebabefacedbaddecaf888")!
        let aad = Hex.decode("feedfacedeadbeeffeedfacedeadbeefabaddad2")!
        let plaintext = Hex.decode("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")!
        let ciphertext = Hex.decode("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662")!
        let tag = Hex.decode("76fc6ece0f4e1768cddf8853bb2d551b")!
        let box = try SecretBox(key: key)
        #expect(try box.open(nonce + ciphertext + tag, associatedData: aad) == plaintext)
        #expect(throws: CryptoError.self) { try box.open(nonce + ciphertext + tag) }
    }
}
