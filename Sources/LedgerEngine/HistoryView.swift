// The per-account history view: for every event, the state of each account it touched
// after it (balance, version, closed), chained per account. A one-account as-of query
// walks that chain from the account's last event back to the last one at or before the
// position asked for: O(log n) record reads, however long the history.
//
// One record per log position (PositionTable), two sides (a transfer's FROM is side 0,
// TO side 1; other events use side 0). Pointers are position << 1 | side.
//   side (40 bytes): i64 balance, u64 prev, u64 jump, u32 version, u32 jumpVersion,
//                    u32 nameHash, u8 flags (bit 0 present, bit 1 closed), 3 bytes zero
//   record payload: side 0, side 1 (80 bytes; an absent side is all zero)
// `prev` is the account's previous node (0 for its AccountOpened). `jump` is a skew-binary
// jump pointer (Myers, "An applicative random-access stack", 1983): the node's parent, or
// its parent's jump's jump when the two jumps before span equal distances, so that
// following jumps while they stay after the target, else prev, takes O(log n) steps.
// An opened account's node jumps to itself.

import LedgerDomain
import LedgerStorage

final class HistoryView {
    static let recordBytes = 84
    static let sideBytes = 40
    let table: PositionTable

    init(table: PositionTable) { self.table = table }

    struct Node: Equatable {
        var pointer: UInt64
        var balance: Int64
        var prev: UInt64
        var jump: UInt64
        var version: UInt32
        var jumpVersion: UInt32
        var nameHash: UInt32
        var closed: Bool
        var position: UInt64 { pointer >> 1 }
    }

    static func nameHash(_ name: String) -> UInt32 {
        var h: UInt32 = 0x811c_9dc5
        for b in name.utf8 { h = (h ^ UInt32(b)) &* 0x0100_0193 }
        return h
    }

    // MARK: Reading

    private func decode(_ payload: [UInt8], side: Int, position: UInt64) -> Node? {
        payload.withUnsafeBytes { raw in
            let p = raw.baseAddress! + side * Self.sideBytes
            guard p.load(fromByteOffset: 36, as: UInt8.self) & 1 != 0 else { return nil }
            return Node(pointer: position << 1 | UInt64(side), balance: Int64(bitPattern: LE.u64(p, 0)), prev: LE.u64(p, 8),
                        jump: LE.u64(p, 16), version: LE.u32(p, 24), jumpVersion: LE.u32(p, 28), nameHash: LE.u32(p, 32),
                        closed: p.load(fromByteOffset: 36, as: UInt8.self) & 2 != 0)
        }
    }

    /// The node `pointer` names, if it is there and belongs to the account hashed `nameHash`.
    func node(_ pointer: UInt64, nameHash: UInt32) throws -> Node? {
        guard pointer >> 1 >= 1, let payload = try table.read(pointer >> 1) else { return nil }
        guard let n = decode(payload, side: Int(pointer & 1), position: pointer >> 1), n.nameHash == nameHash else { return nil }
        return n
    }

    /// The node of account `name` at `position` (whichever side it is on).
    func node(at position: UInt64, name: String) throws -> Node? {
        let hash = Self.nameHash(name)
        guard position >= 1, let payload = try table.read(position) else { return nil }
        for side in 0..<2 {
            if let n = decode(payload, side: side, position: position), n.nameHash == hash { return n }
        }
        return nil
    }

    enum Lookup: Equatable {
        case node(Node)
        /// The account's first event is after the position.
        case notYetOpened
        /// The view cannot answer (a record missing or not this account's): ask the log.
        case unavailable
    }

    /// The node of account `name` for the last of its events at or before `position`, walking back
    /// from its event at `head`.
    func lookup(_ name: String, head: UInt64, atOrBefore position: UInt64) throws -> Lookup {
        let hash = Self.nameHash(name)
        guard var node = try self.node(at: head, name: name) else { return .unavailable }
        while node.position > position {
            if node.prev == 0 { return .notYetOpened }
            if node.jump != node.pointer, node.jumpVersion < node.version,
               let jumped = try self.node(node.jump, nameHash: hash), jumped.position > position {
                node = jumped
                continue
            }
            guard let previous = try self.node(node.prev, nameHash: hash), previous.position < node.position else { return .unavailable }
            node = previous
        }
        return .node(node)
    }

    // MARK: Writing

    /// One account's part in an event.
    struct Change {
        let name: String
        let side: Int
        let opened: Bool
        let closed: Bool
        let delta: Int64
    }

    static func changes(_ body: EventBody) -> [Change] {
        switch body {
        case .accountOpened(let a, _, _, _): return [Change(name: a.name, side: 0, opened: true, closed: false, delta: 0)]
        case .accountClosed(let a): return [Change(name: a.name, side: 0, opened: false, closed: true, delta: 0)]
        case .moneyDeposited(let a, let m): return [Change(name: a.name, side: 0, opened: false, closed: false, delta: m)]
        case .moneyWithdrawn(let a, let m): return [Change(name: a.name, side: 0, opened: false, closed: false, delta: 0 &- m)]
        case .moneyTransferred(let f, let t, let m):
            return [Change(name: f.name, side: 0, opened: false, closed: false, delta: 0 &- m),
                    Change(name: t.name, side: 1, opened: false, closed: false, delta: m)]
        case .moneyReversed(_, let f, let t, let m):
            var out: [Change] = []
            if let f { out.append(Change(name: f.name, side: 0, opened: false, closed: false, delta: 0 &- m)) }
            if let t { out.append(Change(name: t.name, side: 1, opened: false, closed: false, delta: m)) }
            return out
        }
    }

