@testable import CaaSClient
import Testing

@Suite struct ProgressRendererTests {
    typealias Line = RolloutProgress.ServiceLine

    @Test func barsShowTheRunningShareOfTheDesiredReplicas() {
        let renderer = ProgressRenderer(terminal: true, barWidth: 5)
        #expect(renderer.bar(running: 3, desired: 5) == "███░░")
        #expect(renderer.bar(running: 0, desired: 5) == "░░░░░")
        #expect(renderer.bar(running: 5, desired: 5) == "█████")
        #expect(renderer.bar(running: 7, desired: 5) == "█████")
        #expect(renderer.bar(running: 0, desired: 0) == "█████")
    }

    @Test func terminalFramesRedrawTheSameLinesInPlace() {
        var renderer = ProgressRenderer(terminal: true, barWidth: 5)
        let first = renderer.render(RolloutProgress(services: [Line(name: "web", desired: 5, running: 3, status: "deploying"),
                                                               Line(name: "db", desired: 1, running: 1, status: "running")],
                                                    deploymentStatus: "in_progress"))
        #expect(first == "\r\u{1B}[2Kweb  ███░░ 3/5 deploying\n\r\u{1B}[2Kdb   █████ 1/1 running\n\r\u{1B}[2Krollout in progress\n")
        let second = renderer.render(RolloutProgress(services: [Line(name: "web", desired: 5, running: 5, status: "running"),
                                                                Line(name: "db", desired: 1, running: 1, status: "running")],
                                                     deploymentStatus: "succeeded"))
        #expect(second.hasPrefix("\u{1B}[3A"))
        #expect(second.contains("web  █████ 5/5 running") && second.hasSuffix("\r\u{1B}[2Krollout succeeded\n"))
    }

    @Test func aShorterFrameClearsTheLinesLeftOver() {
        var renderer = ProgressRenderer(terminal: true, barWidth: 2)
        _ = renderer.render(RolloutProgress(services: [Line(name: "a", desired: 1, running: 0, status: ""), Line(name: "b", desired: 1, running: 0, status: "")],
                                            deploymentStatus: "in_progress"))
        let shorter = renderer.render(RolloutProgress(services: [Line(name: "a", desired: 1, running: 1, status: "running")], deploymentStatus: ""))
        #expect(shorter == "\u{1B}[3A\r\u{1B}[2Ka  ██ 1/1 running\n\r\u{1B}[2K\n\r\u{1B}[2K\n\u{1B}[2A")
    }

    @Test func plainOutputPrintsOnlyWhatChanged() {
        var renderer = ProgressRenderer(terminal: false)
        let start = RolloutProgress(services: [Line(name: "web", desired: 3, running: 0, status: "pending"),
                                               Line(name: "db", desired: 1, running: 0, status: "pending")], deploymentStatus: "in_progress")
        #expect(renderer.render(start) == "web  0/3 pending\ndb   0/1 pending\nrollout in progress\n")
        #expect(renderer.render(start) == "")
        var next = start
        next.services[0].running = 2
        #expect(renderer.render(next) == "web  2/3 pending\n")
        next.deploymentStatus = "rolled_back"
        next.reason = "web: 2 containers failed their health check"
        #expect(renderer.render(next) == "rollout rolled back: web: 2 containers failed their health check\n")
    }

    @Test func plainOutputPrintsWhyAServiceCannotBePlacedOncePerChange() {
        var renderer = ProgressRenderer(terminal: false)
        let memory = "web: 3 containers cannot be placed: 0/2 nodes are available: 2 insufficient memory"
        var progress = RolloutProgress(services: [Line(name: "web", desired: 3, running: 0, status: "pending")], deploymentStatus: "in_progress")
        #expect(renderer.render(progress) == "web  0/3 pending\nrollout in progress\n")
        progress.services[0].unplaced = memory
        #expect(renderer.render(progress) == memory + "\n", "the explanation alone: the numbers did not change")
        #expect(renderer.render(progress) == "", "not again while it stays the same")
        progress.services[0].running = 1
        #expect(renderer.render(progress) == "web  1/3 pending\n")
        progress.services[0].unplaced = "web: 2 containers cannot be placed: 0/2 nodes are available: 2 insufficient memory"
        #expect(renderer.render(progress) == "web: 2 containers cannot be placed: 0/2 nodes are available: 2 insufficient memory\n")
    }

