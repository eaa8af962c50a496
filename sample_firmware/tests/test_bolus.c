/*
 * test_bolus.c - bolus calculator, insulin on board, maximum bolus and safety interlocks.
 * Amounts are centi-units: 600 = 6.00 U.  Default settings: 10 g/U, ISF 50 mg/dL/U,
 * target 110 mg/dL, maximum bolus 10.00 U, insulin action time 240 min.
 */
#include "covguard_test.h"
#include "bolus.h"
#include "hal_host.h"
#include "pump.h"

#define MINUTES(m) ((uint32_t)(m) * 60000u)

/* fixture: every test calls it first */
static void setup(void)
{
    hal_init();
    pump_init(PUMP_RESERVOIR_FULL_CU);
    (void)bolus_init(NULL);
}

static void start_pump(void)
{
    pump_event(PUMP_EV_PRIME);
    while (pump_prime_step() > 0) {
    }
    pump_event(PUMP_EV_START);
}

CG_TEST(meal_bolus_from_carb_ratio, "PUMP-SRS-001")
{
    struct bolus_settings s = {12u, 50u, 110u, 1000u, 240u};

    setup();
    CG_ASSERT_EQ_UINT(600u, bolus_meal(60u));
    CG_ASSERT_EQ_UINT(450u, bolus_meal(45u));
    CG_ASSERT_EQ_UINT(0u, bolus_meal(0u));
    CG_ASSERT_EQ_INT(0, bolus_init(&s));
    CG_ASSERT_EQ_UINT(500u, bolus_meal(60u));
}

CG_TEST(correction_from_isf_and_target, "PUMP-SRS-002")
{
    setup();
    CG_ASSERT_EQ_INT(200, bolus_correction(210u));
    CG_ASSERT_EQ_INT(0, bolus_correction(110u));
    CG_ASSERT_EQ_INT(-50, bolus_correction(85u));
}

CG_TEST(calculate_meal_plus_correction_rounded_down, "PUMP-SRS-001, PUMP-SRS-002")
{
    struct bolus_settings s = {12u, 50u, 110u, 1000u, 240u};

    setup();
    CG_ASSERT_EQ_UINT(800u, bolus_calculate(60u, 210u, 0u));
    CG_ASSERT_EQ_INT(0, bolus_init(&s));
    /* 17 g / 12 g/U = 1.416 U -> 1.40 U at the 0.05 U resolution */
    CG_ASSERT_EQ_UINT(140u, bolus_calculate(17u, 110u, 0u));
}

CG_TEST(low_glucose_reduces_meal_bolus_never_below_zero, "PUMP-SRS-002")
{
    setup();
    /* 1.00 U meal, 80 mg/dL is 0.60 U below target */
    CG_ASSERT_EQ_UINT(40u, bolus_calculate(10u, 80u, 0u));
    CG_ASSERT_EQ_UINT(0u, bolus_calculate(0u, 80u, 0u));
}

CG_TEST(insulin_on_board_decays_linearly, "PUMP-SRS-003")
{
    setup();
    start_pump();
    hal_host_set_time_ms(MINUTES(10));
    CG_ASSERT_EQ_INT(BOLUS_OK, bolus_deliver(200u, 120u, false));
    CG_ASSERT_EQ_UINT(200u, bolus_iob(MINUTES(10)));
    CG_ASSERT_EQ_UINT(150u, bolus_iob(MINUTES(70)));
    CG_ASSERT_EQ_UINT(100u, bolus_iob(MINUTES(130)));
    CG_ASSERT_EQ_UINT(0u, bolus_iob(MINUTES(250)));
}

CG_TEST(insulin_on_board_offsets_correction_only, "PUMP-SRS-003, PUMP-SRS-002")
{
    setup();
    start_pump();
    CG_ASSERT_EQ_INT(BOLUS_OK, bolus_deliver(100u, 120u, false));
    /* correction 2.00 U - 1.00 U on board */
    CG_ASSERT_EQ_UINT(100u, bolus_calculate(0u, 210u, 0u));
    CG_ASSERT_EQ_INT(BOLUS_OK, bolus_deliver(200u, 120u, false));
    /* 3.00 U on board cancel the correction but not the 6.00 U meal bolus */
    CG_ASSERT_EQ_UINT(600u, bolus_calculate(60u, 210u, 0u));
}

