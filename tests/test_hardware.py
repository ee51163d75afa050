"""The hardware tag names the CPU's widest vector instructions, which set CPU training speed."""

from fer_lab.tracking.hardware import cpu_description

INTEL = (
    "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16\n"
)
AMD = "processor\t: 0\nmodel name\t: AMD EPYC 9B14\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n"
OLD = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\nflags\t\t: fpu sse2 avx avx2 fma\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes\nCPU part\t: 0xd0c\n"


def test_cpu_description_names_model_and_widest_vector_instructions():
    assert cpu_description(INTEL).endswith("CPU cores (Intel(R) Xeon(R) Processor; AMX-BF16)")
    assert cpu_description(AMD).endswith("CPU cores (AMD EPYC 9B14; AVX-512)")
    assert cpu_description(OLD).endswith("CPU cores (Intel(R) Xeon(R) CPU @ 2.20GHz; AVX2)")
    assert cpu_description(ARM).endswith("; NEON)")


def test_cpu_description_of_this_machine_counts_usable_cores():
    assert cpu_description().split()[0].isdigit() and "CPU cores (" in cpu_description()
