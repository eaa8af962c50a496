/*
 * test_basal.c - basal profile, rate lookup by time of day, temporary basal, per-minute
 * delivery and persistence of the profile.  Rates are centi-units per hour.
 */
#include "covguard_test.h"
#include "basal.h"
#include "hal_host.h"
#include "pump.h"

#define MINUTES(m) ((uint32_t)(m) * 60000u)

/* fixture: every test calls it first */
static void setup(void)
{
    hal_init();
    pump_init(PUMP_RESERVOIR_FULL_CU);
    basal_init();
    basal_set_clock(0u);
}

static void start_pump(void)
{
    pump_event(PUMP_EV_PRIME);
    while (pump_prime_step() > 0) {
    }
    pump_event(PUMP_EV_START);
    hal_host_reset(); /* forget the priming deliveries and restart the clock */
    basal_init();
}

static void run_minutes(unsigned minutes)
{
    while (minutes-- > 0u) {
        hal_host_advance_ms(MINUTES(1));
        basal_tick();
    }
}

CG_TEST(set_segment_programs_its_half_hour, "PUMP-SRS-006")
{
    setup();
    CG_ASSERT_EQ_UINT(BASAL_DEFAULT_RATE_CU_H, basal_scheduled_rate(300u));
    CG_ASSERT_EQ_INT(0, basal_set_segment(10u, 120u));
    CG_ASSERT_EQ_UINT(BASAL_DEFAULT_RATE_CU_H, basal_scheduled_rate(299u));
    CG_ASSERT_EQ_UINT(120u, basal_scheduled_rate(300u));
    CG_ASSERT_EQ_UINT(120u, basal_scheduled_rate(329u));
    CG_ASSERT_EQ_UINT(BASAL_DEFAULT_RATE_CU_H, basal_scheduled_rate(330u));
}

CG_TEST(set_segment_rejects_out_of_range, "PUMP-SRS-006")
{
    setup();
    CG_ASSERT_EQ_INT(-1, basal_set_segment(BASAL_SEGMENTS, 100u));
    CG_ASSERT_EQ_INT(-1, basal_set_segment(3u, BASAL_MAX_RATE_CU_H + 1u));
    CG_ASSERT_EQ_UINT(BASAL_DEFAULT_RATE_CU_H, basal_scheduled_rate(90u));
    CG_ASSERT_EQ_INT(0, basal_set_segment(3u, BASAL_MAX_RATE_CU_H));
    CG_ASSERT_EQ_INT(0, basal_set_segment(BASAL_SEGMENTS - 1u, 0u));
}

CG_TEST(rate_lookup_by_minute_of_day, "PUMP-SRS-007")
{
    setup();
    CG_ASSERT_EQ_INT(0, basal_set_segment(0u, 60u));
    CG_ASSERT_EQ_INT(0, basal_set_segment(1u, 70u));
    CG_ASSERT_EQ_INT(0, basal_set_segment(13u, 140u));
    CG_ASSERT_EQ_INT(0, basal_set_segment(46u, 90u));
    CG_ASSERT_EQ_UINT(60u, basal_scheduled_rate(0u));
    CG_ASSERT_EQ_UINT(60u, basal_scheduled_rate(29u));
    CG_ASSERT_EQ_UINT(70u, basal_scheduled_rate(30u));
    CG_ASSERT_EQ_UINT(140u, basal_scheduled_rate(390u)); /* 06:30 */
    CG_ASSERT_EQ_UINT(140u, basal_scheduled_rate(419u));
    CG_ASSERT_EQ_UINT(90u, basal_scheduled_rate(1380u)); /* 23:00 */
    CG_ASSERT_EQ_UINT(90u, basal_scheduled_rate(1409u));
    CG_ASSERT_EQ_UINT(140u, basal_active_rate(400u)); /* no temporary basal running */
}

