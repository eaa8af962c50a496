/*
 * pump.c - operating state machine of the pump:
 *
 *   IDLE --prime--> PRIMING --primed--> IDLE --start--> DELIVERING <--suspend/resume--> SUSPENDED
 *   any state --occlusion / reservoir empty / fault--> ALARM --acknowledge--> SUSPENDED
 *
 * All insulin leaves the reservoir through pump_deliver() (bolus and basal) or the priming
 * steps, so the reservoir level is tracked in one place.
 */
#include "pump.h"

static pump_state_t state;
static pump_alarm_t alarm;
static insulin_cu_t reservoir;
static insulin_cu_t primed_cu;
static bool primed;
static uint8_t occlusion_count;

/*
 * Fresh cartridge and infusion set: back to IDLE, priming required again.
 * @req PUMP-SRS-009, PUMP-SRS-025
 */
void pump_init(insulin_cu_t reservoir_cu)
{
    state = PUMP_IDLE;
    alarm = PUMP_ALARM_NONE;
    reservoir = reservoir_cu;
    primed_cu = 0u;
    primed = false;
    occlusion_count = 0u;
}

/*
 * @req PUMP-SRS-009
 */
pump_state_t pump_state(void)
{
    return state;
}

/*
 * @req PUMP-SRS-013
 */
pump_alarm_t pump_alarm(void)
{
    return alarm;
}

/*
 * @req PUMP-SRS-025
 */
insulin_cu_t pump_reservoir(void)
{
    return reservoir;
}

/*
 * Stop the motor at once and latch the alarm; a second alarm keeps the first cause.
 * @req PUMP-SRS-013
 */
static void pump_raise_alarm(pump_alarm_t cause)
{
    hal_motor_stop();
    if (state != PUMP_ALARM) {
        alarm = cause;
        state = PUMP_ALARM;
    }
}

/*
 * Apply one event to the state machine; events not valid in the current state are ignored.
 * @req PUMP-SRS-009, PUMP-SRS-010, PUMP-SRS-011, PUMP-SRS-013
 */
pump_state_t pump_event(pump_event_t ev)
{
    switch (ev) {
    case PUMP_EV_PRIME:
        if (state == PUMP_IDLE) {
            primed_cu = 0u;
            primed = false;
            state = PUMP_PRIMING;
        }
        break;
    case PUMP_EV_PRIME_DONE:
        if (state == PUMP_PRIMING) {
            primed = true;
            state = PUMP_IDLE;
        }
        break;
    case PUMP_EV_START:
        if (state == PUMP_IDLE && primed) {
            state = PUMP_DELIVERING;
        }
        break;
    case PUMP_EV_SUSPEND:
        if (state == PUMP_DELIVERING || state == PUMP_PRIMING) {
            hal_motor_stop();
            state = PUMP_SUSPENDED;
        }
        break;
    case PUMP_EV_RESUME:
        if (state == PUMP_SUSPENDED) {
            state = primed ? PUMP_DELIVERING : PUMP_IDLE;
        }
        break;
    case PUMP_EV_OCCLUSION:
        pump_raise_alarm(PUMP_ALARM_OCCLUSION);
        break;
    case PUMP_EV_RESERVOIR_EMPTY:
        pump_raise_alarm(PUMP_ALARM_RESERVOIR_EMPTY);
        break;
    case PUMP_EV_FAULT:
        pump_raise_alarm(PUMP_ALARM_FAULT);
        break;
    case PUMP_EV_ALARM_ACK:
        if (state == PUMP_ALARM) {
            alarm = PUMP_ALARM_NONE;
            state = PUMP_SUSPENDED;
        }
        break;
    default:
        break;
    }
    return state;
}

/*
 * One priming step; returns the amount still to prime, or a negative pump_result_t.
 * @req PUMP-SRS-010
 */
int pump_prime_step(void)
{
    insulin_cu_t step = PUMP_PRIME_STEP_CU;

    if (state != PUMP_PRIMING) {
        return PUMP_ERR_STATE;
    }
    if (reservoir < step) {
        pump_event(PUMP_EV_RESERVOIR_EMPTY);
        return PUMP_ERR_RESERVOIR;
    }
    if (hal_motor_deliver(step) != 0) {
        pump_event(PUMP_EV_FAULT);
        return PUMP_ERR_MOTOR;
    }
    reservoir = (insulin_cu_t)(reservoir - step);
    primed_cu = (insulin_cu_t)(primed_cu + step);
    if (primed_cu >= PUMP_PRIME_VOLUME_CU) {
        pump_event(PUMP_EV_PRIME_DONE);
        return 0;
    }
    return PUMP_PRIME_VOLUME_CU - primed_cu;
}

/*
 * Deliver insulin (bolus or basal) and take it off the reservoir.  Only while DELIVERING:
 * nothing leaves the pump while it is idle, priming, suspended or in alarm.
 * @req PUMP-SRS-011, PUMP-SRS-025
 */
pump_result_t pump_deliver(insulin_cu_t amount)
{
    if (state != PUMP_DELIVERING) {
        return PUMP_ERR_STATE;
    }
    if (amount > reservoir) {
        return PUMP_ERR_RESERVOIR;
    }
    if (hal_motor_deliver(amount) != 0) {
        pump_event(PUMP_EV_FAULT);
        return PUMP_ERR_MOTOR;
    }
    reservoir = (insulin_cu_t)(reservoir - amount);
    if (reservoir == 0u) {
        pump_event(PUMP_EV_RESERVOIR_EMPTY);
    }
    return PUMP_OK;
}

/*
 * Sample the line pressure (called by the scheduler once a second).  An occlusion is declared
 * after OCCLUSION_DEBOUNCE_SAMPLES consecutive samples at or above the threshold while the
 * motor is active; returns true when it raised the occlusion alarm.
 * @req PUMP-SRS-012
 */
bool occlusion_check(void)
{
    if (state != PUMP_DELIVERING && state != PUMP_PRIMING) {
        occlusion_count = 0u;
        return false;
    }
    if (hal_pressure_read_kpa() >= OCCLUSION_THRESHOLD_KPA) {
        occlusion_count++;
    } else {
        occlusion_count = 0u;
    }
    if (occlusion_count >= OCCLUSION_DEBOUNCE_SAMPLES) {
        occlusion_count = 0u;
        pump_event(PUMP_EV_OCCLUSION);
        return true;
    }
    return false;
}
