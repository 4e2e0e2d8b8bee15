import CaaSModel
import Foundation
import Testing
@testable import CaaSAgent

@Suite struct EngineCodecTests {
    static func frame(_ stream: UInt8, _ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        let n = UInt32(bytes.count)
        return [stream, 0, 0, 0, UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + bytes
    }

    @Test func multiplexedFramesDecodeWhenFedOneByteAtATime() throws {
        let wire = Self.frame(1, "hello\n") + Self.frame(2, "oops\n") + Self.frame(1, "") + Self.frame(1, String(repeating: "x", count: 70_000))
        var decoder = MultiplexedStreamDecoder()
        var frames: [LogFrame] = []
        for byte in wire { frames += try decoder.feed([byte]) }
        #expect(frames.map(\.stream) == [.stdout, .stderr, .stdout, .stdout])
        #expect(frames[0].bytes == Array("hello\n".utf8))
        #expect(frames[1].bytes == Array("oops\n".utf8))
        #expect(frames[3].bytes.count == 70_000)
        #expect(decoder.pendingByteCount == 0)
    }

    @Test func multiplexedHeaderWithGarbageIsRejected() {
        var decoder = MultiplexedStreamDecoder()
        #expect(throws: EngineError.self) { try decoder.feed(Array("plain text, not framed".utf8)) }
    }

    @Test func jsonLinesSplitAcrossChunks() {
        var splitter = JSONLineSplitter()
        #expect(splitter.feed(Array("{\"a\":1}\n{\"b\"".utf8)).map { String(decoding: $0, as: UTF8.self) } == ["{\"a\":1}"])
        #expect(splitter.feed(Array(":2}\r\n\n".utf8)).map { String(decoding: $0, as: UTF8.self) } == ["{\"b\":2}\r"])
        #expect(splitter.finish() == nil)
    }

    @Test func createBodyCarriesLimitsLabelsVolumesAndNoEngineRestart() throws {
        let desired = DesiredContainer(
            containerId: "ctr_x", tenantId: "ten_1", appId: "app_1", appName: "a", serviceName: "s", slot: 1, generation: 4,
            image: "img", command: ["run"], environment: [EnvironmentVariable(name: "A", value: "1"), EnvironmentVariable(name: "UNSET", value: nil)],
            network: .bridge, ports: [DesiredPort(containerPort: 80, hostPort: 8080, hostAddress: "127.0.0.1")],
            volumes: [DesiredVolume(kind: .volume, source: "caas_ten_1_app_1_data", target: "/data", driver: "rexray", driverOptions: ["size": "1"]),
                      DesiredVolume(kind: .bind, source: "/srv", target: "/srv", readOnly: true),
                      DesiredVolume(kind: .tmpfs, target: "/tmp"),
                      DesiredVolume(kind: .anonymous, target: "/cache", driver: "rexray")],
            limits: Resources(cpus: 1.5, memoryBytes: 1 << 30), stopGracePeriodSeconds: 2.5)
        let body = ContainerCreateBody(desired, clusterId: "clu_1")
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(body)) as? [String: Any])
        let host = try #require(json["HostConfig"] as? [String: Any])
        #expect(host["NanoCpus"] as? Int == 1_500_000_000)
        #expect(host["Memory"] as? Int == 1 << 30)
        #expect(host["Init"] as? Bool == true)
        #expect(host["NetworkMode"] as? String == "bridge")
        #expect((host["RestartPolicy"] as? [String: Any])?["Name"] as? String == "no")
        #expect(((host["PortBindings"] as? [String: Any])?["80/tcp"] as? [[String: String]]) == [["HostIp": "127.0.0.1", "HostPort": "8080"]])
        let mounts = try #require(host["Mounts"] as? [[String: Any]])
        #expect(mounts.map { $0["Type"] as? String } == ["volume", "bind", "tmpfs", "volume"])
        // The named volume is mounted by its engine name; the executor made it with its driver before.
        #expect(mounts[0]["Source"] as? String == "caas_ten_1_app_1_data")
        #expect(mounts[0]["VolumeOptions"] == nil)
        #expect(mounts[3]["Source"] == nil)
        #expect(((mounts[3]["VolumeOptions"] as? [String: Any])?["DriverConfig"] as? [String: Any])?["Name"] as? String == "rexray")
        #expect(mounts[1]["ReadOnly"] as? Bool == true)
        #expect(json["Env"] as? [String] == ["A=1"])
        #expect(json["StopTimeout"] as? Int == 3)
        #expect((json["Labels"] as? [String: String])?["caas.generation"] == "4")
        #expect(json["ExposedPorts"] as? [String: [String: String]] == ["80/tcp": [:]])
    }

    @Test func createBodyCarriesTheHostOptionsThePolicyAllowedAndNothingWithout() throws {
        var desired = DesiredContainer(containerId: "ctr_x", tenantId: "ten_1", appId: "app_1", appName: "a", serviceName: "s", slot: 1,
                                       generation: 1, image: "img")
        func hostConfig() throws -> [String: Any] {
            let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(ContainerCreateBody(desired, clusterId: "clu_1"))) as? [String: Any]
            return try #require(json?["HostConfig"] as? [String: Any])
        }
        let plain = try hostConfig()
        for key in ["Privileged", "CapAdd", "Devices", "PidMode", "IpcMode"] { #expect(plain[key] == nil, "\(key)") }

        desired.host = HostOptions(privileged: true, capAdd: ["NET_ADMIN"],
                                   devices: [DeviceMapping(hostPath: "/dev/fuse"), DeviceMapping(hostPath: "/dev/snd", containerPath: "/dev/sound", permissions: "rw")],
                                   pid: "host", ipc: "host")
        let host = try hostConfig()
        #expect(host["Privileged"] as? Bool == true)
        #expect(host["CapAdd"] as? [String] == ["NET_ADMIN"])
        #expect(host["Devices"] as? [[String: String]] == [
            ["PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"],
            ["PathOnHost": "/dev/snd", "PathInContainer": "/dev/sound", "CgroupPermissions": "rw"],
        ])
        #expect(host["PidMode"] as? String == "host")
        #expect(host["IpcMode"] as? String == "host")
    }

    @Test func createBodyCarriesProcessOptionsAndLiftedConfinementAndNothingWithout() throws {
        var desired = DesiredContainer(containerId: "ctr_x", tenantId: "ten_1", appId: "app_1", appName: "a", serviceName: "s", slot: 1,
                                       generation: 1, image: "img")
        func body() throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(ContainerCreateBody(desired, clusterId: "clu_1"))) as? [String: Any])
        }
        let plain = try body()
        for key in ["User", "WorkingDir", "StopSignal"] { #expect(plain[key] == nil, "\(key)") }
        let plainHost = try #require(plain["HostConfig"] as? [String: Any])
        for key in ["CapDrop", "ReadonlyRootfs", "SecurityOpt", "PidsLimit", "Sysctls", "GroupAdd", "UTSMode", "UsernsMode", "CgroupnsMode", "DeviceCgroupRules"] {
            #expect(plainHost[key] == nil, "\(key)")
        }

        desired.process = ProcessOptions(user: "1000:1000", groupAdd: ["audio"], workingDir: "/srv", stopSignal: "SIGINT",
                                         readOnlyRootFilesystem: true, capDrop: ["ALL"], noNewPrivileges: true, pidsLimit: 64,
                                         sysctls: ["kernel.shmmax": "1024"])
        desired.host = HostOptions(securityOptions: ["seccomp=unconfined"], uts: "host", userns: "host", cgroup: "private",
                                   deviceCgroupRules: ["c 10:229 rwm"])
        let json = try body()
        #expect(json["User"] as? String == "1000:1000")
        #expect(json["WorkingDir"] as? String == "/srv")
        #expect(json["StopSignal"] as? String == "SIGINT")
        let host = try #require(json["HostConfig"] as? [String: Any])
        #expect(host["CapDrop"] as? [String] == ["ALL"])
        #expect(host["ReadonlyRootfs"] as? Bool == true)
        #expect(host["SecurityOpt"] as? [String] == ["seccomp=unconfined", "no-new-privileges:true"])
        #expect(host["PidsLimit"] as? Int == 64)
        #expect(host["Sysctls"] as? [String: String] == ["kernel.shmmax": "1024"])
        #expect(host["GroupAdd"] as? [String] == ["audio"])
        #expect(host["UTSMode"] as? String == "host")
        #expect(host["UsernsMode"] as? String == "host")
        #expect(host["CgroupnsMode"] as? String == "private")
        #expect(host["DeviceCgroupRules"] as? [String] == ["c 10:229 rwm"])
    }

    @Test func engineStatesMapToTheForwardOnlyLifecycle() {
        #expect(ObservedContainerState(engineStatus: "created") == .starting)
        #expect(ObservedContainerState(engineStatus: "running") == .running)
        #expect(ObservedContainerState(engineStatus: "restarting") == .running)
        #expect(ObservedContainerState(engineStatus: "exited") == .exited)
        #expect(ObservedContainerState(engineStatus: "dead") == .failed)
    }

    @Test func endpointsParseFromConfiguration() {
        #expect(EngineEndpoint("/run/docker.sock") == .unixSocket(path: "/run/docker.sock"))
        #expect(EngineEndpoint("unix:///run/docker.sock") == .unixSocket(path: "/run/docker.sock"))
        #expect(EngineEndpoint("tcp://127.0.1.2:2375") == .tcp(host: "127.0.1.2", port: 2375, tls: false))
        #expect(EngineEndpoint("tcp+tls://[::1]:2376") == .tcp(host: "::1", port: 2376, tls: true))
        #expect(EngineEndpoint("https://node1:2376") == .tcp(host: "node1", port: 2376, tls: true))
        #expect(EngineEndpoint("ftp://x:1") == nil)
        #expect(EngineEndpoint("tcp://nohost") == nil)
    }

    @Test func cpuPercentComesFromTwoSamples() throws {
        func sample(_ total: UInt64, _ system: UInt64) throws -> ContainerStats {
            try JSONDecoder().decode(ContainerStats.self, from: Data("""
            {"cpu_stats":{"cpu_usage":{"total_usage":\(total)},"system_cpu_usage":\(system),"online_cpus":2},
             "memory_stats":{"usage":1000,"limit":5000,"stats":{"inactive_file":200}}}
            """.utf8))
        }
        let before = try sample(1_000, 10_000), after = try sample(2_000, 14_000)
        #expect(ContainerStats.cpuPercent(from: before, to: after) == 50)
        #expect(ContainerStats.cpuPercent(from: after, to: after) == nil)
        #expect(after.memoryWorkingSetBytes == 800)
    }

    @Test func queryValuesArePercentEncoded() {
        let request = EngineRequest(method: .get, path: "/v1.41/containers/json", query: [("filters", "{\"label\":[\"caas.cluster=clu_1\"]}")])
        #expect(request.target == "/v1.41/containers/json?filters=%7B%22label%22%3A%5B%22caas.cluster%3Dclu_1%22%5D%7D")
        #expect(EngineClient.splitReference("registry:5000/app:1.2") == ("registry:5000/app", "1.2"))
        #expect(EngineClient.splitReference("registry:5000/app") == ("registry:5000/app", "latest"))
        #expect(EngineClient.splitReference("busybox") == ("busybox", "latest"))
    }
}

