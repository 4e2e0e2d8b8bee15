// CaaSHTTP: HTTP/1.1 for caas, on POSIX sockets, epoll and OpenSSL. No SwiftNIO.
//
// Where to find what:
//   Parser/      HTTPRequestParser: a pure state machine from bytes to head / body / end (RFC 9112),
//                tested on raw bytes. HTTPHeaders, HTTPRequestHead, HTTPParserError.
//   Server/      HTTPServer (start, shutdown(deadline:), shutdownOnSignals), its configuration and
//                limits, EventLoop (epoll thread + TaskExecutor), HTTPConnection (the per-connection
//                state machine), Listener, HTTPRequest / HTTPResponse / bodies.
//   Router/      Router (method + path templates, 404/405/HEAD/OPTIONS, route table), RequestContext,
//                path and query parameters.
//   Middleware/  HTTPMiddleware and the built-ins: RequestIDMiddleware, AccessLogMiddleware,
//                RecoveryMiddleware.
//   Problem/     Problem (RFC 9457 problem+json) and HTTPResponseError / HTTPError.
//   JSON/        snake_case + ISO-8601 JSON encoding and request decoding with precise problems.
//   TLS/         The OpenSSL memory-BIO engine (TLSContext, TLSSession), used by server and client.
//   Client/      HTTPClient (TCP, unix sockets, TLS).
//
// The one protocol between them is HTTPResponder: `respond(to:context:) async throws -> HTTPResponse`.
