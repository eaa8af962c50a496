/*
 * test_pump.c - operating state machine, priming, delivery and reservoir tracking, alarms
 * and occlusion detection.
 */
#include "covguard_test.h"
#include "hal_host.h"
#include "pump.h"

/* fixture: every test calls it first */
static void setup(void)
{
    hal_init();
    pump_init(PUMP_RESERVOIR_FULL_CU);
}

static void prime(void)
{
    pump_event(PUMP_EV_PRIME);
    while (pump_prime_step() > 0) {
    }
}

static void start_delivery(void)
{
    prime();
    pump_event(PUMP_EV_START);
}

CG_TEST(pump_starts_idle_with_full_reservoir, "PUMP-SRS-009, PUMP-SRS-025")
{
    setup();
    CG_ASSERT_EQ_INT(PUMP_IDLE, pump_state());
    CG_ASSERT_EQ_INT(PUMP_ALARM_NONE, pump_alarm());
    CG_ASSERT_EQ_UINT(PUMP_RESERVOIR_FULL_CU, pump_reservoir());
}

CG_TEST(delivery_cannot_start_before_priming, "PUMP-SRS-009, PUMP-SRS-010")
{
    setup();
    CG_ASSERT_EQ_INT(PUMP_IDLE, pump_event(PUMP_EV_START));
    CG_ASSERT_EQ_INT(PUMP_ERR_STATE, pump_deliver(100u));
    CG_ASSERT_EQ_UINT(0u, hal_host_delivery_count());
}

CG_TEST(priming_fills_the_infusion_set, "PUMP-SRS-010")
{
    setup();
    CG_ASSERT_EQ_INT(PUMP_PRIMING, pump_event(PUMP_EV_PRIME));
    CG_ASSERT_EQ_INT(150, pump_prime_step());
    CG_ASSERT_EQ_INT(100, pump_prime_step());
    CG_ASSERT_EQ_INT(50, pump_prime_step());
    CG_ASSERT_EQ_INT(0, pump_prime_step());
    CG_ASSERT_EQ_INT(PUMP_IDLE, pump_state());
    CG_ASSERT_EQ_UINT(PUMP_PRIME_VOLUME_CU, hal_host_delivered_total());
    CG_ASSERT_EQ_UINT(PUMP_RESERVOIR_FULL_CU - PUMP_PRIME_VOLUME_CU, pump_reservoir());
    CG_ASSERT_EQ_INT(PUMP_ERR_STATE, pump_prime_step());
    CG_ASSERT_EQ_INT(PUMP_DELIVERING, pump_event(PUMP_EV_START));
}

CG_TEST(priming_faults_raise_alarm, "PUMP-SRS-010, PUMP-SRS-013")
{
    setup();
    pump_init(30u); /* less than one priming step left */
    pump_event(PUMP_EV_PRIME);
    CG_ASSERT_EQ_INT(PUMP_ERR_RESERVOIR, pump_prime_step());
    CG_ASSERT_EQ_INT(PUMP_ALARM, pump_state());
    CG_ASSERT_EQ_INT(PUMP_ALARM_RESERVOIR_EMPTY, pump_alarm());

    pump_init(PUMP_RESERVOIR_FULL_CU);
    pump_event(PUMP_EV_PRIME);
    hal_host_fail_motor(1);
    CG_ASSERT_EQ_INT(PUMP_ERR_MOTOR, pump_prime_step());
    CG_ASSERT_EQ_INT(PUMP_ALARM_FAULT, pump_alarm());
    CG_ASSERT_EQ_UINT(PUMP_RESERVOIR_FULL_CU, pump_reservoir());
}

CG_TEST(suspend_stops_and_resume_restarts_delivery, "PUMP-SRS-011")
{
    setup();
    start_delivery();
    CG_ASSERT_EQ_INT(PUMP_SUSPENDED, pump_event(PUMP_EV_SUSPEND));
    CG_ASSERT_EQ_UINT(1u, hal_host_motor_stops());
    CG_ASSERT_EQ_INT(PUMP_ERR_STATE, pump_deliver(100u));
    CG_ASSERT_EQ_INT(PUMP_DELIVERING, pump_event(PUMP_EV_RESUME));
    CG_ASSERT_EQ_INT(PUMP_OK, pump_deliver(100u));
}

CG_TEST(suspend_during_priming_resumes_to_idle, "PUMP-SRS-011, PUMP-SRS-010")
{
    setup();
    pump_event(PUMP_EV_PRIME);
    CG_ASSERT_EQ_INT(150, pump_prime_step());
    CG_ASSERT_EQ_INT(PUMP_SUSPENDED, pump_event(PUMP_EV_SUSPEND));
    CG_ASSERT_EQ_INT(PUMP_IDLE, pump_event(PUMP_EV_RESUME));
    CG_ASSERT_EQ_INT(PUMP_IDLE, pump_event(PUMP_EV_START)); /* priming was not finished */
}

CG_TEST(events_invalid_in_state_are_ignored, "PUMP-SRS-009")
{
    setup();
    CG_ASSERT_EQ_INT(PUMP_IDLE, pump_event(PUMP_EV_RESUME));
    CG_ASSERT_EQ_INT(PUMP_IDLE, pump_event(PUMP_EV_PRIME_DONE));
    CG_ASSERT_EQ_INT(PUMP_IDLE, pump_event(PUMP_EV_SUSPEND));
    CG_ASSERT_EQ_INT(PUMP_IDLE, pump_event(PUMP_EV_ALARM_ACK));
    CG_ASSERT_EQ_INT(PUMP_IDLE, pump_event((pump_event_t)99));
    start_delivery();
    CG_ASSERT_EQ_INT(PUMP_DELIVERING, pump_event(PUMP_EV_PRIME));
    CG_ASSERT_EQ_INT(PUMP_DELIVERING, pump_event(PUMP_EV_START));
    CG_ASSERT_EQ_UINT(0u, hal_host_motor_stops());
}

