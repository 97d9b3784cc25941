// Where each file of a store lives. Nothing else in the engine builds a path.

import LedgerStorage

public struct StoreLayout: Sendable {
    public let root: String

    public init(root: String) {
        var r = root
        while r.count > 1 && r.hasSuffix("/") { r.removeLast() }
        self.root = r
    }

    public var logDirectory: String { root + "/log" }
    public var lockPath: String { root + "/LOCK" }
    public var configPath: String { root + "/config" }
    public var snapshotDirectory: String { root + "/snapshots" }
    public var viewDirectory: String { root + "/views" }

    /// `--dir` wins, then `$LEDGER_DIR`, then `~/.ledger`.
    public static func resolve(flag: String?, environment: [String: String]) -> StoreLayout {
        if let flag, !flag.isEmpty { return StoreLayout(root: flag) }
        if let env = environment["LEDGER_DIR"], !env.isEmpty { return StoreLayout(root: env) }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "."
        return StoreLayout(root: home + "/.ledger")
    }
}
