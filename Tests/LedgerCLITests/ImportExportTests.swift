import Foundation
import LedgerTestSupport
import Testing

@Suite struct ImportExportTests {
    /// n lines: 10 opens, then deposits (ids dep-i) and transfers, in time order.
    func lines(_ n: Int) -> [String] {
        var out: [String] = []
        for i in 0..<10 { out.append("{\"op\":\"open\",\"account\":\"a\(i)\",\"at\":\"2020-01-01T00:00:0\(i)Z\"}") }
        for i in 10..<n {
            let t = "2020-01-02T00:00:00.\(String(format: "%06d", i))Z"
            if i % 4 == 3 {
                out.append("{\"op\":\"transfer\",\"from\":\"a\((i - 1) % 10)\",\"to\":\"a\(i % 10)\",\"amount\":\"0.01\",\"at\":\"\(t)\"}")
            } else {
                out.append("{\"op\":\"deposit\",\"account\":\"a\(i % 10)\",\"amount\":\"1.\(i % 100 < 10 ? "0" : "")\(i % 100)\",\"at\":\"\(t)\",\"id\":\"dep-\(i)\"}")
            }
        }
        return out
    }

    @Test func importIsAllOrNothingAndNamesTheBadLine() throws {
        let s = CLIStore()
        var input = lines(10_000)
        input[5_000] = "{\"op\":\"withdraw\",\"account\":\"a3\",\"amount\":\"1000000.00\",\"at\":\"2020-01-02T00:00:00.005000Z\"}"
        let r = try s.run("--json", "import", "-", stdin: input.joined(separator: "\n") + "\n")
        #expect(r.status == 1)
        let error = try CLIStore.object(r.stderr)["error"] as? [String: Any]
        #expect(error?["code"] as? String == "insufficient_funds")
        #expect((error?["message"] as? String)?.hasPrefix("line 5001:") == true)
        #expect(r.stdout.isEmpty)
        #expect(try s.eventCount() == 0)
    }

