#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization

/// One accepted connection: socket ⇄ (TLS) ⇄ parser ⇄ handler task ⇄ response writer.
///
/// All mutable state is confined to the connection's event loop (hence `@unchecked Sendable`
/// without locks); handler tasks reach it by running on that loop (the default) or by hopping to
/// it with `EventLoop.execute`. Requests are handled one at a time: the next pipelined request is
/// not parsed before the current response has been handed to the socket, so answers always leave
/// in request order.
///
/// Life cycle: `idle` (between requests; idle timeout) → `readingHead` (header timeout) →
/// `inFlight` (handler running; body timeout while the body is awaited) → back to `idle`, or
/// `closing` (flushing a final response) → `lingering` (write side shut, input discarded until the
/// client closes, so the response is not destroyed by a reset) → `closed`.
final class HTTPConnection: EventLoopHandler, @unchecked Sendable {
    private enum Phase { case idle, readingHead, inFlight, closing, lingering, closed }
    private enum DeadlineKind { case none, idle, header, body, linger }
    private enum ResponseState { case pending, streaming(chunked: Bool), done }

    let fd: Int32
    let loop: EventLoop
    private let core: ServerCore
    private let remoteAddress: String
    /// The client address this connection is counted under for the per-address limit.
    private let countedAddress: String?
    private var tls: TLSSession?
    private var info: HTTPConnectionInfo?
    private var parser: HTTPRequestParser
    private let closedFlag = Atomic<Bool>(false)

    private var phase = Phase.idle
    private var deadlineKind = DeadlineKind.none
    private var deadline: UInt64 = 0
    private var outbound: [UInt8] = []
    private var outboundOffset = 0
    private var lastWriteProgress: UInt64 = 0
    private var registeredEvents: UInt32 = Linux.eventIn
    private var readClosed = false
    private var draining = false

    // The exchange in flight.
    private var exchange: UInt64 = 0
    private var isHeadRequest = false
    private var requestVersion = HTTPVersion.http1_1
    private var requestKeepAlive = true
    private var continuePending = false
    private var bodyComplete = true
    private var discardingBody = false
    private var bodyStream: RequestBodyStream?
    private var readPausedForBody = false
    private var responseState = ResponseState.pending
    private var responseKeepAlive = true
    private var streamRemaining: Int?
    private var handlerTask: Task<Void, Never>?
    private var writeWaiters: [CheckedContinuation<Void, any Error>] = []

    private static let maxPipelinedBytes = 64 * 1024
    /// Set while pipelined requests wait because answers to earlier ones are not read yet; the
    /// write timeout, not the header timeout, then bounds the wait.
    private var pausedForWrites = false

    /// More answer bytes wait for the client than `writeHighWatermark`: read and answer no more
    /// requests until it has read some.
    private var writeBacklogFull: Bool { outbound.count - outboundOffset > core.limits.writeHighWatermark }
    private static let lingerNanoseconds: UInt64 = 1_000_000_000

    init(fd: Int32, loop: EventLoop, core: ServerCore, remoteAddress: String, countedAddress: String?, tls: TLSSession?) {
        self.fd = fd
        self.loop = loop
        self.core = core
        self.remoteAddress = remoteAddress
        self.countedAddress = countedAddress
        self.tls = tls
        self.parser = HTTPRequestParser(limits: core.limits.parserLimits)
        self.lastWriteProgress = loop.now
    }

    /// Registers with the loop and starts the idle timer (loop thread).
    func start(admission: ServerCore.Admission) {
        guard loop.register(fd: fd, handler: self, events: Linux.eventIn) else {
            Glibc.close(fd)
            closedFlag.store(true, ordering: .relaxed)
            core.connectionClosed(address: countedAddress)
            return
        }
        setDeadline(.idle)
        switch admission {
        case .overTotal:
            core.logger.warning("connection refused: too many connections", metadata: [
                "http.remote": "\(remoteAddress)", "http.status": "503", "limit": "\(core.limits.maxConnections)",
            ])
            sendErrorResponse(.serviceUnavailable, detail: "The server has too many connections.", extraHeaders: "Retry-After: 1\r\n")
        case .overAddress:
            core.logger.warning("connection refused: too many connections from this address", metadata: [
                "http.remote": "\(remoteAddress)", "http.status": "429", "limit": "\(core.limits.maxConnectionsPerAddress)",
            ])
            sendErrorResponse(.tooManyRequests, detail: "Too many open connections from this address (at most \(core.limits.maxConnectionsPerAddress)).",
                              extraHeaders: "Retry-After: 1\r\n")
        case .admitted:
            if core.isDraining { close() }
        }
    }

