/*
 * hal.h - hardware abstraction layer of the insulin pump controller.
 *
 * All hardware access of the product code goes through these functions.  The target
 * implementation is hal_target.c (Cortex-M3), the host test double is hal_host.c.
 */
#ifndef PUMP_HAL_H
#define PUMP_HAL_H

#include <stddef.h>
#include <stdint.h>

/* insulin amounts are in centi-units (0.01 U) throughout the firmware */
typedef uint16_t insulin_cu_t;

void hal_init(void);

/* infusion line pressure sensor, in kPa */
uint16_t hal_pressure_read_kpa(void);

/* drive the pump motor until the given amount has left the reservoir; 0 on success */
int hal_motor_deliver(insulin_cu_t amount);
void hal_motor_stop(void);

/* radio: receive one complete frame (0 if none pending), send one frame */
size_t hal_radio_receive(uint8_t *buf, size_t max);
void hal_radio_send(const uint8_t *buf, size_t len);

/* monotonic milliseconds since reset */
uint32_t hal_time_ms(void);

/* nonvolatile storage (EEPROM/flash emulation); 0 on success */
#define HAL_NV_SIZE 256u
int hal_nv_read(uint32_t addr, void *buf, size_t len);
int hal_nv_write(uint32_t addr, const void *buf, size_t len);

/* keypad and display controller: one decoded user request (0 if none is pending) */
#define HAL_UI_ARGS 4u
typedef struct {
    uint8_t kind; /* what the user asked for (enum ui_kind in main.c) */
    uint16_t args[HAL_UI_ARGS];
} hal_ui_request_t;
int hal_ui_receive(hal_ui_request_t *req);

/* interrupt entry points of the target HAL (called from the vector table in main.c) */
void hal_systick_isr(void);
void hal_uart0_isr(void);

#endif
