/*
 * cg_startup.c - start-up of covguard's Cortex-M test images (Armv7-M, e.g. QEMU mps2-an385).
 *
 * newlib's rdimon start-up (_start, from --specs=rdimon.specs) sets up the C run-time and calls
 * main(), but it has no vector table, and a Cortex-M core without one at address 0 locks up at
 * reset.  This file supplies the 16 system vectors: the initial stack pointer, reset (newlib's
 * _start) and a handler for every fault.  covguard links the table at address 0
 * (-Wl,--section-start=isr_vector=0).
 *
 * A fault inside a test (a bad pointer, an undefined instruction, a divide by zero trap) must
 * not look like a hang: the handler prints the fault and its registers as a covguard protocol
 * error line through semihosting and stops the image with exit status CG_TARGET_FAULT_STATUS,
 * which covguard reports as a fault of the test that was running.
 */
#include "cg_semihost.h"

extern void _start(void);
extern void cg_target_flush(void); /* cg_platform.c: pending console output */

#ifndef CG_STACK_BYTES
#define CG_STACK_BYTES 16384
#endif

/* the stack the core starts on (newlib's _start moves it to the top of RAM it is told about) */
static unsigned long long cg_stack[CG_STACK_BYTES / sizeof(unsigned long long)];

void cg_fault_handler(void);
const char *cg_platform_nonce(void); /* cg_platform.c */

/* a vector is the initial stack pointer (entry 0) or a handler */
typedef union {
    void *stack;
    void (*handler)(void);
} cg_vector;

#define CG_HANDLER(fn) {.handler = (fn)}
#define CG_RESERVED {.handler = 0}

__attribute__((used, section("isr_vector"))) const cg_vector cg_vectors[16] = {
    {.stack = &cg_stack[sizeof cg_stack / sizeof cg_stack[0]]}, /* initial SP */
    CG_HANDLER(_start),                                         /* reset: newlib's start-up */
    CG_HANDLER(cg_fault_handler),                               /* NMI */
    CG_HANDLER(cg_fault_handler),                               /* HardFault */
    CG_HANDLER(cg_fault_handler),                               /* MemManage */
    CG_HANDLER(cg_fault_handler),                               /* BusFault */
    CG_HANDLER(cg_fault_handler),                               /* UsageFault */
    CG_RESERVED,
    CG_RESERVED,
    CG_RESERVED,
    CG_RESERVED,
    CG_HANDLER(cg_fault_handler), /* SVCall */
    CG_HANDLER(cg_fault_handler), /* DebugMonitor */
    CG_RESERVED,
    CG_HANDLER(cg_fault_handler), /* PendSV */
    CG_HANDLER(cg_fault_handler), /* SysTick */
};

#define CG_SCB_ICSR (*(volatile unsigned *)0xE000ED04u)
#define CG_SCB_CFSR (*(volatile unsigned *)0xE000ED28u)
#define CG_SCB_HFSR (*(volatile unsigned *)0xE000ED2Cu)
#define CG_SCB_MMFAR (*(volatile unsigned *)0xE000ED34u)
#define CG_SCB_BFAR (*(volatile unsigned *)0xE000ED38u)

static const char *cg_exception_name(unsigned number)
{
    switch (number) {
    case 2: return "NMI";
    case 3: return "HardFault";
    case 4: return "MemManage fault";
    case 5: return "BusFault";
    case 6: return "UsageFault";
    case 11: return "unexpected SVCall";
    case 12: return "unexpected DebugMonitor exception";
    case 14: return "unexpected PendSV";
    case 15: return "unexpected SysTick";
    default: return "unexpected exception";
    }
}

static char *cg_put_str(char *p, const char *s)
{
    while (*s) *p++ = *s++;
    return p;
}

static char *cg_put_hex(char *p, unsigned v)
{
    int shift;
    p = cg_put_str(p, "0x");
    for (shift = 28; shift >= 0; shift -= 4) *p++ = "0123456789abcdef"[(v >> shift) & 0xFu];
    return p;
}

/* the exception frame the core pushed: r0-r3, r12, lr, pc, xpsr */
void cg_fault_report(const unsigned *frame)
{
    static char line[240];
    unsigned number = CG_SCB_ICSR & 0x1FFu;
    char *p = line;
    const char *nonce = cg_platform_nonce();
    unsigned n;
    cg_target_flush();
    p = cg_put_str(p, "\n@@covguard");
    if (nonce && *nonce) { /* the run's nonce, as every protocol line carries it (at most 32 chars) */
        *p++ = ':';
        for (n = 0; nonce[n] && n < 32u; ++n) *p++ = nonce[n];
    }
    p = cg_put_str(p, "\terror\t");
    p = cg_put_str(p, cg_exception_name(number));
    p = cg_put_str(p, " on the target: pc=");
    p = cg_put_hex(p, frame ? frame[6] : 0u);
    p = cg_put_str(p, " lr=");
    p = cg_put_hex(p, frame ? frame[5] : 0u);
    p = cg_put_str(p, " CFSR=");
    p = cg_put_hex(p, CG_SCB_CFSR);
    p = cg_put_str(p, " HFSR=");
    p = cg_put_hex(p, CG_SCB_HFSR);
    p = cg_put_str(p, " BFAR=");
    p = cg_put_hex(p, CG_SCB_BFAR);
    p = cg_put_str(p, " MMFAR=");
    p = cg_put_hex(p, CG_SCB_MMFAR);
    p = cg_put_str(p, "\n");
    *p = 0;
    cg_semihost(CG_SH_WRITE0, line);
    cg_semihost_exit(CG_TARGET_FAULT_STATUS);
}

/* the frame is on the main or the process stack, as bit 2 of EXC_RETURN (lr) says */
__attribute__((naked)) void cg_fault_handler(void)
{
    __asm__ volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "b cg_fault_report\n");
}
