import Testing
import CaaSModel

@Suite struct ObservedStateTests {
    @Test func observedStateNeverMovesBackwards() {
        #expect(ObservedContainerState.running.canMove(to: .exited))
        #expect(!ObservedContainerState.running.canMove(to: .starting))
        #expect(!ObservedContainerState.exited.canMove(to: .running))
        #expect(!ObservedContainerState.exited.canMove(to: .lost))
        #expect(ObservedContainerState.lost.canMove(to: .removed))
        #expect(!ObservedContainerState.removed.canMove(to: .pending))
    }

    @Test func identifiersCarryTheirKindAndAreChecked() {
        let id = Identifier.make(.application)
        #expect(id.hasPrefix("app_"))
        #expect(Identifier.isValid(id, kind: .application))
        #expect(!Identifier.isValid(id, kind: .cluster))
        #expect(!Identifier.isValid("app_' OR 1=1 --", kind: .application))
        #expect(Identifier.make(.application) != id)
    }
}
