import CaaSAgent
import Foundation

/// A test image made from the machine's static busybox: a root filesystem with `/bin/busybox`
/// and links for the applets tests use, tarred and imported through the engine client.
public enum BusyboxImage {
    public static let reference = "caas-test/busybox:latest"
    static let applets = ["sh", "httpd", "sleep", "nc", "wget", "echo", "cat", "ls", "true", "false", "kill", "env", "printf", "dd", "head", "yes"]

    /// Builds the root filesystem tar (once per process) and returns its path.
    public static func buildTar(in directory: String) throws -> String {
        let busybox = "/bin/busybox"
        guard FileManager.default.isExecutableFile(atPath: busybox) else {
            throw EngineHarnessError.imageBuildFailed("\(busybox) is missing: install busybox-static (scripts/install-deps.sh)")
        }
        let root = directory + "/rootfs"
        let tar = directory + "/busybox.tar"
        try? FileManager.default.removeItem(atPath: root)
        let manager = FileManager.default
        for folder in ["bin", "www", "tmp", "etc"] {
            try manager.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
        }
        try manager.copyItem(atPath: busybox, toPath: root + "/bin/busybox")
        for applet in applets {
            try manager.createSymbolicLink(atPath: root + "/bin/" + applet, withDestinationPath: "busybox")
        }
        try Data("caas test page\n".utf8).write(to: URL(fileURLWithPath: root + "/www/index.html"))
        try Data("root:x:0:0:root:/:/bin/sh\n".utf8).write(to: URL(fileURLWithPath: root + "/etc/passwd"))
        // As real images have it: without it glibc asks DNS first and stops at its "no such name",
        // never reading /etc/hosts.
        try Data("hosts: files dns\n".utf8).write(to: URL(fileURLWithPath: root + "/etc/nsswitch.conf"))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/tar")
        process.arguments = ["-C", root, "-cf", tar, "."]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw EngineHarnessError.imageBuildFailed("tar exited with \(process.terminationStatus)") }
        return tar
    }

    /// Imports the image into an engine unless it is there already.
    public static func install(into engine: EngineClient, tar: String) async throws {
        if try await engine.hasImage(reference) { return }
        try await engine.importImage(.tarFile(path: tar), repository: "caas-test/busybox", tag: "latest")
    }
}