CG_TEST(rate_lookup_last_segment_2330_to_2400, "PUMP-SRS-007")
{
    setup();
    CG_ASSERT_EQ_INT(0, basal_set_segment(0u, 60u));
    CG_ASSERT_EQ_INT(0, basal_set_segment(47u, 150u));
    CG_ASSERT_EQ_UINT(150u, basal_scheduled_rate(1410u)); /* 23:30 */
    CG_ASSERT_EQ_UINT(150u, basal_scheduled_rate(1439u)); /* 23:59 */
}

CG_TEST(rate_lookup_wraps_past_midnight, "PUMP-SRS-007")
{
    setup();
    CG_ASSERT_EQ_INT(0, basal_set_segment(0u, 60u));
    CG_ASSERT_EQ_UINT(60u, basal_scheduled_rate(1440u));
}

CG_TEST(minute_of_day_follows_the_pump_clock, "PUMP-SRS-007")
{
    setup();
    basal_set_clock(600u); /* 10:00 */
    CG_ASSERT_EQ_UINT(600u, basal_minute_of_day(hal_time_ms()));
    hal_host_advance_ms(MINUTES(90));
    CG_ASSERT_EQ_UINT(690u, basal_minute_of_day(hal_time_ms()));
    basal_set_clock(1430u); /* 23:50, set while the pump has been running for 90 min */
    CG_ASSERT_EQ_UINT(1430u, basal_minute_of_day(hal_time_ms()));
    hal_host_advance_ms(MINUTES(20));
    CG_ASSERT_EQ_UINT(10u, basal_minute_of_day(hal_time_ms()));
}

CG_TEST(temp_basal_scales_scheduled_rate, "PUMP-SRS-008")
{
    setup();
    CG_ASSERT_EQ_INT(0, basal_set_temp(150u, 60u));
    CG_ASSERT_EQ_UINT(120u, basal_active_rate(0u));
    CG_ASSERT_EQ_INT(0, basal_set_temp(0u, 30u));
    CG_ASSERT_EQ_UINT(0u, basal_active_rate(0u));
}

CG_TEST(temp_basal_ends_on_expiry_or_cancel, "PUMP-SRS-008")
{
    setup();
    CG_ASSERT_EQ_INT(0, basal_set_temp(50u, 30u));
    hal_host_advance_ms(MINUTES(29));
    CG_ASSERT_EQ_UINT(40u, basal_active_rate(0u));
    hal_host_advance_ms(MINUTES(1));
    CG_ASSERT_EQ_UINT(80u, basal_active_rate(0u));
    CG_ASSERT_EQ_UINT(80u, basal_active_rate(0u));
    CG_ASSERT_EQ_INT(0, basal_set_temp(200u, 720u));
    CG_ASSERT_EQ_UINT(160u, basal_active_rate(0u));
    basal_cancel_temp();
    CG_ASSERT_EQ_UINT(80u, basal_active_rate(0u));
}

CG_TEST(temp_basal_rejects_invalid_requests, "PUMP-SRS-008")
{
    setup();
    CG_ASSERT_EQ_INT(-1, basal_set_temp(201u, 60u));
    CG_ASSERT_EQ_INT(-1, basal_set_temp(100u, 29u));
    CG_ASSERT_EQ_INT(-1, basal_set_temp(100u, 721u));
    CG_ASSERT_EQ_UINT(80u, basal_active_rate(0u));
}

CG_TEST(basal_tick_delivers_rate_with_fraction_carry, "PUMP-SRS-024")
{
    unsigned i;

    setup();
    start_pump();
    for (i = 0; i < BASAL_SEGMENTS; i++) {
        CG_ASSERT_EQ_INT(0, basal_set_segment(i, 50u)); /* 0.50 U/h: 0.83 cU per minute */
    }
    hal_host_advance_ms(MINUTES(1) - 1u);
    basal_tick(); /* not a full minute yet */
    CG_ASSERT_EQ_UINT(0u, hal_host_delivered_total());
    hal_host_advance_ms(1u);
    basal_tick();
    CG_ASSERT_EQ_UINT(0u, hal_host_delivery_count()); /* 0.83 cU carried over */
    run_minutes(59u);
    CG_ASSERT_EQ_UINT(50u, hal_host_delivered_total()); /* exactly 0.50 U in the hour */
    CG_ASSERT_EQ_UINT(PUMP_RESERVOIR_FULL_CU - PUMP_PRIME_VOLUME_CU - 50u, pump_reservoir());
}