@Suite struct ProbeAndReportTests {
    @Test func healthNeedsThresholdFailuresInARowAndOneSuccessToRecover() {
        var tracker = ProbeTracker(failureThreshold: 3)
        #expect(tracker.status == .starting)
        #expect(tracker.record(.failure("a")) == nil)
        #expect(tracker.record(.success) == .healthy)
        #expect(tracker.record(.failure("b")) == nil)
        #expect(tracker.record(.failure("c")) == nil)
        #expect(tracker.record(.failure("d")) == .unhealthy)
        #expect(tracker.lastFailure == "d")
        #expect(tracker.record(.failure("e")) == nil)
        #expect(tracker.record(.success) == .healthy)
    }

    @Test func healthchecksBecomeCommandProbes() {
        let shell = Probe(HealthCheck(test: ["CMD-SHELL", "wget -q -O- localhost"], intervalSeconds: 5, timeoutSeconds: 2, retries: 4, startPeriodSeconds: 1))
        #expect(shell?.check == .command(["/bin/sh", "-c", "wget -q -O- localhost"]))
        #expect(shell?.failureThreshold == 4)
        #expect(shell?.initialDelaySeconds == 1)
        #expect(Probe(HealthCheck(test: ["CMD", "true"]))?.check == .command(["true"]))
        #expect(Probe(HealthCheck(test: ["NONE"])) == nil)
    }

