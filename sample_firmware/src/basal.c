/*
 * basal.c - basal insulin: a daily profile of 48 half-hour segments, a temporary basal rate
 * (percentage of the profile for a limited time) and the per-minute delivery task.
 */
#include "basal.h"

#include <stdbool.h>
#include "crc16.h"
#include "pump.h"

#define MS_PER_MINUTE 60000u
#define BASAL_NV_MAGIC 0xB5u
#define BASAL_NV_VERSION 0x01u

static uint16_t profile[BASAL_SEGMENTS];
static uint16_t clock_offset_min;
static uint32_t last_tick_ms;
static uint32_t remainder_cu_min; /* delivered fraction carried over, in cU/h x minutes */

static struct {
    bool active;
    uint16_t percent;
    uint32_t end_ms;
} temp;

/*
 * The safe default profile: the same moderate rate around the clock.
 * @req PUMP-SRS-006, PUMP-SRS-021
 */
static void basal_default_profile(void)
{
    unsigned i;

    for (i = 0; i < BASAL_SEGMENTS; i++) {
        profile[i] = BASAL_DEFAULT_RATE_CU_H;
    }
}

/*
 * Default profile, no temporary basal, delivery clock restarted.
 * @req PUMP-SRS-006, PUMP-SRS-008, PUMP-SRS-024
 */
void basal_init(void)
{
    basal_default_profile();
    temp.active = false;
    last_tick_ms = hal_time_ms();
    remainder_cu_min = 0u;
}

/*
 * Program the rate of one half-hour segment; out-of-range segments and rates are refused.
 * @req PUMP-SRS-006, PUMP-SRS-099
 */
int basal_set_segment(unsigned segment, uint16_t rate_cu_h)
{
    if (segment >= BASAL_SEGMENTS || rate_cu_h > BASAL_MAX_RATE_CU_H) {
        return -1;
    }
    profile[segment] = rate_cu_h;
    return 0;
}

/*
 * Set the pump clock: the current time is minute_of_day.
 * @req PUMP-SRS-007
 */
void basal_set_clock(uint16_t minute_of_day)
{
    uint32_t uptime_min = (hal_time_ms() / MS_PER_MINUTE) % MINUTES_PER_DAY;

    clock_offset_min =
        (uint16_t)((minute_of_day % MINUTES_PER_DAY + MINUTES_PER_DAY - uptime_min) % MINUTES_PER_DAY);
}

/*
 * Minute of day (0..1439) of a point in time.
 * @req PUMP-SRS-007
 */
uint16_t basal_minute_of_day(uint32_t now_ms)
{
    return (uint16_t)((now_ms / MS_PER_MINUTE + clock_offset_min) % MINUTES_PER_DAY);
}

/*
 * Rate of the profile segment that contains minute_of_day.
 * @req PUMP-SRS-007
 */
uint16_t basal_scheduled_rate(uint16_t minute_of_day)
{
    unsigned segment = minute_of_day / BASAL_SEGMENT_MIN;

    /* defensive: a minute past the last segment wraps around to the first one */
    if (segment >= BASAL_SEGMENTS - 1u) {
        segment = 0u;
    }
    return profile[segment];
}

/*
 * Start a temporary basal: percent of the scheduled rate for duration_min minutes.
 * @req PUMP-SRS-008
 */
int basal_set_temp(uint16_t percent, uint16_t duration_min)
{
    if (percent > BASAL_TEMP_MAX_PERCENT || duration_min < BASAL_TEMP_MIN_DURATION_MIN ||
        duration_min > BASAL_TEMP_MAX_DURATION_MIN) {
        return -1;
    }
    temp.percent = percent;
    temp.end_ms = hal_time_ms() + (uint32_t)duration_min * MS_PER_MINUTE;
    temp.active = true;
    return 0;
}

/*
 * @req PUMP-SRS-008
 */
void basal_cancel_temp(void)
{
    temp.active = false;
}

/*
 * Rate in effect now: the scheduled rate, scaled by a running temporary basal.
 * @req PUMP-SRS-007, PUMP-SRS-008
 */
uint16_t basal_active_rate(uint16_t minute_of_day)
{
    uint16_t rate = basal_scheduled_rate(minute_of_day);

    if (temp.active) {
        if ((int32_t)(hal_time_ms() - temp.end_ms) >= 0) {
            temp.active = false; /* expired */
        } else {
            rate = (uint16_t)((uint32_t)rate * temp.percent / 100u);
        }
    }
    return rate;
}

/*
 * Scheduler task: once per elapsed minute deliver the basal insulin of that minute.  A rate
 * of R cU/h is R/60 cU per minute; the fraction is carried to the next minute.  While the
 * pump is not delivering nothing is delivered and nothing is owed.
 * @req PUMP-SRS-024
 */
void basal_tick(void)
{
    uint32_t now = hal_time_ms();
    uint32_t dose;

    if (pump_state() != PUMP_DELIVERING) {
        last_tick_ms = now;
        remainder_cu_min = 0u;
        return;
    }
    if (now - last_tick_ms < MS_PER_MINUTE) {
        return;
    }
    last_tick_ms += MS_PER_MINUTE;
    remainder_cu_min += basal_active_rate(basal_minute_of_day(last_tick_ms - 1u));
    dose = remainder_cu_min / 60u;
    remainder_cu_min %= 60u;
    if (dose > 0u) {
        (void)pump_deliver((insulin_cu_t)dose);
    }
}

/*
 * Store the profile in nonvolatile memory: magic, version, big-endian rates, CRC-16.
 * @req PUMP-SRS-021, PUMP-SRS-014
 */
int basal_save(void)
{
    uint8_t rec[BASAL_NV_RECORD_SIZE];
    uint16_t crc;
    unsigned i;

    rec[0] = BASAL_NV_MAGIC;
    rec[1] = BASAL_NV_VERSION;
    for (i = 0; i < BASAL_SEGMENTS; i++) {
        rec[2u + 2u * i] = (uint8_t)(profile[i] >> 8);
        rec[3u + 2u * i] = (uint8_t)profile[i];
    }
    crc = crc16_ccitt(rec, BASAL_NV_RECORD_SIZE - 2u);
    rec[BASAL_NV_RECORD_SIZE - 2u] = (uint8_t)(crc >> 8);
    rec[BASAL_NV_RECORD_SIZE - 1u] = (uint8_t)crc;
    return hal_nv_write(BASAL_NV_ADDR, rec, sizeof rec);
}

/*
 * Load the stored profile.  A missing, foreign or corrupted record leaves the safe default
 * profile in place and returns -1.
 * @req PUMP-SRS-021, PUMP-SRS-014
 */
int basal_restore(void)
{
    uint8_t rec[BASAL_NV_RECORD_SIZE];
    const uint8_t *crc = &rec[BASAL_NV_RECORD_SIZE - 2u];
    unsigned i;

    if (hal_nv_read(BASAL_NV_ADDR, rec, sizeof rec) != 0 || rec[0] != BASAL_NV_MAGIC ||
        rec[1] != BASAL_NV_VERSION ||
        crc16_ccitt(rec, BASAL_NV_RECORD_SIZE - 2u) != (uint16_t)((crc[0] << 8) | crc[1])) {
        basal_default_profile();
        return -1;
    }
    for (i = 0; i < BASAL_SEGMENTS; i++) {
        profile[i] = (uint16_t)((rec[2u + 2u * i] << 8) | rec[3u + 2u * i]);
    }
    return 0;
}