    func isOpen(exchange: UInt64) -> Bool { !closedFlag.load(ordering: .relaxed) }

    // MARK: Events

    func handle(events: UInt32) {
        if events & Linux.eventErr != 0 {
            close()
            return
        }
        if events & (Linux.eventIn | Linux.eventHup) != 0 {
            if registeredEvents & Linux.eventIn != 0 {
                readFromSocket()
            } else if events & Linux.eventHup != 0 {
                close()
                return
            }
        }
        if phase != .closed && events & Linux.eventOut != 0 {
            flush()
        }
    }

    private func readFromSocket() {
        let buffer = loop.readBuffer
        let count = recv(fd, buffer.baseAddress, buffer.count, 0)
        if count > 0 {
            if phase == .lingering || phase == .closing { return }
            let bytes = UnsafeRawBufferPointer(start: buffer.baseAddress, count: count)
            if let tls {
                if phase == .idle && !tls.isHandshakeComplete {
                    // The handshake counts against the header timeout (slow-handshake defence).
                    phase = .readingHead
                    setDeadline(.header)
                }
                tls.feed(bytes)
                pumpTLS(tls)
            } else {
                received(bytes)
            }
        } else if count == 0 {
            peerClosed()
        } else {
            let error = errno
            if error == EAGAIN || error == EWOULDBLOCK || error == EINTR { return }
            close()
        }
    }

    private func pumpTLS(_ tls: TLSSession) {
        while phase != .closed {
            do {
                switch try tls.readPlaintext() {
                case .data(let plaintext):
                    if !plaintext.isEmpty {
                        plaintext.withUnsafeBytes { received($0) }
                    }
                case .wantMore:
                    flushTLSOutput()
                    return
                case .closed:
                    flushTLSOutput()
                    peerClosed()
                    return
                }
            } catch {
                core.logger.debug("TLS failure", metadata: ["http.remote": "\(remoteAddress)", "error": "\(error)"])
                flushTLSOutput()
                self.tls = nil   // no close_notify after a fatal alert
                handlerTask?.cancel()
                bodyStream?.fail(HTTPServerError.clientDisconnected)
                phase = .closing
                flush()
                if phase == .closing && outboundOffset == outbound.count { close() }
                return
            }
        }
    }

    private func flushTLSOutput() {
        guard let tls, tls.hasOutgoingCiphertext else { return }
        outbound.append(contentsOf: tls.takeOutgoingCiphertext())
        flush()
    }

    private func received(_ bytes: UnsafeRawBufferPointer) {
        switch phase {
        case .closing, .lingering, .closed:
            return
        case .idle:
            phase = .readingHead
            setDeadline(.header)
        case .inFlight:
            if !bodyComplete && !readPausedForBody { setDeadline(.body) }
        case .readingHead:
            break
        }
        parser.feed(bytes)
        processInput()
    }

    private func peerClosed() {
        readClosed = true
        switch phase {
        case .idle, .readingHead, .lingering, .closing, .closed:
            close()
        case .inFlight:
            if !bodyComplete {
                close()   // the upload was abandoned
            } else if case .streaming = responseState {
                close()   // the client of an event stream went away
            } else {
                // Half-closed after a complete request: answer it, then close.
                requestKeepAlive = false
                updateInterest()
            }
        }
    }

    // MARK: Requests

    private func processInput() {
        while true {
            switch phase {
            case .closing, .lingering, .closed:
                return
            case .inFlight:
                if bodyComplete {
                    updateInterest()
                    return
                }
                if !discardingBody, let bodyStream, bodyStream.shouldPause() {
                    readPausedForBody = true
                    clearDeadline()
                    updateInterest()
                    return
                }
            case .idle, .readingHead:
                if writeBacklogFull {
                    pausedForWrites = true
                    clearDeadline()
                    updateInterest()
                    return
                }
            }
            let event: HTTPParserEvent?
            do {
                event = try parser.next()
            } catch {
                reject(error.status, reason: error.reason.rawValue)
                return
            }
            guard let event else { break }
            switch event {
            case .head(let head):
                beginExchange(head)
            case .body(let bytes):
                continuePending = false   // the client did not wait for 100 Continue
                if !discardingBody { bodyStream?.push(bytes) }
            case .end:
                bodyComplete = true
                bodyStream?.finish()
                if case .done = responseState {
                    finishExchange()
                } else {
                    clearDeadline()
                }
            }
        }
        updateInterest()
    }

