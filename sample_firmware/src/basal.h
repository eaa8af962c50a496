/*
 * basal.h - basal profile (48 half-hour segments), temporary basal, per-minute basal delivery
 * and persistence of the profile.
 */
#ifndef PUMP_BASAL_H
#define PUMP_BASAL_H

#include <stdint.h>
#include "hal.h"

#define BASAL_SEGMENTS 48u
#define BASAL_SEGMENT_MIN 30u
#define MINUTES_PER_DAY 1440u
#define BASAL_MAX_RATE_CU_H 500u      /* 5.00 U/h */
#define BASAL_DEFAULT_RATE_CU_H 80u   /* 0.80 U/h */
#define BASAL_TEMP_MAX_PERCENT 200u
#define BASAL_TEMP_MIN_DURATION_MIN 30u
#define BASAL_TEMP_MAX_DURATION_MIN 720u
#define BASAL_NV_ADDR 0u
#define BASAL_NV_RECORD_SIZE (2u + 2u * BASAL_SEGMENTS + 2u) /* magic, rates, CRC */

/* rates are in centi-units per hour */
void basal_init(void);
int basal_set_segment(unsigned segment, uint16_t rate_cu_h);
void basal_set_clock(uint16_t minute_of_day);
uint16_t basal_minute_of_day(uint32_t now_ms);
uint16_t basal_scheduled_rate(uint16_t minute_of_day);
int basal_set_temp(uint16_t percent, uint16_t duration_min);
void basal_cancel_temp(void);
uint16_t basal_active_rate(uint16_t minute_of_day);
void basal_tick(void);
int basal_save(void);
int basal_restore(void);

#endif
