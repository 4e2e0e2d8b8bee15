import Foundation

// Configuration and start-up only: the command tree lives in CaaSCtl.swift and Commands/.
exit(await CaaSCtl.runMain(Array(CommandLine.arguments.dropFirst())))