    private func beginExchange(_ head: HTTPRequestHead) {
        phase = .inFlight
        exchange &+= 1
        let current = exchange
        isHeadRequest = head.method == .head
        requestVersion = head.version
        requestKeepAlive = head.keepAlive && !readClosed
        continuePending = head.expectsContinue
        bodyComplete = false
        discardingBody = false
        readPausedForBody = false
        responseState = .pending
        streamRemaining = nil

        let body: HTTPRequestBody
        if head.framing == .none {
            bodyStream = nil
            body = .empty
            clearDeadline()
        } else {
            let stream = RequestBodyStream(
                highWater: core.limits.readHighWatermark,
                onFirstDemand: { [self] in loop.executeOrRun { self.sendContinue(exchange: current) } },
                onDrained: { [self] in loop.executeOrRun { self.resumeReading(exchange: current) } })
            bodyStream = stream
            body = HTTPRequestBody(stream: stream)
            setDeadline(.body)
        }
        if info == nil {
            info = HTTPConnectionInfo(remoteAddress: remoteAddress, isSecure: tls != nil, peerCertificate: tls?.peerCertificate)
        }
        let request = HTTPRequest(head: head, body: body, connection: info!)
        switch core.handlerExecution {
        case .eventLoop:
            handlerTask = Task(executorPreference: loop) { [self] in await self.runExchange(request, exchange: current) }
        case .globalExecutor:
            handlerTask = Task { [self] in await self.runExchange(request, exchange: current) }
        }
    }

    /// The handler side of an exchange (runs in the request's task).
    private func runExchange(_ request: HTTPRequest, exchange current: UInt64) async {
        let context = RequestContext(logger: core.logger)
        let response: HTTPResponse
        do {
            response = try await core.responder.respond(to: request, context: context)
        } catch {
            response = core.response(forUncaught: error, request: request)
        }
        switch response.body.storage {
        case .bytes:
            await onLoop { self.writeResponse(response, exchange: current) }
        case .stream(let produce):
            guard await onLoop({ self.startStream(response, exchange: current) }) else { return }
            let writer = HTTPResponseBodyWriter(sink: .connection(self, exchange: current))
            do {
                try await produce(writer)
                await onLoop { self.endStream(exchange: current) }
            } catch {
                if !(error is CancellationError) && (error as? HTTPServerError) != .clientDisconnected {
                    core.logger.error("response stream failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                }
                await onLoop { self.abortStream(exchange: current) }
            }
        }
    }

    private func onLoop<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        if loop.inEventLoop { return body() }
        return await withCheckedContinuation { continuation in
            loop.execute { continuation.resume(returning: body()) }
        }
    }

    private func sendContinue(exchange current: UInt64) {
        guard current == exchange, phase == .inFlight, continuePending, !bodyComplete, case .pending = responseState else { return }
        continuePending = false
        let line: StaticString = "HTTP/1.1 100 Continue\r\n\r\n"
        emit(UnsafeRawBufferPointer(start: line.utf8Start, count: line.utf8CodeUnitCount))
    }

    private func resumeReading(exchange current: UInt64) {
        guard current == exchange, phase == .inFlight, readPausedForBody else { return }
        readPausedForBody = false
        if !bodyComplete { setDeadline(.body) }
        processInput()
        updateInterest()
    }

    // MARK: Responses

    private func keepAliveAllowed(_ headers: HTTPHeaders) -> Bool {
        if !requestKeepAlive || draining || readClosed || core.isDraining { return false }
        if !bodyComplete && continuePending { return false }   // the client may or may not send the body
        if headers.containsToken("close", in: "Connection") { return false }
        return true
    }

    private func writeResponse(_ response: HTTPResponse, exchange current: UInt64) {
        guard current == exchange, phase == .inFlight, case .pending = responseState else { return }
        let bytes = response.body.bytes ?? []
        let keepAlive = keepAliveAllowed(response.headers)
        let hasBody = !response.status.forbidsBody
        loop.writeBuffer.removeAll(keepingCapacity: true)
        ResponseSerializer.head(status: response.status, headers: response.headers, date: loop.dateCache.current(),
                                contentLength: hasBody ? bytes.count : nil, chunked: false, keepAlive: keepAlive,
                                requestVersion: requestVersion, into: &loop.writeBuffer)
        let sendBody = hasBody && !isHeadRequest && !bytes.isEmpty
        if sendBody && bytes.count <= 16 * 1024 {
            loop.writeBuffer.append(contentsOf: bytes)
            loop.writeBuffer.withUnsafeBytes { emit($0) }
        } else {
            loop.writeBuffer.withUnsafeBytes { emit($0) }
            if sendBody { bytes.withUnsafeBytes { emit($0) } }
        }
        responseState = .done
        responseKeepAlive = keepAlive
        responded()
    }

    private func startStream(_ response: HTTPResponse, exchange current: UInt64) -> Bool {
        guard current == exchange, phase == .inFlight, case .pending = responseState else { return false }
        let hasBody = !response.status.forbidsBody && !isHeadRequest
        let declared = response.headers["Content-Length"].flatMap { parseDecimal(Substring($0)) }
        let chunked = hasBody && declared == nil && requestVersion.minor >= 1
        var keepAlive = keepAliveAllowed(response.headers)
        if hasBody && declared == nil && !chunked { keepAlive = false }   // HTTP/1.0: the close ends the body
        loop.writeBuffer.removeAll(keepingCapacity: true)
        ResponseSerializer.head(status: response.status, headers: response.headers, date: loop.dateCache.current(),
                                contentLength: response.status.forbidsBody ? nil : declared, chunked: chunked,
                                keepAlive: keepAlive, requestVersion: requestVersion, into: &loop.writeBuffer)
        loop.writeBuffer.withUnsafeBytes { emit($0) }
        responseKeepAlive = keepAlive
        if !hasBody || phase == .closed {
            responseState = .done
            responded()
            return false
        }
        responseState = .streaming(chunked: chunked)
        streamRemaining = declared
        return true
    }

    /// Queues one piece of a streamed body; waits while the client is too far behind.
    func writeBodyPiece(_ bytes: [UInt8], exchange current: UInt64) async throws {
        let outcome: Result<Bool, HTTPServerError> = await onLoop { self.appendBodyPiece(bytes, exchange: current) }
        guard try outcome.get() else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            loop.executeOrRun {
                if current != self.exchange || self.phase == .closed {
                    continuation.resume(throwing: HTTPServerError.clientDisconnected)
                } else if self.outbound.count - self.outboundOffset <= self.core.limits.writeHighWatermark {
                    continuation.resume()
                } else {
                    self.writeWaiters.append(continuation)
                }
            }
        }
    }

