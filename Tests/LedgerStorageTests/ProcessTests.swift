import Foundation
import LedgerStorage
import LedgerTestSupport
import Testing

/// Several OS processes against one store, through the built helper and the `ledger` binary.
@Suite struct ProcessTests {
    @Test func concurrentWriterProcessesGetDenseUniquePositions() throws {
        let dir = TemporaryDirectory()
        let writers = 4
        let perWriter = 150
        let running = try (0..<writers).map { w in
            try Executables.start("LedgerTestTool", ["append", dir.path, String(perWriter), String(1 + w % 3), "w\(w)", "2048"])
        }
        var acknowledged: [String: [ClosedRange<UInt64>]] = [:]
        for (w, process) in running.enumerated() {
            let result = process.wait()
            #expect(result.status == 0, "writer \(w): \(result.stderr)")
            acknowledged["w\(w)"] = result.stdout.split(separator: "\n").map { line in
                let parts = line.split(separator: "-").compactMap { UInt64($0) }
                return parts[0]...parts[1]
            }
        }
        let records = try LogFixture.readAll(dir)
        #expect(records.count == writers * perWriter)
        #expect(records.map(\.0) == Array(1...UInt64(writers * perWriter)))
        // Each writer's records are all there, in its own order, at the positions it was told.
        for w in 0..<writers {
            let mine = records.filter { $0.1.hasPrefix("w\(w):") }
            #expect(mine.map(\.1) == (0..<perWriter).map { "w\(w):\($0)" })
            let told = acknowledged["w\(w)"]!.flatMap { Array($0) }
            #expect(mine.map(\.0) == told)
        }
        #expect(try LogVerifier.verify(directory: dir.logDirectory).isSound)
    }

    @Test func lockTimeoutEndsInBusyWithExitCode3() throws {
        let dir = TemporaryDirectory()
        let holder = try Executables.start("LedgerTestTool", ["hold-lock", dir.path, "20000"])
        // Wait until the holder has the lock.
        var waited = 0
        while StoreLockProbe.isFree(dir.path + "/LOCK") && waited < 5000 { usleep(10_000); waited += 10 }
        let result = try Executables.run("ledger", ["--dir", dir.path, "verify"], environment: ["LEDGER_LOCK_TIMEOUT_MS": "100"])
        #expect(result.status == 3)
        #expect(result.stderr.contains("busy"))
        let json = try Executables.run("ledger", ["--dir", dir.path, "--json", "verify"], environment: ["LEDGER_LOCK_TIMEOUT_MS": "100"])
        #expect(json.status == 3)
        let object = try JSONSerialization.jsonObject(with: Data(json.stderr.utf8)) as? [String: Any]
        let error = object?["error"] as? [String: Any]
        #expect(error?["code"] as? String == "busy")
        kill(holder.process.processIdentifier, SIGKILL)
        _ = holder.wait()
    }

    @Test func readersNeverSeeAPartialBatchWhileAWriterAppends() throws {
        let dir = TemporaryDirectory()
        let writer = try Executables.start("LedgerTestTool", ["append", dir.path, "3000", "7", "w", "4096"])
        var reads = 0
        while writer.process.isRunning || reads < 3 {
            let records = try LogFixture.readAll(dir)
            // Batches are 7 records: a committed prefix is always a whole number of batches.
            #expect(records.count % 7 == 0 || records.count == 3000, "saw \(records.count)")
            #expect(records.map(\.0) == Array(UInt64(1)...UInt64(max(records.count, 1))).prefix(records.count).map { $0 })
            reads += 1
        }
        #expect(writer.wait().status == 0)
        #expect(try LogFixture.readAll(dir).count == 3000)
    }
}

enum StoreLockProbe {
    static func isFree(_ path: String) -> Bool {
        guard let lock = try? StoreLock.tryAcquire(path) else { return false }
        lock.release()
        return true
    }
}
