/*
 * bolus.c - bolus calculator: meal bolus from the carbohydrate ratio, correction from the
 * insulin sensitivity factor, insulin on board with linear decay, the maximum bolus limit and
 * the safety interlocks applied before any bolus reaches the motor.
 * All insulin amounts are centi-units (0.01 U).
 */
#include "bolus.h"

#include <stddef.h>
#include "pump.h"

#define MS_PER_MINUTE 60000u

static const struct bolus_settings default_settings = {
    10u,   /* 10 g per U */
    50u,   /* 50 mg/dL per U */
    110u,  /* target 110 mg/dL */
    1000u, /* 10.00 U */
    240u   /* 4 hours */
};

static struct bolus_settings settings;

static struct {
    uint32_t time_ms;
    insulin_cu_t amount;
} history[BOLUS_IOB_HISTORY];
static unsigned history_next;

/*
 * Load the therapy settings (NULL: defaults) and forget earlier boluses.  Settings that
 * would divide by zero are refused and the defaults are used instead.
 * @req PUMP-SRS-001, PUMP-SRS-002, PUMP-SRS-003, PUMP-SRS-004
 */
int bolus_init(const struct bolus_settings *s)
{
    unsigned i;
    int rc = 0;

    if (s == NULL || s->carb_ratio_g == 0u || s->isf_mgdl == 0u || s->action_time_min == 0u) {
        s = &default_settings;
        rc = -1;
    }
    settings = *s;
    for (i = 0; i < BOLUS_IOB_HISTORY; i++) {
        history[i].amount = 0u;
    }
    history_next = 0u;
    return rc;
}

/*
 * Meal bolus: carbohydrates / carbohydrate ratio.
 * @req PUMP-SRS-001
 */
uint32_t bolus_meal(uint16_t carbs_g)
{
    return (uint32_t)carbs_g * 100u / settings.carb_ratio_g;
}

/*
 * Correction: (glucose - target) / ISF; negative below target (reduces the meal bolus).
 * @req PUMP-SRS-002
 */
int32_t bolus_correction(uint16_t glucose_mgdl)
{
    int32_t delta = (int32_t)glucose_mgdl - (int32_t)settings.target_mgdl;

    return delta * 100 / (int32_t)settings.isf_mgdl;
}

/*
 * Remember a delivered bolus for the insulin-on-board calculation.
 * @req PUMP-SRS-003
 */
static void bolus_record(insulin_cu_t amount, uint32_t now_ms)
{
    history[history_next].time_ms = now_ms;
    history[history_next].amount = amount;
    history_next = (history_next + 1u) % BOLUS_IOB_HISTORY;
}

/*
 * Insulin on board: every remembered bolus decays linearly to zero over the action time.
 * @req PUMP-SRS-003
 */
uint32_t bolus_iob(uint32_t now_ms)
{
    uint32_t iob = 0u;
    unsigned i;

    for (i = 0; i < BOLUS_IOB_HISTORY; i++) {
        uint32_t elapsed_min = (now_ms - history[i].time_ms) / MS_PER_MINUTE;

        if (history[i].amount != 0u && elapsed_min < settings.action_time_min) {
            iob += (uint32_t)history[i].amount * (settings.action_time_min - elapsed_min) /
                   settings.action_time_min;
        }
    }
    return iob;
}

/*
 * Clamp a bolus to the maximum bolus.
 * @req PUMP-SRS-004
 */
insulin_cu_t bolus_apply_limit(uint32_t units, insulin_cu_t max)
{
    uint32_t limited = units;

    if (units > max) {
        limited = max;
    }
    return (insulin_cu_t)limited;
}

/*
 * Suggested bolus: meal + correction, the correction reduced by insulin on board, never
 * negative, rounded down to the pump resolution and limited to the maximum bolus.
 * @req PUMP-SRS-001, PUMP-SRS-002, PUMP-SRS-003, PUMP-SRS-004
 */
insulin_cu_t bolus_calculate(uint16_t carbs_g, uint16_t glucose_mgdl, uint32_t now_ms)
{
    int32_t meal = (int32_t)bolus_meal(carbs_g);
    int32_t correction = bolus_correction(glucose_mgdl);
    int32_t iob = (int32_t)bolus_iob(now_ms);
    int32_t total;

    if (correction > 0) {
        correction = correction > iob ? correction - iob : 0;
    }
    total = meal + correction;
    if (total < 0) {
        total = 0;
    }
    total -= total % (int32_t)BOLUS_INCREMENT_CU;
    return bolus_apply_limit((uint32_t)total, settings.max_bolus_cu);
}

/*
 * Safety interlocks for a bolus request (pump keypad or radio).
 * @req PUMP-SRS-005
 */
bolus_status_t bolus_check_safety(insulin_cu_t requested, uint16_t glucose_mgdl,
                                  insulin_cu_t reservoir_cu, bool clinician_override)
{
    if ((requested > settings.max_bolus_cu && !clinician_override) ||
        glucose_mgdl < LOW_GLUCOSE_LIMIT_MGDL || reservoir_cu < requested) {
        return BOLUS_REJECTED;
    }
    return BOLUS_OK;
}

/*
 * Check and deliver a bolus, then count it as insulin on board.
 * @req PUMP-SRS-005, PUMP-SRS-003
 */
bolus_status_t bolus_deliver(insulin_cu_t requested, uint16_t glucose_mgdl,
                             bool clinician_override)
{
    if (bolus_check_safety(requested, glucose_mgdl, pump_reservoir(), clinician_override) !=
        BOLUS_OK) {
        return BOLUS_REJECTED;
    }
    if (pump_deliver(requested) != PUMP_OK) {
        return BOLUS_NOT_DELIVERED;
    }
    bolus_record(requested, hal_time_ms());
    return BOLUS_OK;
}

/*
 * Bolus calculation of the v1 handset protocol: whole units, fixed target of 120 mg/dL,
 * no insulin on board.  Replaced by bolus_calculate() in release 2.0.
 */
uint16_t legacy_bolus_calc_v1(uint16_t carbs_g, uint16_t glucose_mgdl, uint16_t carb_ratio,
                              uint16_t isf)
{
    uint16_t units = (uint16_t)(carbs_g / carb_ratio);

    if (glucose_mgdl > 120u) {
        units = (uint16_t)(units + (glucose_mgdl - 120u) / isf);
    }
    return units;
}
