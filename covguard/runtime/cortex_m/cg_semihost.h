/*
 * cg_semihost.h - ARM semihosting calls for covguard's Cortex-M runtime.
 *
 * A semihosting call is a BKPT 0xAB with the operation in r0 and its argument in r1; the
 * debugger or emulator (here QEMU, -semihosting-config enable=on,target=native) performs it on
 * the host and returns the result in r0.  Only the calls covguard needs are named here.
 */
#ifndef CG_SEMIHOST_H
#define CG_SEMIHOST_H

#define CG_SH_OPEN 0x01u
#define CG_SH_CLOSE 0x02u
#define CG_SH_WRITE0 0x04u
#define CG_SH_WRITE 0x05u
#define CG_SH_CLOCK 0x10u
#define CG_SH_GET_CMDLINE 0x15u
#define CG_SH_EXIT 0x18u
#define CG_SH_EXIT_EXTENDED 0x20u

#define CG_SH_OPEN_WB 5u /* fopen mode "wb" */
#define CG_SH_STOPPED_APPLICATION_EXIT 0x20026u
#define CG_SH_STOPPED_RUNTIME_ERROR 0x20023u

/* exit status of a test image stopped by a fault handler (covguard names it a fault) */
#define CG_TARGET_FAULT_STATUS 250

static inline int cg_semihost(unsigned op, const void *arg)
{
    register unsigned r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (int)r0;
}

/* Stop the image with an exit status (QEMU exits with it); never returns. */
static inline void __attribute__((noreturn)) cg_semihost_exit(int status)
{
    unsigned block[2];
    block[0] = CG_SH_STOPPED_APPLICATION_EXIT;
    block[1] = (unsigned)status;
    cg_semihost(CG_SH_EXIT_EXTENDED, block);
    /* a host without SYS_EXIT_EXTENDED: plain exit (status 0 or 1 only) */
    cg_semihost(CG_SH_EXIT, (const void *)(status == 0 ? CG_SH_STOPPED_APPLICATION_EXIT
                                                         : CG_SH_STOPPED_RUNTIME_ERROR));
    for (;;) {
    }
}

#endif /* CG_SEMIHOST_H */
