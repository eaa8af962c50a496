/*
 * pump.h - pump operating state machine, delivery, reservoir tracking and occlusion detection.
 */
#ifndef PUMP_PUMP_H
#define PUMP_PUMP_H

#include <stdbool.h>
#include "hal.h"

#define PUMP_RESERVOIR_FULL_CU 30000u  /* 300 U cartridge */
#define PUMP_PRIME_VOLUME_CU 200u      /* 2.00 U fills the infusion set */
#define PUMP_PRIME_STEP_CU 50u         /* primed in 0.50 U steps */
#define OCCLUSION_THRESHOLD_KPA 180u
#define OCCLUSION_DEBOUNCE_SAMPLES 3u

typedef enum {
    PUMP_IDLE,
    PUMP_PRIMING,
    PUMP_DELIVERING,
    PUMP_SUSPENDED,
    PUMP_ALARM
} pump_state_t;

typedef enum {
    PUMP_EV_PRIME,
    PUMP_EV_PRIME_DONE,
    PUMP_EV_START,
    PUMP_EV_SUSPEND,
    PUMP_EV_RESUME,
    PUMP_EV_OCCLUSION,
    PUMP_EV_RESERVOIR_EMPTY,
    PUMP_EV_FAULT,
    PUMP_EV_ALARM_ACK
} pump_event_t;

typedef enum {
    PUMP_ALARM_NONE,
    PUMP_ALARM_OCCLUSION,
    PUMP_ALARM_RESERVOIR_EMPTY,
    PUMP_ALARM_FAULT
} pump_alarm_t;

typedef enum {
    PUMP_OK = 0,
    PUMP_ERR_STATE = -1,     /* not delivering (idle, priming, suspended or alarm) */
    PUMP_ERR_RESERVOIR = -2, /* not enough insulin left */
    PUMP_ERR_MOTOR = -3      /* motor driver reported a fault */
} pump_result_t;

void pump_init(insulin_cu_t reservoir_cu);
pump_state_t pump_state(void);
pump_alarm_t pump_alarm(void);
insulin_cu_t pump_reservoir(void);
pump_state_t pump_event(pump_event_t ev);
int pump_prime_step(void);
pump_result_t pump_deliver(insulin_cu_t amount);
bool occlusion_check(void);

#endif
