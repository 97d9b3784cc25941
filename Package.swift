// swift-tools-version:6.0
// ledger: an event-sourced, append-only money ledger in flat files.
// No package dependencies by design (SPEC §1): toolchain libraries only.
import PackageDescription

let package = Package(
    name: "ledger",
    products: [
        .executable(name: "ledger", targets: ["ledger"]),
        .executable(name: "ledger-bench", targets: ["LedgerBench"]),
        .executable(name: "ledger-sample", targets: ["LedgerSample"]),
    ],
    targets: [
        // CPU kernels: hardware CRC32C (SSE4.2) and SHA-256 with a runtime check (Swift falls back
        // to portable code), and the prefetch hint.
        .target(name: "CLedgerAccel"),
        // Bytes, files, durability. Knows nothing about money.
        .target(name: "LedgerStorage", dependencies: ["CLedgerAccel"]),
        // Money, events, codecs, upcasters, fold, decisions. Pure, no I/O (the C target only for prefetching).
        .target(name: "LedgerDomain", dependencies: ["CLedgerAccel"]),
        // Use cases joining storage and domain.
        .target(name: "LedgerEngine", dependencies: ["LedgerStorage", "LedgerDomain", "CLedgerAccel"]),
        // Argument parsing, output, exit codes.
        .target(name: "LedgerCLI", dependencies: ["LedgerEngine", "LedgerDomain"]),
        .executableTarget(name: "ledger", dependencies: ["LedgerCLI"]),
        // The deterministic sample history (sample-data/, tests, bench); independent of ledger's own fold.
        .target(name: "LedgerSampleData"),
        .executableTarget(name: "LedgerSample", dependencies: ["LedgerSampleData"]),
        .executableTarget(name: "LedgerBench", dependencies: ["LedgerEngine", "LedgerStorage", "LedgerDomain", "LedgerSampleData"]),
        // A tiny helper the multi-process tests spawn: appends raw records through the storage layer.
        .executableTarget(name: "LedgerTestTool", dependencies: ["LedgerStorage", "LedgerDomain"]),
        .target(name: "LedgerTestSupport", dependencies: ["LedgerStorage", "LedgerDomain"], path: "Tests/LedgerTestSupport"),
        .testTarget(name: "LedgerStorageTests", dependencies: ["LedgerStorage", "LedgerTestSupport"]),
        .testTarget(name: "LedgerEngineTests", dependencies: ["LedgerEngine", "LedgerDomain", "LedgerStorage", "LedgerTestSupport"]),
        .testTarget(name: "LedgerDomainTests", dependencies: ["LedgerDomain", "LedgerTestSupport"]),
        .testTarget(name: "LedgerCLITests", dependencies: ["LedgerStorage", "LedgerDomain", "LedgerEngine", "LedgerCLI", "LedgerTestSupport"],
                    resources: [.copy("Fixtures")]),
    ]
)
