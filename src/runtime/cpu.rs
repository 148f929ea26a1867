//! What this CPU can do that the engines choose by.

/// Which native bf16 instructions this CPU has, if any: AVX-512 BF16 (`avx512_bf16`: AMD Zen 4
/// and later, Intel Cooper Lake, Sapphire Rapids and later) or AMX (`amx_bf16`: Intel Sapphire
/// Rapids and later). Without either, libtorch emulates bf16 arithmetic and is slower than fp32.
pub fn native_bf16() -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512bf16") {
            return Some("avx512_bf16");
        }
        // Rust's detection of AMX is not stable yet: the kernel's CPU flags say it.
        let amx = std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|info| {
            info.lines()
                .filter(|line| line.starts_with("flags"))
                .any(|line| line.split_whitespace().any(|flag| flag == "amx_bf16"))
        });
        if amx {
            return Some("amx_bf16");
        }
    }
    None
}

/// Whether this CPU has AVX-512 (foundation): oneDNN then runs its AVX-512 kernels, whose
/// inner product over one row is slower than over four (`torch_bart`'s vocabulary projection
/// pads by it).
pub fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
