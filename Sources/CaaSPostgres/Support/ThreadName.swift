import Foundation

/// Names the calling OS thread (visible in `ps -L`, gdb, and `Thread.current.name`).
///
/// On Linux, Foundation's `Thread.name` setter does not reach the OS thread, and glibc does not
/// export `pthread_setname_np` to Swift without `_GNU_SOURCE`, so it is looked up at run time.
/// Linux limits names to 15 bytes; longer names are cut.
enum ThreadName {
    private typealias SetName = @convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32

    static func setCurrent(_ name: String) {
        #if os(Linux)
        // RTLD_DEFAULT is the null handle on glibc.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pthread_setname_np") else { return }
        let setName = unsafeBitCast(symbol, to: SetName.self)
        var bytes = Array(name.utf8.prefix(15)).map { CChar(bitPattern: $0) }
        bytes.append(0)
        _ = setName(pthread_self(), bytes)
        #else
        Thread.current.name = name
        #endif
    }
}
