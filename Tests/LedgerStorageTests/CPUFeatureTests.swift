import Foundation
@testable import LedgerStorage
import Testing

/// The hardware kernels are chosen from the CPU's features as glibc detected them: the choice
/// agrees with the kernel's view of the CPU (/proc/cpuinfo), so a detection that silently says
/// "no" (and falls back to the slow kernels) fails here.
@Suite struct CPUFeatureTests {
    @Test func hardwareKernelsAreChosenExactlyWhenTheCPUHasThem() throws {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return }
        let flags = Set(line.split(separator: " ").map(String.init))
        #expect(CRC32C.hardwareAvailable == flags.contains("sse4_2"))
        #expect(SHA256.hardwareAvailable == (flags.contains("sha_ni") && flags.contains("ssse3") && flags.contains("sse4_1")))
    }
}