CG_TEST(delivery_is_taken_from_reservoir, "PUMP-SRS-025")
{
    setup();
    start_delivery();
    CG_ASSERT_EQ_INT(PUMP_OK, pump_deliver(250u));
    CG_ASSERT_EQ_UINT(PUMP_RESERVOIR_FULL_CU - PUMP_PRIME_VOLUME_CU - 250u, pump_reservoir());
    CG_ASSERT_EQ_UINT(250u, hal_host_delivery(hal_host_delivery_count() - 1u));
}

CG_TEST(reservoir_cannot_be_overdrawn_and_empty_raises_alarm, "PUMP-SRS-025, PUMP-SRS-013")
{
    setup();
    pump_init(PUMP_PRIME_VOLUME_CU + 100u);
    start_delivery();
    CG_ASSERT_EQ_INT(PUMP_ERR_RESERVOIR, pump_deliver(150u));
    CG_ASSERT_EQ_UINT(100u, pump_reservoir());
    CG_ASSERT_EQ_INT(PUMP_OK, pump_deliver(100u));
    CG_ASSERT_EQ_UINT(0u, pump_reservoir());
    CG_ASSERT_EQ_INT(PUMP_ALARM, pump_state());
    CG_ASSERT_EQ_INT(PUMP_ALARM_RESERVOIR_EMPTY, pump_alarm());
}

CG_TEST(motor_fault_during_delivery_raises_alarm, "PUMP-SRS-013, PUMP-SRS-025")
{
    setup();
    start_delivery();
    hal_host_fail_motor(1);
    CG_ASSERT_EQ_INT(PUMP_ERR_MOTOR, pump_deliver(100u));
    CG_ASSERT_EQ_INT(PUMP_ALARM, pump_state());
    CG_ASSERT_EQ_INT(PUMP_ALARM_FAULT, pump_alarm());
    CG_ASSERT_EQ_UINT(PUMP_RESERVOIR_FULL_CU - PUMP_PRIME_VOLUME_CU, pump_reservoir());
}

CG_TEST(alarm_latches_until_acknowledged, "PUMP-SRS-013")
{
    setup();
    start_delivery();
    CG_ASSERT_EQ_INT(PUMP_ALARM, pump_event(PUMP_EV_FAULT));
    CG_ASSERT_EQ_INT(PUMP_ALARM, pump_event(PUMP_EV_OCCLUSION));
    CG_ASSERT_EQ_INT(PUMP_ALARM_FAULT, pump_alarm()); /* the first cause is kept */
    CG_ASSERT_EQ_UINT(2u, hal_host_motor_stops());
    CG_ASSERT_EQ_INT(PUMP_ALARM, pump_event(PUMP_EV_RESUME));
    CG_ASSERT_EQ_INT(PUMP_SUSPENDED, pump_event(PUMP_EV_ALARM_ACK));
    CG_ASSERT_EQ_INT(PUMP_ALARM_NONE, pump_alarm());
    CG_ASSERT_EQ_INT(PUMP_DELIVERING, pump_event(PUMP_EV_RESUME));
}

CG_TEST(occlusion_declared_after_three_high_samples, "PUMP-SRS-012")
{
    setup();
    start_delivery();
    hal_host_set_pressure(OCCLUSION_THRESHOLD_KPA);
    CG_ASSERT_FALSE(occlusion_check());
    CG_ASSERT_FALSE(occlusion_check());
    CG_ASSERT_TRUE(occlusion_check());
    CG_ASSERT_EQ_INT(PUMP_ALARM, pump_state());
    CG_ASSERT_EQ_INT(PUMP_ALARM_OCCLUSION, pump_alarm());
}

CG_TEST(occlusion_ignores_pressure_spikes, "PUMP-SRS-012")
{
    static const uint16_t samples[] = {200u, 200u, 120u, 250u, 179u, 190u, 190u, 100u, 300u};
    size_t i;

    setup();
    start_delivery();
    for (i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        hal_host_set_pressure(samples[i]);
        CG_ASSERT_FALSE(occlusion_check());
    }
    CG_ASSERT_EQ_INT(PUMP_DELIVERING, pump_state());
}

CG_TEST(occlusion_checked_only_while_motor_active, "PUMP-SRS-012")
{
    unsigned i;

    setup();
    hal_host_set_pressure(250u);
    for (i = 0; i < 5u; i++) {
        CG_ASSERT_FALSE(occlusion_check()); /* idle */
    }
    pump_event(PUMP_EV_PRIME);
    CG_ASSERT_FALSE(occlusion_check());
    CG_ASSERT_FALSE(occlusion_check());
    CG_ASSERT_TRUE(occlusion_check());
    CG_ASSERT_EQ_INT(PUMP_ALARM_OCCLUSION, pump_alarm());
}

CG_TEST(occlusion_alarm_stops_delivery, "PUMP-SRS-012")
{
    setup();
    start_delivery();
    hal_host_set_pressure(250u);
    pump_event(PUMP_EV_OCCLUSION);
    CG_ASSERT_EQ_INT(PUMP_ALARM, pump_state());
    CG_ASSERT_EQ_INT(PUMP_ALARM_OCCLUSION, pump_alarm());
    CG_ASSERT_EQ_UINT(1u, hal_host_motor_stops());
    CG_ASSERT_EQ_INT(PUMP_ERR_STATE, pump_deliver(100u));
}

CG_MAIN()