    @Test func aTerminalPrintsWhyAServiceCannotBePlacedOnceAboveTheRedrawnLines() {
        var renderer = ProgressRenderer(terminal: true, barWidth: 2)
        var progress = RolloutProgress(services: [Line(name: "web", desired: 1, running: 0, status: "pending")], deploymentStatus: "in_progress")
        #expect(renderer.render(progress) == "\r\u{1B}[2Kweb  ░░ 0/1 pending\n\r\u{1B}[2Krollout in progress\n")
        progress.services[0].unplaced = "web: 1 container cannot be placed: 0/1 nodes are available: 1 insufficient memory"
        // Up to the first redrawn line, clear to the end of the screen, the explanation, the lines again.
        #expect(renderer.render(progress) == "\u{1B}[2A\r\u{1B}[J"
                + "web: 1 container cannot be placed: 0/1 nodes are available: 1 insufficient memory\n"
                + "\r\u{1B}[2Kweb  ░░ 0/1 pending\n\r\u{1B}[2Krollout in progress\n")
        #expect(renderer.render(progress) == "\u{1B}[2A\r\u{1B}[2Kweb  ░░ 0/1 pending\n\r\u{1B}[2Krollout in progress\n",
                "the same explanation is not printed again; the lines below it are redrawn")
    }

    @Test func redrawnLinesAreCutToTheTerminalWidthSoTheyNeverWrap() {
        var renderer = ProgressRenderer(terminal: true, style: TerminalStyle(colour: true), barWidth: 2, columns: 21)
        let reason = "waiting: web 0/1 running (1 unplaced (slots 0): 0/1 nodes are available: 1 insufficient memory)"
        let text = renderer.render(RolloutProgress(services: [Line(name: "web", desired: 1, running: 0, status: "pending")],
                                                   deploymentStatus: "in_progress", reason: reason))
        #expect(text == "\r\u{1B}[2Kweb  \u{1B}[33m░░\u{1B}[0m 0/1 pending\n\r\u{1B}[2Krollout in progress…\n")
        #expect(ProgressRenderer.cut("\u{1B}[31mrollout failed: deadline exceeded\u{1B}[0m", to: 10) == "\u{1B}[31mrollout f…\u{1B}[0m")
        #expect(ProgressRenderer.cut("short", to: 5) == "short")
        #expect(ProgressRenderer.visibleWidth("\u{1B}[33m░░\u{1B}[0m 0/1") == 6)
    }

    @Test func externalServicesAreShownAsEndpoints() {
        var renderer = ProgressRenderer(terminal: false)
        let text = renderer.render(RolloutProgress(services: [Line(name: "mysql", desired: 0, running: 0, status: "external")], deploymentStatus: ""))
        #expect(text == "mysql  external endpoint\n")
    }

    @Test func progressIsBuiltFromServicesAndTheDeployment() {
        let services = [Service(["name": "web", "desired_replicas": 3, "running_replicas": 1, "status": "pending", "kind": "container"]),
                        Service(["name": "api", "desired_replicas": 2, "running_replicas": 2, "status": "running", "kind": "container"])]
        let deployment = Deployment(["id": "dep_1", "status": "failed", "outcome": "rolled_back", "reason": "deadline passed"])
        let progress = RolloutProgress(services: services, deployment: deployment)
        #expect(progress.services.map(\.name) == ["api", "web"])
        #expect(progress.deploymentStatus == "rolled_back" && progress.reason == "deadline passed" && progress.isFinished)
        let running = Deployment(["id": "dep_2", "status": "in_progress", "outcome": nil])
        #expect(!RolloutProgress(services: services, deployment: running).isFinished)
        let web = Service(["id": "svc_web", "name": "web", "desired_replicas": 3, "kind": "container"])
        let explained = RolloutProgress(services: [web], deployment: running, unplaced: ["svc_web": "web: 3 containers cannot be placed: …"])
        #expect(explained.services[0].unplaced == "web: 3 containers cannot be placed: …")
    }
}

@Suite struct ServerSentEventParserTests {
    @Test func eventsSplitAcrossReadsAndLineEndingsAreReassembled() {
        var parser = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        let stream = ": caas events\r\nretry: 2000\r\n\r\nid: 7\nevent: app.created\ndata: {\"id\":7,\ndata: \"x\":1}\n\nid: 8\ndata: two\n\n"
        for byte in Array(stream.utf8) { events += parser.feed([byte]) }
        #expect(events == [ServerSentEvent(id: "7", event: "app.created", data: "{\"id\":7,\n\"x\":1}"),
                           ServerSentEvent(id: "8", event: nil, data: "two")])
    }
}
