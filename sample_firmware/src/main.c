/*
 * main.c - product firmware entry: Cortex-M3 vector table, reset handler, a tiny cooperative
 * scheduler driven by SysTick, the requests of the keypad and display controller and the
 * super-loop that feeds radio frames to the command parser.  Not linked into the unit tests.
 */
#include <stddef.h>
#include <stdint.h>

#include "basal.h"
#include "bolus.h"
#include "cmd.h"
#include "hal.h"
#include "pump.h"

#define PAIRING_KEY_NV_ADDR 0xF0u
#define SCHED_PERIOD_MS 1000u

typedef void (*task_fn)(void);
typedef void (*vector_fn)(void);

void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void);
void SysTick_Handler(void);
void UART0_IRQHandler(void);

/* requests of the keypad and display controller (hal_ui_request_t.kind) */
enum ui_kind {
    UI_NONE,
    UI_BOLUS_WIZARD,      /* args: carbohydrates (g), glucose (mg/dL) */
    UI_PRIME,             /* prime the infusion set after a cartridge change */
    UI_START,             /* start delivery */
    UI_SUSPEND,           /* suspend all delivery */
    UI_RESUME,            /* resume delivery */
    UI_ALARM_ACK,         /* acknowledge an alarm */
    UI_CANCEL_TEMP_BASAL, /* end a temporary basal */
    UI_SET_CLOCK,         /* args: minute of day */
    UI_SET_BASAL_SEGMENT  /* args: segment, rate (0.01 U/h); the profile is then stored */
};

static volatile uint32_t sched_ms;
static volatile uint8_t sched_pending;

/*
 * Sample the line pressure once per scheduler period.
 * @req PUMP-SRS-012
 */
static void occlusion_task(void)
{
    (void)occlusion_check();
}

static const task_fn tasks[] = {basal_tick, occlusion_task};

/*
 * Run every task once.
 * @req PUMP-SRS-012, PUMP-SRS-024
 */
static void sched_run(void)
{
    size_t i;

    for (i = 0; i < sizeof tasks / sizeof tasks[0]; i++) {
        tasks[i]();
    }
}

/*
 * Hand a complete received frame to the command parser.
 * @req PUMP-SRS-015
 */
static void radio_poll(void)
{
    uint8_t frame[CMD_MAX_FRAME];
    size_t len = hal_radio_receive(frame, sizeof frame);

    if (len > 0u) {
        (void)cmd_process(frame, len);
    }
}

/*
 * Bolus wizard on the pump: the suggested bolus for the carbohydrates and glucose entered,
 * through the same interlocks as a radio bolus.
 * @req PUMP-SRS-001, PUMP-SRS-002, PUMP-SRS-003, PUMP-SRS-004, PUMP-SRS-005
 */
static void ui_bolus(uint16_t carbs_g, uint16_t glucose_mgdl)
{
    insulin_cu_t dose = bolus_calculate(carbs_g, glucose_mgdl, hal_time_ms());

    if (dose > 0u) {
        (void)bolus_deliver(dose, glucose_mgdl, false);
    }
}

/*
 * Prime the infusion set step by step.
 * @req PUMP-SRS-010
 */
static void ui_prime(void)
{
    (void)pump_event(PUMP_EV_PRIME);
    while (pump_prime_step() > 0) {
    }
}

/*
 * Carry out one request of the keypad and display controller.
 * @req PUMP-SRS-006, PUMP-SRS-007, PUMP-SRS-008, PUMP-SRS-009, PUMP-SRS-011, PUMP-SRS-013
 * @req PUMP-SRS-021
 */
static void ui_poll(void)
{
    hal_ui_request_t req;

    if (hal_ui_receive(&req) == 0) {
        return;
    }
    switch (req.kind) {
    case UI_BOLUS_WIZARD:
        ui_bolus(req.args[0], req.args[1]);
        break;
    case UI_PRIME:
        ui_prime();
        break;
    case UI_START:
        (void)pump_event(PUMP_EV_START);
        break;
    case UI_SUSPEND:
        (void)pump_event(PUMP_EV_SUSPEND);
        break;
    case UI_RESUME:
        (void)pump_event(PUMP_EV_RESUME);
        break;
    case UI_ALARM_ACK:
        (void)pump_event(PUMP_EV_ALARM_ACK);
        break;
    case UI_CANCEL_TEMP_BASAL:
        basal_cancel_temp();
        break;
    case UI_SET_CLOCK:
        basal_set_clock(req.args[0]);
        break;
    case UI_SET_BASAL_SEGMENT:
        if (basal_set_segment(req.args[0], req.args[1]) == 0) {
            (void)basal_save();
        }
        break;
    default:
        break;
    }
}