    private func appendBodyPiece(_ bytes: [UInt8], exchange current: UInt64) -> Result<Bool, HTTPServerError> {
        guard current == exchange, phase == .inFlight || phase == .closing, case .streaming(let chunked) = responseState else {
            return .failure(.clientDisconnected)
        }
        if let remaining = streamRemaining {
            guard bytes.count <= remaining else {
                core.logger.error("streamed body longer than its Content-Length; closing")
                close()
                return .failure(.clientDisconnected)
            }
            streamRemaining = remaining - bytes.count
        }
        if chunked {
            loop.writeBuffer.removeAll(keepingCapacity: true)
            ResponseSerializer.appendHex(bytes.count, to: &loop.writeBuffer)
            loop.writeBuffer.append(13)
            loop.writeBuffer.append(10)
            if bytes.count <= 16 * 1024 {
                loop.writeBuffer.append(contentsOf: bytes)
                loop.writeBuffer.append(13)
                loop.writeBuffer.append(10)
                loop.writeBuffer.withUnsafeBytes { emit($0) }
            } else {
                loop.writeBuffer.withUnsafeBytes { emit($0) }
                bytes.withUnsafeBytes { emit($0) }
                let crlf: StaticString = "\r\n"
                emit(UnsafeRawBufferPointer(start: crlf.utf8Start, count: 2))
            }
        } else {
            bytes.withUnsafeBytes { emit($0) }
        }
        if phase == .closed { return .failure(.clientDisconnected) }
        return .success(outbound.count - outboundOffset > core.limits.writeHighWatermark)
    }

    private func endStream(exchange current: UInt64) {
        guard current == exchange, phase == .inFlight, case .streaming(let chunked) = responseState else { return }
        if chunked {
            let last: StaticString = "0\r\n\r\n"
            emit(UnsafeRawBufferPointer(start: last.utf8Start, count: last.utf8CodeUnitCount))
        }
        if let remaining = streamRemaining, remaining > 0 { responseKeepAlive = false }
        if phase == .closed { return }
        responseState = .done
        responded()
    }