    /// Every file of the store's log directory, by name, with its bytes.
    func logFiles(_ s: CLIStore) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: s.dir.logDirectory) {
            out[name] = try Data(contentsOf: URL(fileURLWithPath: s.dir.logDirectory + "/" + name))
        }
        return out
    }

    /// A bad line after several full batches, which are written to the log's files by then
    /// (staged, without their commit records; 2 MiB segments: some staged in the last
    /// segment, some in new ones): the log's files are byte for byte what they were.
    @Test func aRejectedImportLeavesTheLogByteForByte() throws {
        let s = CLIStore()
        #expect(try s.run("config", "segment_bytes", "2097152").status == 0)
        let all = lines(60_000)
        #expect(try s.run("import", "-", stdin: all[..<15_000].joined(separator: "\n")).status == 0)
        let before = try logFiles(s)
        var rest = Array(all[15_000...])
        rest[40_000] = "{\"op\":\"withdraw\",\"account\":\"a3\",\"amount\":\"1000000.00\",\"at\":\"2021-01-01T00:00:00Z\"}"
        let r = try s.run("import", "-", stdin: rest.joined(separator: "\n"))
        #expect(r.status == 1)
        #expect(r.stderr.contains("line 40001:") && r.stderr.contains("insufficient"), "\(r.stderr)")
        #expect(try logFiles(s) == before)
        let verify = try s.run("verify")
        #expect(verify.status == 0 && !verify.stderr.contains("note"), "\(verify.stdout) \(verify.stderr)")
        #expect(try s.eventCount() == 15_000)
    }

    /// The disk fills while batches are staged (a file size limit: EFBIG, counted as no space):
    /// exit 5, and the log's files are byte for byte what they were (what was staged cut off,
    /// no staging file left); the history view, which reached the limit first, is not trusted
    /// after it. The same import then runs to the end.
    @Test func anImportStoppedByAFullDiskIsExitFiveAndAppendsNothing() throws {
        let s = CLIStore()
        let all = lines(40_000)
        #expect(try s.run("import", "-", stdin: all[..<5_000].joined(separator: "\n")).status == 0)
        let before = try logFiles(s)
        let input = s.dir.path + "/rest.ndjson"
        try Data(all[5_000...].joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: input))
        // 1 MiB more than the segment holds: reached after about 15 000 of the 35 000 lines (68
        // bytes a record), after several batches were staged; the history view (84 bytes a
        // record, from about as large a file) reaches it first.
        let segment = s.dir.logDirectory + "/00000000000000000001.seg"
        let blocks = (FileDamage.size(segment) + (1 << 20)) / 1024
        let r = try Executables.run("/bin/sh", ["-c", "ulimit -f \(blocks); exec \"$L\" --dir \"$D\" --json import \"$I\""],
                                    environment: ["L": Executables.directory + "/ledger", "D": s.dir.path, "I": input])
        #expect(r.status == 5, "\(r.stderr)")
        #expect(r.stderr.contains("\"code\":\"no_space\""), "\(r.stderr)")
        #expect(r.stdout.isEmpty, "no batch was acknowledged: \(r.stdout)")
        #expect(try logFiles(s) == before)
        #expect(try s.eventCount() == 5_000)
        #expect(try s.run("verify").status == 0)
        let again = try s.run("import", input)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try s.eventCount() == 40_000)
        #expect(try s.run("verify").status == 0)
    }

    @Test func anIDRepeatedWithinOneImportIsADuplicateOrAConflict() throws {
        let s = CLIStore()
        var input = lines(12_000)
        // The same line again, two batches later: its first copy is already staged, not committed.
        input.append(input[20])
        let r = try s.run("--json", "import", "-", stdin: input.joined(separator: "\n"))
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try #require(try CLIStore.lines(r.stdout).last)
        #expect(summary["duplicates"] as? Int == 1 && summary["imported"] as? Int == 12_000)
        // Same id, different amount: id_conflict naming the line; nothing appended.
        let t = CLIStore()
        var conflicting = lines(12_000)
        conflicting.append(conflicting[20].replacingOccurrences(of: "\"amount\":\"1.20\"", with: "\"amount\":\"9.99\""))
        #expect(conflicting.last != conflicting[20])
        let c = try t.run("--json", "import", "-", stdin: conflicting.joined(separator: "\n"))
        #expect(c.status == 1)
        let error = try CLIStore.object(c.stderr)["error"] as? [String: Any]
        #expect(error?["code"] as? String == "id_conflict")
        #expect((error?["message"] as? String)?.hasPrefix("line 12001:") == true)
        #expect(try t.eventCount() == 0)
    }

    @Test func aBadLineInALaterChunkOrAnOverlongLineAppendsNothing() throws {
        let s = CLIStore()
        var input = lines(9_000)
        input[8_500] = "{\"op\":\"deposit\",\"account\":\"a1\",\"amount\":12}"
        let r = try s.run("import", "-", stdin: input.joined(separator: "\n"))
        #expect(r.status == 2)
        #expect(r.stderr.contains("line 8501:") && r.stderr.contains("must be a string"), "\(r.stderr)")
        #expect(try s.eventCount() == 0)
        var long = lines(100)
        long[50] = "{\"op\":\"open\",\"account\":\"x\",\"memo\":\"" + String(repeating: "m", count: 1 << 20) + "\"}"
        let l = try s.run("import", "-", stdin: long.joined(separator: "\n"))
        #expect(l.status == 2)
        #expect(l.stderr.contains("line 51: longer than"), "\(l.stderr.prefix(300))")
        #expect(try s.eventCount() == 0)
    }

    @Test func continueOnErrorSkipsBadLinesButStopsOnDamage() throws {
        let s = CLIStore()
        try s.json("open", "zzvictimzz")
        try s.json("deposit", "zzvictimzz", "5")
        try s.json("deposit", "zzvictimzz", "7")   // the damaged record is not the last: the store opens
        try s.json("snapshot")   // views durable through the head: opening the store reads no event
        // Flip a bit in the first deposit's account name (the second time the name is on disk).
        let segment = s.dir.path + "/log/00000000000000000001.seg"
        let bytes = FileDamage.read(segment)
        let name = Array("zzvictimzz".utf8)
        let hits = (0...(bytes.count - name.count)).filter { Array(bytes[$0..<($0 + name.count)]) == name }
        #expect(hits.count == 3)
        FileDamage.flipBit(segment, offset: hits[1] + 3)
        let r = try s.run("import", "--continue-on-error", "-",
                          stdin: "{\"op\":\"reverse\",\"position\":2}\n{\"op\":\"deposit\",\"account\":\"zzvictimzz\",\"amount\":\"1\"}")
        // The damaged record is not a bad line: the import stops (exit 4) and appends nothing.
        #expect(r.status == 4, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("position 2"), "\(r.stderr)")
        #expect(FileDamage.size(segment) == bytes.count)
    }

    @Test func bigImportCommitsInAcknowledgedBatches() throws {
        let s = CLIStore()
        let r = try s.run("--json", "import", "-", stdin: lines(25_000).joined(separator: "\n"))
        #expect(r.status == 0, "\(r.stderr)")
        let out = try CLIStore.lines(r.stdout)
        let acks = out.filter { $0["committed_through_line"] != nil }
        #expect(acks.map { $0["position"] as? Int } == [10_000, 20_000, 25_000])
        #expect(acks.last?["committed_through_line"] as? Int == 25_000)
        #expect(out.last?["imported"] as? Int == 25_000)
        #expect(try s.eventCount() == 25_000)
        #expect(try s.run("verify").status == 0)
    }

    @Test func rerunningAnInterruptedImportAppliesOnlyWhatIsMissing() throws {
        let s = CLIStore()
        let all = lines(300).filter { !$0.contains("transfer") }
        try s.run("import", "-", stdin: all.prefix(120).joined(separator: "\n"))
        #expect(try s.eventCount() == 120)
        let r = try s.run("--json", "import", "-", stdin: all.joined(separator: "\n"))
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try CLIStore.lines(r.stdout).last
        #expect(summary?["duplicates"] as? Int == 120)
        #expect(summary?["imported"] as? Int == all.count - 120)
        #expect(try s.eventCount() == all.count)
        // An id the store already holds (found in its ids view), reused for another amount: id_conflict.
        let reused = all[150].replacingOccurrences(of: "\"amount\":\"1.", with: "\"amount\":\"7.")
        #expect(reused != all[150])
        let c = try s.run("--json", "import", "-", stdin: reused + "\n")
        #expect(c.status == 1)
        let error = try CLIStore.object(c.stderr)["error"] as? [String: Any]
        #expect(error?["code"] as? String == "id_conflict")
        #expect((error?["message"] as? String)?.hasPrefix("line 1:") == true)
        #expect(try s.eventCount() == all.count)
    }

    @Test func continueOnErrorAppliesTheGoodLines() throws {
        let s = CLIStore()
        let input = [
            "{\"op\":\"open\",\"account\":\"a\"}",
            "{\"op\":\"withdraw\",\"account\":\"a\",\"amount\":\"5.00\"}",
            "{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"7.00\"}",
            "{\"op\":\"deposit\",\"account\":\"nobody\",\"amount\":\"1.00\"}",
            "not json",
            "{\"op\":\"withdraw\",\"account\":\"a\",\"amount\":\"5.00\"}",
        ]
        let r = try s.run("--json", "import", "--continue-on-error", "-", stdin: input.joined(separator: "\n"))
        #expect(r.status == 1)
        let out = try CLIStore.lines(r.stdout)
        let rejected = out.filter { $0["line"] != nil }
        #expect(rejected.map { $0["line"] as? Int } == [2, 4, 5])
        #expect(rejected.map { ($0["error"] as? [String: Any])?["code"] as? String } == ["insufficient_funds", "unknown_account", "usage"])
        #expect(out.last?["imported"] as? Int == 3)
        #expect(try s.json("balance", "a")["accounts"].flatMap { ($0 as? [[String: Any]])?.first?["balance"] as? String } == "2.00")
    }

    @Test(arguments: [
        ("{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"1.00\"", "line ends early"),
        ("{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"1.00\",\"memo\":\"x\\q\"}", "bad escape"),
        ("{\"op\":\"deposit\",\"account\":\"a\",\"amount\":1.5}", "must be a string"),
        ("{\"op\":\"deposit\",\"account\":\"a\"}", "needs 'amount'"),
        ("{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"1\",\"color\":\"red\"}", "unknown field 'color'"),
        ("{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"1\",\"amount\":\"2\"}", "duplicate field 'amount'"),
        ("{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"123456789012345678901234567890\"}", "too large"),
        ("{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"1\"} x", "trailing characters"),
        ("[1,2]", "expected '{'"),
        ("{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"1\",\"memo\":\"\\ud800\"}", "surrogate"),
        ("{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"1\",\"to\":\"b\"}", "does not apply"),
        ("{\"op\":\"explode\",\"account\":\"a\"}", "unknown op"),
        ("{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"1\",\"at\":\"yesterday\"}", "bad time"),
    ])
    func malformedLinesAreClearUsageErrors(line: String, reason: String) throws {
        let s = CLIStore()
        try s.json("open", "a")
        let r = try s.run("--json", "import", "-", stdin: "{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"1\"}\n" + line + "\n")
        #expect(r.status == 2, "\(line): \(r.stderr)")
        let message = (try CLIStore.object(r.stderr)["error"] as? [String: Any])?["message"] as? String ?? ""
        #expect(message.hasPrefix("line 2:"), "\(message)")
        #expect(message.contains(reason), "\(message)")
        #expect(try s.eventCount() == 1)
    }

    @Test func nonUTF8IsRejected() throws {
        let s = CLIStore()
        try s.json("open", "a")
        let path = s.dir.path + "/bad.ndjson"
        FileDamage.write(Array("{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"1\",\"memo\":\"".utf8) + [0xC3, 0x28] + Array("\"}\n".utf8), path)
        let r = try s.run("import", path)
        #expect(r.status == 2)
        #expect(r.stderr.contains("UTF-8"))
    }

    @Test func escapedStringsSurviveImportAndExport() throws {
        let s = CLIStore()
        let input = "{\"op\":\"open\",\"account\":\"a\"}\n{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"1\",\"memo\":\"tab\\there \\\"q\\\" \\u00e9\\ud83d\\ude00 \\/\"}\n"
        #expect(try s.run("import", "-", stdin: input).status == 0)
        let log = try CLIStore.lines(try s.run("log").stdout)
        #expect(log[1]["memo"] as? String == "tab\there \"q\" é😀 /")
    }

    @Test func csvImportWithQuoting() throws {
        let s = CLIStore()
        let csv = [
            "op,account,from,to,amount,at,id,memo",
            "open,a,,,,2024-01-01T00:00:00Z,,",
            "open,b,,,,2024-01-01T00:00:01Z,,",
            "deposit,a,,,10.00,2024-01-02T00:00:00Z,d1,\"rent, \"\"March\"\"\"",
            "transfer,,a,b,2.50,2024-01-03T00:00:00Z,t1,",
        ].joined(separator: "\r\n")
        let path = s.dir.path + "/ops.csv"
        try FileManager.default.createDirectory(atPath: s.dir.path, withIntermediateDirectories: true)
        FileDamage.write(Array(csv.utf8), path)
        let r = try s.run("import", path)
        #expect(r.status == 0, "\(r.stderr)")
        let log = try CLIStore.lines(try s.run("log").stdout)
        #expect(log[2]["memo"] as? String == "rent, \"March\"")
        #expect(try s.json("balance", "b")["accounts"].flatMap { ($0 as? [[String: Any]])?.first?["balance"] as? String } == "2.50")
        let bad = try s.run("import", "--format", "csv", "-", stdin: "op,account,amount\ndeposit,a,\"1\n")
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("line 2"))
        // CSV export → import gives the same log.
        let exported = try s.run("export", "--format", "csv").stdout
        let t = CLIStore()
        #expect(try t.run("import", "--format", "csv", "-", stdin: exported).status == 0)
        #expect(try t.run("log").stdout == s.run("log").stdout)
    }

    @Test func csvExportQuotesFieldsByTheirBytes() throws {
        // A quote with a combining mark after it is one Character: judged by Characters it went
        // out unquoted and broke the row. By bytes it is quoted (memos hold no CR or LF).
        let s = CLIStore()
        let input = ["{\"op\":\"open\",\"account\":\"a\"}",
                     "{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"1\",\"memo\":\"q\\\"\u{301}x\"}",
                     "{\"op\":\"deposit\",\"account\":\"a\",\"amount\":\"1\",\"memo\":\"comma, \\\"quote\\\"\"}"]
        let imported = try s.run("import", "-", stdin: input.joined(separator: "\n"))
        #expect(imported.status == 0, "\(imported.stderr)")
        let exported = try s.run("export", "--format", "csv").stdout
        #expect(exported.contains("\"q\"\"\u{301}x\""))
        let t = CLIStore()
        let r = try t.run("import", "--format", "csv", "-", stdin: exported)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try t.run("log").stdout == s.run("log").stdout)
    }

    @Test func journalShowsEveryKindOfEvent() throws {
        // The exact text, for opens, closes, deposits, withdrawals, transfers and a reversal of
        // each money event (written straight into the output, byte by byte).
        let s = CLIStore()
        let lines = [
            #"{"op":"open","account":"a","at":"2024-03-01T09:00:00Z"}"#,
            #"{"op":"open","account":"b","currency":"EUR","at":"2024-03-01T09:00:01Z"}"#,
            #"{"op":"open","account":"c","at":"2024-03-01T09:00:02Z"}"#,
            #"{"op":"deposit","account":"a","amount":"5","id":"d1","memo":"pay day","at":"2024-03-02T10:00:00.5Z"}"#,
            #"{"op":"withdraw","account":"a","amount":"1","at":"2024-03-03T00:00:00Z"}"#,
            #"{"op":"transfer","from":"a","to":"c","amount":"2","at":"2024-03-04T00:00:00Z"}"#,
            #"{"op":"reverse","position":5,"at":"2024-03-05T00:00:00Z"}"#,
            #"{"op":"reverse","position":6,"at":"2024-03-05T00:00:01Z"}"#,
            #"{"op":"reverse","position":4,"memo":"oops","at":"2024-03-05T00:00:02Z"}"#,
            #"{"op":"close","account":"c","at":"2024-03-06T00:00:00Z"}"#,
        ]
        let r = try s.run("import", "-", stdin: lines.joined(separator: "\n"))
        #expect(r.status == 0, "\(r.stderr)")
        let journal = try s.run("export", "--format", "journal").stdout
        let expected = """
            ; ledger export --format journal: one transaction per event; accounts are assets:NAME,
            ; money from outside is equity:deposits, money leaving is equity:withdrawals.
            ; 2024-03-01 opened assets:a (USD)
            ; 2024-03-01 opened assets:b (EUR)
            ; 2024-03-01 opened assets:c (USD)
            2024-03-02 pay day  ; position:4, time:2024-03-02T10:00:00.500000Z, id:d1
                assets:a  5.00 USD
                equity:deposits  -5.00 USD

            2024-03-03 MoneyWithdrawn  ; position:5, time:2024-03-03T00:00:00.000000Z
                equity:withdrawals  1.00 USD
                assets:a  -1.00 USD

            2024-03-04 MoneyTransferred  ; position:6, time:2024-03-04T00:00:00.000000Z
                assets:c  2.00 USD
                assets:a  -2.00 USD

            2024-03-05 MoneyReversed  ; position:7, time:2024-03-05T00:00:00.000000Z
                assets:a  1.00 USD
                equity:withdrawals  -1.00 USD

            2024-03-05 MoneyReversed  ; position:8, time:2024-03-05T00:00:01.000000Z
                assets:a  2.00 USD
                assets:c  -2.00 USD

            2024-03-05 oops  ; position:9, time:2024-03-05T00:00:02.000000Z
                equity:deposits  5.00 USD
                assets:a  -5.00 USD

            ; 2024-03-06 closed assets:c

            """
        #expect(journal == expected)
    }

    @Test func exportImportRoundTripKeepsEventsBalancesAndAsOf() throws {
        let s = CLIStore()
        #expect(try s.run("import", "-", stdin: lines(600).joined(separator: "\n")).status == 0)
        try s.json("open", "yen", "--currency", "JPY", "--scale", "0", "--overdraft", "100")
        try s.json("withdraw", "yen", "50", "--memo", "a \"quoted\", memo")
        try s.json("open", "z", "--at", "2030-01-01T00:00:00Z")
        try s.json("close", "z", "--id", "close-z")
        let exported = try s.run("export").stdout
        let t = CLIStore()
        let r = try t.run("import", "-", stdin: exported)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try t.run("log").stdout == s.run("log").stdout)
        #expect(try t.json("balance")["accounts"] as? NSArray == s.json("balance")["accounts"] as? NSArray)
        #expect(try t.eventCount() == s.eventCount())
        for position in ["1", "10", "250", "600"] {
            #expect(try t.json("balance", "--at-position", position)["accounts"] as? NSArray == s.json("balance", "--at-position", position)["accounts"] as? NSArray)
        }
    }

    @Test func journalExportBalancesInHledger() throws {
        let hledger = ["/usr/bin/hledger", "/usr/local/bin/hledger"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let s = CLIStore()
        #expect(try s.run("import", "-", stdin: lines(200).joined(separator: "\n")).status == 0)
        let journal = try s.run("export", "--format", "journal").stdout
        #expect(journal.contains("assets:a1"))
        guard let hledger else {
            // .ci/run installs hledger; without it only the text is checked.
            return
        }
        let path = s.dir.path + "/books.journal"
        FileDamage.write(Array(journal.utf8), path)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: hledger)
        p.arguments = ["-f", path, "balance", "--flat", "--no-total", "-O", "csv", "assets"]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let balances = (try s.json("balance")["accounts"] as? [[String: Any]]) ?? []
        for a in balances {
            let name = a["account"] as? String ?? ""
            let balance = a["balance"] as? String ?? ""
            #expect(out.contains("\"assets:\(name)\",\"\(balance) USD\"") || (balance == "0.00" && !out.contains("assets:\(name)\"")), "\(name) \(balance) in \(out)")
        }
    }
}
