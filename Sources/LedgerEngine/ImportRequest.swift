// One import line's fields → the command it asks for. Usage errors name the field.

import LedgerDomain

struct ImportRequest {
    let command: Command
    let options: CommandOptions
    let at: Timestamp?

    private static func mask(_ names: [String]) -> UInt32 {
        names.reduce(0) { $0 | 1 << UInt32(ImportLine.fields.firstIndex(of: $1)!) }
    }
    private static let common = mask(["op", "at", "id", "memo"])
    private static let openFields = common | mask(["account", "currency", "scale", "overdraft"])
    private static let closeFields = common | mask(["account"])
    private static let moneyFields = common | mask(["account", "amount"])
    private static let transferFields = common | mask(["from", "to", "amount"])
    private static let reverseFields = common | mask(["position"])

    /// The fields (a mask by ImportLine.fields index) line of `op` may carry; nil for an unknown op.
    private static func allowed(_ op: String) -> UInt32? {
        switch op {
        case "open": return openFields
        case "close": return closeFields
        case "deposit", "withdraw": return moneyFields
        case "transfer": return transferFields
        case "reverse": return reverseFields
        default: return nil
        }
    }

    init(_ line: ImportLine, config: StoreConfig) throws {
        func need(_ value: String?, _ field: String, _ op: String) throws -> String {
            guard let value, !value.isEmpty else { throw LedgerError.usage("\(op) needs '\(field)'") }
            return value
        }
        func account(_ text: String) throws -> AccountID {
            do { return try AccountID(validating: text) } catch let e as DomainError { throw LedgerError.usage(e.description) }
        }
        func amount(_ text: String) throws -> DecimalText {
            do {
                let d = try DecimalText.parse(text)
                guard d.units > 0 else { throw LedgerError.usage("bad amount '\(text)': must be greater than zero") }
                return d
            } catch DecimalText.ParseError.invalid(let m) { throw LedgerError.usage(m) }
        }
        func checkText(_ value: String?, _ name: String) throws {
            if let value, value.isEmpty || value.utf8.count > EventMetadata.textBytesMax
                || value.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 }) {
                throw LedgerError.usage("'\(name)' must be 1-\(EventMetadata.textBytesMax) bytes without control characters")
            }
        }
        let op = try need(line.op, "op", "a line")
        guard let allowed = Self.allowed(op) else {
            throw LedgerError.usage("unknown op '\(op)' (open, close, deposit, withdraw, transfer, reverse)")
        }
        let extra = line.presentFields & ~allowed
        if extra != 0 {
            throw LedgerError.usage("field '\(ImportLine.fields[extra.trailingZeroBitCount])' does not apply to \(op)")
        }
        try checkText(line.id, "id")
        try checkText(line.memo, "memo")
        var options = CommandOptions()
        options.metadata.id = line.id
        options.metadata.memo = line.memo
        do { at = try line.at.map { try Timestamp.parse($0, dateIsEndOfDay: false) } } catch Timestamp.ParseError.invalid(let m) {
            throw LedgerError.usage("at: \(m)")
        }
        switch op {
        case "open":
            let currency: Currency
            do { currency = try Currency(validating: line.currency ?? config.defaultCurrency) } catch let e as DomainError { throw LedgerError.usage(e.description) }
            guard let scale = Int(line.scale ?? String(config.defaultScale)), (0...Decide.scaleMax).contains(scale) else {
                throw LedgerError.usage("scale must be an integer 0...\(Decide.scaleMax)")
            }
            let overdraft: DecimalText?
            do { overdraft = try line.overdraft.map(DecimalText.parse) } catch DecimalText.ParseError.invalid(let m) { throw LedgerError.usage("overdraft: \(m)") }
            command = .open(account: try account(need(line.account, "account", op)), currency: currency, scale: scale, overdraft: overdraft)
        case "close":
            command = .close(account: try account(need(line.account, "account", op)))
        case "deposit", "withdraw":
            let a = try account(need(line.account, "account", op)), m = try amount(need(line.amount, "amount", op))
            command = op == "deposit" ? .deposit(account: a, amount: m) : .withdraw(account: a, amount: m)
        case "transfer":
            let from = try account(need(line.from, "from", op)), to = try account(need(line.to, "to", op))
            guard from != to else { throw LedgerError.usage("from and to must be different accounts") }
            command = .transfer(from: from, to: to, amount: try amount(need(line.amount, "amount", op)))
        default: // reverse
            guard let p = UInt64(try need(line.position, "position", op)), p >= 1 else { throw LedgerError.usage("position must be a positive integer") }
            command = .reverse(position: p)
        }
        self.options = options
    }
}