    private func abortStream(exchange current: UInt64) {
        guard current == exchange, phase != .closed else { return }
        close()
    }

    /// The response has been handed to the socket: keep going, drain the body, or close.
    private func responded() {
        handlerTask = nil
        guard phase == .inFlight else { return }
        if !responseKeepAlive {
            bodyStream?.fail(HTTPServerError.responseAlreadySent)
            bodyStream = nil
            closeGracefully()
            return
        }
        if !bodyComplete {
            // Answered before the body was read: read and discard the rest, then continue.
            discardingBody = true
            bodyStream?.fail(HTTPServerError.responseAlreadySent)
            bodyStream = nil
            readPausedForBody = false
            setDeadline(.body)
            processInput()
            return
        }
        finishExchange()
        processInput()
    }

    private func finishExchange() {
        bodyStream = nil
        handlerTask = nil
        discardingBody = false
        responseState = .pending
        if draining || core.isDraining {
            closeGracefully()
            return
        }
        if parser.bufferedByteCount > 0 || !parser.isAtMessageBoundary {
            phase = .readingHead
            setDeadline(.header)
        } else {
            phase = .idle
            setDeadline(.idle)
            // An idle connection keeps no large buffers (10,000 idle connections must stay small).
            parser.releaseBufferIfLarge()
            if outbound.isEmpty && outbound.capacity > 16 * 1024 { outbound = [] }
        }
    }

    /// Answers a protocol error or timeout with its status (problem+json) and closes.
    private func reject(_ status: HTTPStatus, reason: String) {
        core.logger.notice("request rejected", metadata: [
            "http.status": "\(status.code)", "reason": "\(reason)", "http.remote": "\(remoteAddress)",
        ])
        handlerTask?.cancel()
        handlerTask = nil
        bodyStream?.fail(HTTPError(status, detail: reason))
        bodyStream = nil
        if case .streaming = responseState {
            close()
        } else if phase == .inFlight, case .done = responseState {
            close()   // the answer is out already (body being discarded)
        } else {
            sendErrorResponse(status, detail: reason, extraHeaders: "")
        }
    }

    private func sendErrorResponse(_ status: HTTPStatus, detail: String, extraHeaders: String) {
        let body = Problem(status: status, detail: detail).encoded()
        var head = "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\nDate: "
        head += String(decoding: loop.dateCache.current(), as: UTF8.self)
        head += "\r\nContent-Type: application/problem+json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        head += extraHeaders + "\r\n"
        var bytes = Array(head.utf8)
        bytes.append(contentsOf: body)
        responseState = .done
        bytes.withUnsafeBytes { emit($0) }
        closeGracefully()
    }

    // MARK: Output

