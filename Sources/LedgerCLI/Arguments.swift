// Hand-written argument parsing: `--name value`, `--name=value`, flags, and `--`.
// Usage errors name the argument that was wrong.

import LedgerEngine

struct OptionSpec {
    let name: String
    let takesValue: Bool
}

struct Arguments {
    var positionals: [String] = []
    var values: [String: String] = [:]
    var flags: Set<String> = []

    func value(_ name: String) -> String? { values[name] }
    func has(_ name: String) -> Bool { flags.contains(name) }

    /// Parses `args` against the options a command accepts.
    static func parse(_ args: [String], options: [OptionSpec]) throws -> Arguments {
        var result = Arguments()
        var i = 0
        var onlyPositionals = false
        while i < args.count {
            let arg = args[i]
            i += 1
            if onlyPositionals || !arg.hasPrefix("-") || arg == "-" || Self.looksNumeric(arg) {
                result.positionals.append(arg)
                continue
            }
            if arg == "--" { onlyPositionals = true; continue }
            var name = arg
            var inline: String?
            if let eq = arg.firstIndex(of: "=") {
                name = String(arg[..<eq])
                inline = String(arg[arg.index(after: eq)...])
            }
            guard let spec = options.first(where: { $0.name == name }) else {
                throw LedgerError.usage("unknown option '\(name)' (see --help)")
            }
            if spec.takesValue {
                if let inline {
                    result.values[name] = inline
                } else {
                    guard i < args.count else { throw LedgerError.usage("option \(name) needs a value") }
                    result.values[name] = args[i]
                    i += 1
                }
            } else {
                if inline != nil { throw LedgerError.usage("option \(name) takes no value") }
                result.flags.insert(name)
            }
        }
        return result
    }

    /// "-5" or "-1.5" is a (bad) amount, not an option: let the amount parser say why.
    private static func looksNumeric(_ arg: String) -> Bool {
        let u = Array(arg.utf8)
        return u.count > 1 && u[0] == UInt8(ascii: "-") && u[1] >= UInt8(ascii: "0") && u[1] <= UInt8(ascii: "9")
    }

    func expectPositionals(_ range: ClosedRange<Int>, usage: String) throws {
        guard range.contains(positionals.count) else {
            if positionals.count > range.upperBound {
                throw LedgerError.usage("unexpected argument '\(positionals[range.upperBound])'; usage: \(usage)")
            }
            throw LedgerError.usage("missing argument; usage: \(usage)")
        }
    }

    func integer(_ name: String, _ range: ClosedRange<Int64>) throws -> Int64? {
        guard let text = values[name] else { return nil }
        guard let v = Int64(text), range.contains(v) else {
            throw LedgerError.usage("\(name) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return v
    }
}