    actor Flaky: AgentReporter {
        var failuresLeft: Int
        var delivered: [AgentReport] = []
        init(failures: Int) { failuresLeft = failures }
        func deliver(_ report: AgentReport) async throws {
            if failuresLeft > 0 {
                failuresLeft -= 1
                throw CancellationError()
            }
            delivered.append(report)
        }
    }

    @Test func batcherCoalescesAndRetriesUntilDelivered() async {
        let reporter = Flaky(failures: 2)
        // A window wide enough that the four adds below land in one batch even on a loaded machine.
        let batcher = ReportBatcher(clusterId: "clu_1", reporter: reporter, window: .milliseconds(500))
        await batcher.setAppliedGeneration(9)
        let t0 = Date()
        await batcher.add(ContainerObservation(containerId: "ctr_1", nodeId: "n", state: .starting, observedAt: t0))
        await batcher.add(ContainerObservation(containerId: "ctr_1", nodeId: "n", state: .running, observedAt: t0.addingTimeInterval(1)))
        await batcher.add(ContainerObservation(containerId: "ctr_1", nodeId: "n", state: .starting, observedAt: t0.addingTimeInterval(0.5)))
        await batcher.add(NodeObservation(nodeId: "n", engineReachable: true, observedAt: t0))
        #expect(await eventually(within: .seconds(15)) { await !reporter.delivered.isEmpty })
        let delivered = await reporter.delivered
        #expect(delivered.count == 1)
        #expect(delivered.first?.containers.map(\.state) == [.running])
        #expect(delivered.first?.nodes.count == 1)
        #expect(delivered.first?.appliedGeneration == 9)
        #expect(delivered.first?.sequence == 3, "two failed attempts came first")
    }
}