/*
 * Power-on self test of the command table: the status and suspend commands must be served,
 * so that a paired remote can always see and stop the pump.
 * @req PUMP-SRS-018
 */
static bool self_test(void)
{
    return cmd_opcode_supported(CMD_OP_STATUS) && cmd_opcode_supported(CMD_OP_SUSPEND);
}

/*
 * Power-up: peripherals, stored settings, pairing, self test; then the super-loop.
 * @req PUMP-SRS-009, PUMP-SRS-013, PUMP-SRS-021
 */
int main(void)
{
    uint8_t key[4];
    uint32_t pairing_key = 0u;

    hal_init();
    pump_init(PUMP_RESERVOIR_FULL_CU);
    (void)bolus_init(NULL);
    basal_init();
    (void)basal_restore();
    if (hal_nv_read(PAIRING_KEY_NV_ADDR, key, sizeof key) == 0) {
        pairing_key = ((uint32_t)key[0] << 24) | ((uint32_t)key[1] << 16) |
                      ((uint32_t)key[2] << 8) | key[3];
    }
    cmd_init(pairing_key);
    if (!self_test()) {
        (void)pump_event(PUMP_EV_FAULT);
    }

    for (;;) {
        radio_poll();
        ui_poll();
        if (sched_pending) {
            sched_pending = 0u;
            sched_run();
        }
#ifdef __arm__
        __asm volatile("wfi");
#endif
    }
}

#ifdef __arm__
extern uint32_t _estack, _sidata, _sdata, _edata, _sbss, _ebss;
#define INITIAL_SP ((vector_fn)&_estack)
#else
static uint32_t host_stack[64]; /* host build of the image: the table only has to link */
#define INITIAL_SP ((vector_fn)&host_stack[64])
#endif

/*
 * Copy .data, clear .bss, run the firmware.
 * @req PUMP-SRS-009
 */
void Reset_Handler(void)
{
#ifdef __arm__
    uint32_t *src = &_sidata;
    uint32_t *dst;

    for (dst = &_sdata; dst < &_edata;) {
        *dst++ = *src++;
    }
    for (dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0u;
    }
#endif
    (void)main();
    for (;;) {
    }
}

/*
 * Unexpected interrupt: stop the motor and wait for the watchdog.
 * @req PUMP-SRS-013
 */
void Default_Handler(void)
{
    hal_motor_stop();
    for (;;) {
    }
}

/*
 * Processor fault: stop the motor at once, the watchdog resets into a safe start.
 * @req PUMP-SRS-013
 */
void HardFault_Handler(void)
{
    hal_motor_stop();
    for (;;) {
    }
}

/*
 * 1 ms tick: HAL clock and the scheduler period.
 * @req PUMP-SRS-024
 */
void SysTick_Handler(void)
{
    hal_systick_isr();
    if (++sched_ms >= SCHED_PERIOD_MS) {
        sched_ms = 0u;
        sched_pending = 1u;
    }
}

/*
 * Radio module byte received on UART0.
 * @req PUMP-SRS-015
 */
void UART0_IRQHandler(void)
{
    hal_uart0_isr();
}

/* Cortex-M3 vector table (LM3S6965 interrupt numbers): initial stack pointer, 15 system
   exceptions, then the IRQs up to the radio UART */
__attribute__((used, section(".isr_vector"))) const vector_fn isr_vector[22] = {
    INITIAL_SP,
    Reset_Handler,     /* Reset */
    Default_Handler,   /* NMI */
    HardFault_Handler, /* HardFault */
    Default_Handler,   /* MemManage */
    Default_Handler,   /* BusFault */
    Default_Handler,   /* UsageFault */
    NULL,
    NULL,
    NULL,
    NULL,
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMonitor */
    NULL,
    Default_Handler,  /* PendSV */
    SysTick_Handler,  /* SysTick */
    Default_Handler,  /* IRQ 0: GPIO port A */
    Default_Handler,  /* IRQ 1: GPIO port B */
    Default_Handler,  /* IRQ 2: GPIO port C */
    Default_Handler,  /* IRQ 3: GPIO port D */
    Default_Handler,  /* IRQ 4: GPIO port E */
    UART0_IRQHandler, /* IRQ 5: UART0 (radio module) */
};
