/*
 * bolus.h - bolus calculator and bolus safety checks.
 */
#ifndef PUMP_BOLUS_H
#define PUMP_BOLUS_H

#include <stdbool.h>
#include <stdint.h>
#include "hal.h"

#define BOLUS_INCREMENT_CU 5u          /* pump resolution: 0.05 U */
#define BOLUS_IOB_HISTORY 8u           /* boluses remembered for insulin on board */
#define LOW_GLUCOSE_LIMIT_MGDL 70u     /* no bolus below this glucose */

struct bolus_settings {
    uint16_t carb_ratio_g;      /* grams of carbohydrate covered by 1 U */
    uint16_t isf_mgdl;          /* insulin sensitivity factor: mg/dL drop per 1 U */
    uint16_t target_mgdl;       /* target glucose */
    insulin_cu_t max_bolus_cu;  /* maximum single bolus */
    uint16_t action_time_min;   /* insulin action time for insulin on board */
};

typedef enum {
    BOLUS_OK = 0,
    BOLUS_REJECTED,       /* a safety interlock refused the request */
    BOLUS_NOT_DELIVERED   /* accepted, but the pump could not deliver it */
} bolus_status_t;

int bolus_init(const struct bolus_settings *settings);
uint32_t bolus_meal(uint16_t carbs_g);
int32_t bolus_correction(uint16_t glucose_mgdl);
uint32_t bolus_iob(uint32_t now_ms);
insulin_cu_t bolus_apply_limit(uint32_t units, insulin_cu_t max);
insulin_cu_t bolus_calculate(uint16_t carbs_g, uint16_t glucose_mgdl, uint32_t now_ms);
bolus_status_t bolus_check_safety(insulin_cu_t requested, uint16_t glucose_mgdl,
                                  insulin_cu_t reservoir_cu, bool clinician_override);
bolus_status_t bolus_deliver(insulin_cu_t requested, uint16_t glucose_mgdl,
                             bool clinician_override);

/* bolus calculation of the v1 handset protocol (whole units, no insulin on board) */
uint16_t legacy_bolus_calc_v1(uint16_t carbs_g, uint16_t glucose_mgdl, uint16_t carb_ratio,
                              uint16_t isf);

#endif