    /// Sends plaintext: through TLS when on, straight to the socket when nothing is queued.
    private func emit(_ bytes: UnsafeRawBufferPointer) {
        guard phase != .closed, !bytes.isEmpty else { return }
        if let tls {
            do {
                try tls.writePlaintext(Array(bytes))
            } catch {
                close()
                return
            }
            outbound.append(contentsOf: tls.takeOutgoingCiphertext())
            flush()
            return
        }
        if outboundOffset == outbound.count {
            var sent = 0
            while sent < bytes.count {
                let n = send(fd, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
                if n > 0 {
                    sent += n
                    continue
                }
                let error = errno
                if n < 0 && error == EINTR { continue }
                if n < 0 && (error == EAGAIN || error == EWOULDBLOCK) { break }
                close()
                return
            }
            lastWriteProgress = loop.now
            if sent == bytes.count { return }
            outbound.removeAll(keepingCapacity: true)
            outboundOffset = 0
            outbound.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[sent...]))
            updateInterest()
        } else {
            outbound.append(contentsOf: bytes)
            flush()
        }
    }

    /// Writes queued bytes; on drain wakes waiting writers and finishes a pending close.
    private func flush() {
        while outboundOffset < outbound.count {
            let n = outbound.withUnsafeBytes { raw in
                send(fd, raw.baseAddress! + outboundOffset, raw.count - outboundOffset, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                outboundOffset += n
                lastWriteProgress = loop.now
                continue
            }
            let error = errno
            if n < 0 && error == EINTR { continue }
            if n < 0 && (error == EAGAIN || error == EWOULDBLOCK) { break }
            close()
            return
        }
        if outboundOffset == outbound.count {
            if outbound.capacity > 1 << 20 { outbound = [] } else { outbound.removeAll(keepingCapacity: true) }
            outboundOffset = 0
            if phase == .closing {
                halfCloseAndLinger()
                return
            }
        } else if outboundOffset >= 64 * 1024 {
            outbound.removeSubrange(0..<outboundOffset)
            outboundOffset = 0
        }
        if !writeWaiters.isEmpty && outbound.count - outboundOffset <= core.limits.writeHighWatermark / 2 {
            let waiters = writeWaiters
            writeWaiters = []
            for waiter in waiters { waiter.resume() }
        }
        if pausedForWrites && outbound.count - outboundOffset <= core.limits.writeHighWatermark / 2 {
            // The client read enough: go on with its pipelined requests (later in this loop
            // iteration, not inside the write that made room).
            pausedForWrites = false
            setDeadline(phase == .idle ? .idle : .header)
            loop.execute { [self] in processInput() }
        }
        updateInterest()
    }

    private func updateInterest() {
        guard phase != .closed else { return }
        var events: UInt32 = 0
        let pipelineFull = phase == .inFlight && bodyComplete && parser.bufferedByteCount >= HTTPConnection.maxPipelinedBytes
        let answersWaiting = pausedForWrites || (phase != .inFlight && writeBacklogFull)
        if !readClosed && !readPausedForBody && !pipelineFull && !answersWaiting { events |= Linux.eventIn }
        if outboundOffset < outbound.count { events |= Linux.eventOut }
        if events != registeredEvents {
            registeredEvents = events
            loop.modify(fd: fd, events: events)
        }
    }

    // MARK: Closing

    /// Sends what is queued (and close_notify), then shuts the write side and lingers.
    private func closeGracefully() {
        switch phase {
        case .closing, .lingering, .closed: return
        default: break
        }
        phase = .closing
        clearDeadline()
        if let tls {
            tls.close()
            outbound.append(contentsOf: tls.takeOutgoingCiphertext())
        }
        flush()
    }

    private func halfCloseAndLinger() {
        phase = .lingering
        shutdown(fd, Int32(SHUT_WR))
        deadlineKind = .linger
        deadline = loop.now + HTTPConnection.lingerNanoseconds
        readClosed = false
        updateInterest()
    }

    /// Closes now: cancels the handler, fails body readers and waiting writers.
    func close() {
        guard phase != .closed else { return }
        phase = .closed
        closedFlag.store(true, ordering: .relaxed)
        loop.deregister(fd: fd)
        Glibc.close(fd)
        handlerTask?.cancel()
        handlerTask = nil
        bodyStream?.fail(HTTPServerError.clientDisconnected)
        bodyStream = nil
        let waiters = writeWaiters
        writeWaiters = []
        for waiter in waiters { waiter.resume(throwing: HTTPServerError.clientDisconnected) }
        outbound = []
        outboundOffset = 0
        tls = nil
        core.connectionClosed(address: countedAddress)
    }

    /// Server shutdown: close now if between requests, else after the current response.
    func beginDrain() {
        draining = true
        switch phase {
        case .idle, .readingHead: close()
        default: break
        }
    }

    // MARK: Timeouts

    private func setDeadline(_ kind: DeadlineKind) {
        let limits = core.limits
        deadlineKind = kind
        switch kind {
        case .none: deadline = 0
        case .idle: deadline = loop.now + limits.idleTimeout.nanoseconds
        case .header: deadline = loop.now + limits.headerReadTimeout.nanoseconds
        case .body: deadline = loop.now + limits.bodyReadTimeout.nanoseconds
        case .linger: deadline = loop.now + HTTPConnection.lingerNanoseconds
        }
    }

    private func clearDeadline() {
        deadlineKind = .none
        deadline = 0
    }

    func sweep(now: UInt64) {
        guard phase != .closed else { return }
        if outboundOffset < outbound.count && now &- lastWriteProgress > core.limits.writeTimeout.nanoseconds {
            core.logger.notice("write timeout: client stopped reading", metadata: ["http.remote": "\(remoteAddress)"])
            close()
            return
        }
        guard deadline != 0, now >= deadline else { return }
        switch deadlineKind {
        case .none:
            return
        case .idle:
            core.logger.debug("idle timeout", metadata: ["http.remote": "\(remoteAddress)"])
            close()
        case .header:
            reject(.requestTimeout, reason: "header read timeout")
        case .body:
            reject(.requestTimeout, reason: "body read timeout")
        case .linger:
            close()
        }
    }
}
