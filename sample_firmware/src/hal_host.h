/*
 * hal_host.h - controls of the host HAL test double (hal_host.c), for unit tests only.
 */
#ifndef PUMP_HAL_HOST_H
#define PUMP_HAL_HOST_H

#include "hal.h"

#define HAL_HOST_MAX_DELIVERIES 64u

void hal_host_reset(void);
void hal_host_set_pressure(uint16_t kpa);
void hal_host_set_time_ms(uint32_t ms);
void hal_host_advance_ms(uint32_t ms);
void hal_host_fail_motor(int fail);
void hal_host_fail_nv(int fail);

/* recorded motor activity */
unsigned hal_host_delivery_count(void);
insulin_cu_t hal_host_delivery(unsigned index);
uint32_t hal_host_delivered_total(void);
unsigned hal_host_motor_stops(void);

/* last frame passed to hal_radio_send */
size_t hal_host_sent(const uint8_t **frame);

/* raw access to the fake nonvolatile memory */
uint8_t *hal_host_nv(void);

#endif
