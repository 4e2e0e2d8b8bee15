import CaaSPostgres

/// The pool is the store's connection source in the server and in tests.
extension PostgresPool: ConnectionSource {}