CG_TEST(basal_tick_delivers_nothing_while_suspended, "PUMP-SRS-024, PUMP-SRS-011")
{
    setup();
    start_pump();
    run_minutes(30u);
    CG_ASSERT_EQ_UINT(40u, hal_host_delivered_total());
    pump_event(PUMP_EV_SUSPEND);
    run_minutes(60u);
    CG_ASSERT_EQ_UINT(40u, hal_host_delivered_total());
    pump_event(PUMP_EV_RESUME);
    basal_tick();
    CG_ASSERT_EQ_UINT(40u, hal_host_delivered_total()); /* nothing owed for the suspension */
    run_minutes(30u);
    CG_ASSERT_EQ_UINT(80u, hal_host_delivered_total());
}

CG_TEST(profile_survives_save_and_restore, "PUMP-SRS-021, PUMP-SRS-014")
{
    setup();
    CG_ASSERT_EQ_INT(0, basal_set_segment(0u, 55u));
    CG_ASSERT_EQ_INT(0, basal_set_segment(20u, 125u));
    CG_ASSERT_EQ_INT(0, basal_save());
    basal_init();
    CG_ASSERT_EQ_UINT(BASAL_DEFAULT_RATE_CU_H, basal_scheduled_rate(600u));
    CG_ASSERT_EQ_INT(0, basal_restore());
    CG_ASSERT_EQ_UINT(55u, basal_scheduled_rate(0u));
    CG_ASSERT_EQ_UINT(125u, basal_scheduled_rate(600u));
}

CG_TEST(corrupted_profile_record_falls_back_to_default, "PUMP-SRS-021, PUMP-SRS-014")
{
    uint8_t *nv = hal_host_nv();

    setup();
    /* erased memory: no record */
    CG_ASSERT_EQ_INT(0, basal_set_segment(4u, 200u));
    CG_ASSERT_EQ_INT(-1, basal_restore());
    CG_ASSERT_EQ_UINT(BASAL_DEFAULT_RATE_CU_H, basal_scheduled_rate(120u));
    /* one corrupted rate byte */
    CG_ASSERT_EQ_INT(0, basal_set_segment(4u, 200u));
    CG_ASSERT_EQ_INT(0, basal_save());
    nv[BASAL_NV_ADDR + 11u] ^= 0x01u;
    CG_ASSERT_EQ_INT(-1, basal_restore());
    CG_ASSERT_EQ_UINT(BASAL_DEFAULT_RATE_CU_H, basal_scheduled_rate(120u));
    /* record of another firmware version */
    CG_ASSERT_EQ_INT(0, basal_set_segment(4u, 200u));
    CG_ASSERT_EQ_INT(0, basal_save());
    nv[BASAL_NV_ADDR + 1u] = 0x02u;
    CG_ASSERT_EQ_INT(-1, basal_restore());
    CG_ASSERT_EQ_UINT(BASAL_DEFAULT_RATE_CU_H, basal_scheduled_rate(120u));
    /* storage failure */
    CG_ASSERT_EQ_INT(0, basal_set_segment(4u, 200u));
    CG_ASSERT_EQ_INT(0, basal_save());
    hal_host_fail_nv(1);
    CG_ASSERT_NE_INT(0, basal_save());
    CG_ASSERT_EQ_INT(-1, basal_restore());
    CG_ASSERT_EQ_UINT(BASAL_DEFAULT_RATE_CU_H, basal_scheduled_rate(120u));
}

CG_MAIN()