CG_TEST(invalid_settings_fall_back_to_defaults, "PUMP-SRS-001, PUMP-SRS-002, PUMP-SRS-003, PUMP-SRS-004")
{
    struct bolus_settings s = {0u, 40u, 100u, 800u, 180u};

    setup();
    CG_ASSERT_EQ_INT(-1, bolus_init(NULL));
    CG_ASSERT_EQ_INT(-1, bolus_init(&s));
    s.carb_ratio_g = 15u;
    s.isf_mgdl = 0u;
    CG_ASSERT_EQ_INT(-1, bolus_init(&s));
    s.isf_mgdl = 40u;
    s.action_time_min = 0u;
    CG_ASSERT_EQ_INT(-1, bolus_init(&s));
    CG_ASSERT_EQ_UINT(800u, bolus_calculate(60u, 210u, 0u)); /* defaults in effect */
    s.action_time_min = 180u;
    CG_ASSERT_EQ_INT(0, bolus_init(&s));
    CG_ASSERT_EQ_UINT(650u, bolus_calculate(60u, 200u, 0u)); /* 4.00 U + 2.50 U */
}

CG_TEST(limit_keeps_bolus_below_maximum, "PUMP-SRS-004")
{
    setup();
    CG_ASSERT_EQ_UINT(450u, bolus_apply_limit(450u, 1000u));
    CG_ASSERT_EQ_UINT(1000u, bolus_apply_limit(1000u, 1000u));
}

CG_TEST(limit_clamps_bolus_above_maximum, "PUMP-SRS-004")
{
    setup();
    CG_ASSERT_EQ_UINT(1000u, bolus_apply_limit(2500u, 1000u));
}

CG_TEST(calculated_bolus_never_exceeds_maximum, "PUMP-SRS-004, PUMP-SRS-001")
{
    setup();
    CG_ASSERT_EQ_UINT(1000u, bolus_calculate(200u, 110u, 0u));
    CG_ASSERT_EQ_UINT(1000u, bolus_calculate(65535u, 400u, 0u));
}

CG_TEST(safety_accepts_normal_bolus, "PUMP-SRS-005")
{
    setup();
    CG_ASSERT_EQ_INT(BOLUS_OK, bolus_check_safety(500u, 120u, 30000u, false));
}

CG_TEST(safety_rejects_bolus_above_maximum, "PUMP-SRS-005")
{
    setup();
    CG_ASSERT_EQ_INT(BOLUS_REJECTED, bolus_check_safety(1500u, 120u, 30000u, false));
}

CG_TEST(safety_rejects_bolus_at_low_glucose, "PUMP-SRS-005")
{
    setup();
    CG_ASSERT_EQ_INT(BOLUS_REJECTED, bolus_check_safety(500u, 69u, 30000u, false));
    CG_ASSERT_EQ_INT(BOLUS_OK, bolus_check_safety(500u, 70u, 30000u, false));
}

CG_TEST(safety_rejects_bolus_larger_than_reservoir, "PUMP-SRS-005")
{
    setup();
    CG_ASSERT_EQ_INT(BOLUS_REJECTED, bolus_check_safety(500u, 120u, 499u, false));
    CG_ASSERT_EQ_INT(BOLUS_OK, bolus_check_safety(500u, 120u, 500u, false));
}

CG_TEST(clinician_override_does_not_bypass_hypo_lockout, "PUMP-SRS-005")
{
    setup();
    CG_ASSERT_EQ_INT(BOLUS_REJECTED, bolus_check_safety(1500u, 60u, 30000u, true));
}

CG_TEST(deliver_checks_interlocks_and_pump_state, "PUMP-SRS-005")
{
    setup();
    /* pump not started yet: accepted by the interlocks, refused by the pump */
    CG_ASSERT_EQ_INT(BOLUS_NOT_DELIVERED, bolus_deliver(300u, 120u, false));
    start_pump();
    hal_host_reset();
    CG_ASSERT_EQ_INT(BOLUS_REJECTED, bolus_deliver(1500u, 120u, false));
    CG_ASSERT_EQ_INT(BOLUS_REJECTED, bolus_deliver(300u, 55u, false));
    CG_ASSERT_EQ_UINT(0u, hal_host_delivery_count());
    CG_ASSERT_EQ_INT(BOLUS_OK, bolus_deliver(300u, 120u, false));
    CG_ASSERT_EQ_UINT(1u, hal_host_delivery_count());
    CG_ASSERT_EQ_UINT(300u, hal_host_delivery(0));
}

CG_MAIN()
