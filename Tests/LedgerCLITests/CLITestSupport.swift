import Foundation
import LedgerTestSupport
import Testing

/// A store directory plus a way to run `ledger` against it.
final class CLIStore {
    let dir = TemporaryDirectory("ledger-cli")
    var environment: [String: String] = [:]

    @discardableResult
    func run(_ args: String..., stdin: String? = nil) throws -> Executables.Result {
        try runArgs(args, stdin: stdin)
    }

    func runArgs(_ args: [String], stdin: String? = nil) throws -> Executables.Result {
        try Executables.run("ledger", ["--dir", dir.path] + args, environment: environment, stdin: stdin)
    }

    /// Runs with --json and parses stdout as one JSON object.
    func json(_ args: String...) throws -> [String: Any] {
        let r = try runArgs(["--json"] + args)
        #expect(r.status == 0, "\(args): \(r.stderr)")
        return try CLIStore.object(r.stdout)
    }

    /// Runs with --json, expects failure with `exit` and error `code`; returns the message.
    @discardableResult
    func fails(_ exit: Int32, _ code: String, _ args: String...) throws -> String {
        let before = try eventCount()
        let r = try runArgs(["--json"] + args)
        #expect(r.status == exit, "\(args): stdout \(r.stdout) stderr \(r.stderr)")
        #expect(r.stdout.isEmpty, "\(args) printed \(r.stdout)")
        let error = try CLIStore.object(r.stderr)["error"] as? [String: Any]
        #expect(error?["code"] as? String == code, "\(args): \(r.stderr)")
        let message = error?["message"] as? String ?? ""
        #expect(!message.isEmpty && !message.contains("\n"))
        // A rejected command appends nothing.
        #expect(try eventCount() == before, "\(args) appended")
        return message
    }

    func eventCount() throws -> Int {
        let r = try runArgs(["--json", "info"])
        guard r.status == 0, let events = try CLIStore.object(r.stdout)["events"] as? Int else { return -1 }
        return events
    }

    static func object(_ text: String) throws -> [String: Any] {
        guard let o = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw CLIError.notAnObject(text)
        }
        return o
    }

    static func lines(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { try object(String($0)) }
    }

    enum CLIError: Error { case notAnObject(String) }
}