    static func changes(_ e: RawEvent) -> [Change] {
        func name(_ b: UnsafeRawBufferPointer) -> String { String(decoding: b, as: UTF8.self) }
        switch e.type {
        case .accountOpened: return [Change(name: name(e.account), side: 0, opened: true, closed: false, delta: 0)]
        case .accountClosed: return [Change(name: name(e.account), side: 0, opened: false, closed: true, delta: 0)]
        case .moneyDeposited: return [Change(name: name(e.account), side: 0, opened: false, closed: false, delta: e.amount)]
        case .moneyWithdrawn: return [Change(name: name(e.account), side: 0, opened: false, closed: false, delta: 0 &- e.amount)]
        case .moneyTransferred, .moneyReversed:
            var out: [Change] = []
            if !e.account.isEmpty { out.append(Change(name: name(e.account), side: 0, opened: false, closed: false, delta: 0 &- e.amount)) }
            if let other = e.other { out.append(Change(name: name(other), side: 1, opened: false, closed: false, delta: e.amount)) }
            return out
        }
    }

    /// Builds nodes for events in log order. Each account's newest node and its jump spine (the
    /// nodes reached by following jumps, O(log n) of them) stay in memory once it is touched;
    /// an account seen first is read back from the table, starting at its last position before
    /// (`head`, nil for an account the events open).
    final class Builder {
        private let view: HistoryView
        private let head: (String) throws -> UInt64?
        /// Per account: the spine, root first, newest last.
        private var spines: [String: [Node]] = [:]
        private var payload = [UInt8](repeating: 0, count: 80)

        init(_ view: HistoryView, head: @escaping (String) throws -> UInt64?) {
            self.view = view
            self.head = head
        }

        /// The spine of an account not yet in memory, read from the table.
        private func spine(of name: String) throws -> [Node]? {
            guard let position = try head(name), position >= 1 else { return nil }
            guard var node = try view.node(at: position, name: name) else {
                throw SlotTableError.damaged(path: view.table.path, reason: "no history record for '\(name)' at position \(position)")
            }
            var reversed = [node]
            while node.jump != node.pointer {
                guard let next = try view.node(node.jump, nameHash: node.nameHash), next.version < node.version else {
                    throw SlotTableError.damaged(path: view.table.path, reason: "broken history chain of '\(name)'")
                }
                reversed.append(next)
                node = next
            }
            return reversed.reversed()
        }

        /// Writes the record of the event at `position` from its changes.
        func add(_ changes: [Change], at position: UInt64) throws {
            for i in payload.indices { payload[i] = 0 }
            for c in changes {
                let pointer = position << 1 | UInt64(c.side)
                var node: Node
                var spine: [Node]
                if c.opened {
                    node = Node(pointer: pointer, balance: 0, prev: 0, jump: pointer, version: 1, jumpVersion: 1,
                                nameHash: HistoryView.nameHash(c.name), closed: false)
                    spine = [node]
                } else {
                    guard let s = try spines.removeValue(forKey: c.name) ?? self.spine(of: c.name), let parent = s.last else {
                        throw SlotTableError.damaged(path: view.table.path, reason: "event at position \(position) touches '\(c.name)' before its history starts")
                    }
                    spine = s
                    node = Node(pointer: pointer, balance: parent.balance &+ c.delta, prev: parent.pointer, jump: parent.pointer,
                                version: parent.version &+ 1, jumpVersion: parent.version, nameHash: parent.nameHash,
                                closed: parent.closed || c.closed)
                    let n = spine.count
                    if n >= 3, spine[n - 1].version - spine[n - 2].version == spine[n - 2].version - spine[n - 3].version {
                        node.jump = spine[n - 3].pointer
                        node.jumpVersion = spine[n - 3].version
                        spine.removeLast(2)
                    }
                    spine.append(node)
                }
                spines[c.name] = spine
                payload.withUnsafeMutableBytes { raw in
                    let p = raw.baseAddress! + c.side * HistoryView.sideBytes
                    LE.store(UInt64(bitPattern: node.balance), p, 0)
                    LE.store(node.prev, p, 8)
                    LE.store(node.jump, p, 16)
                    LE.store(node.version, p, 24)
                    LE.store(node.jumpVersion, p, 28)
                    LE.store(node.nameHash, p, 32)
                    p.storeBytes(of: UInt8(1 | (node.closed ? 2 : 0)), toByteOffset: 36, as: UInt8.self)
                }
            }
            try payload.withUnsafeBytes { try view.table.write(position, $0) }
        }
    }
}
