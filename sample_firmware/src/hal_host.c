/*
 * hal_host.c - host test double of the HAL: a settable pressure sensor, a recording motor,
 * a fake millisecond clock, a captured radio transmitter and RAM-backed nonvolatile memory.
 * Linked into the unit tests only; the product image uses hal_target.c.
 */
#include "hal_host.h"

#include <string.h>

static uint16_t fake_pressure_kpa;
static uint32_t fake_time_ms;
static int motor_fails;
static int nv_fails;
static insulin_cu_t deliveries[HAL_HOST_MAX_DELIVERIES];
static unsigned delivery_count;
static uint32_t delivered_total;
static unsigned motor_stops;
static uint8_t sent_frame[64];
static size_t sent_len;
static uint8_t nv_mem[HAL_NV_SIZE];

void hal_host_reset(void)
{
    fake_pressure_kpa = 0;
    fake_time_ms = 0;
    motor_fails = 0;
    nv_fails = 0;
    delivery_count = 0;
    delivered_total = 0;
    motor_stops = 0;
    sent_len = 0;
    memset(nv_mem, 0xFF, sizeof nv_mem); /* erased flash */
}

void hal_init(void)
{
    hal_host_reset();
}

void hal_host_set_pressure(uint16_t kpa)
{
    fake_pressure_kpa = kpa;
}

void hal_host_set_time_ms(uint32_t ms)
{
    fake_time_ms = ms;
}

void hal_host_advance_ms(uint32_t ms)
{
    fake_time_ms += ms;
}

void hal_host_fail_motor(int fail)
{
    motor_fails = fail;
}

void hal_host_fail_nv(int fail)
{
    nv_fails = fail;
}

unsigned hal_host_delivery_count(void)
{
    return delivery_count;
}

insulin_cu_t hal_host_delivery(unsigned index)
{
    return deliveries[index % HAL_HOST_MAX_DELIVERIES];
}

uint32_t hal_host_delivered_total(void)
{
    return delivered_total;
}

unsigned hal_host_motor_stops(void)
{
    return motor_stops;
}

size_t hal_host_sent(const uint8_t **frame)
{
    *frame = sent_frame;
    return sent_len;
}

uint8_t *hal_host_nv(void)
{
    return nv_mem;
}

uint16_t hal_pressure_read_kpa(void)
{
    return fake_pressure_kpa;
}

int hal_motor_deliver(insulin_cu_t amount)
{
    if (motor_fails) {
        return -1;
    }
    deliveries[delivery_count % HAL_HOST_MAX_DELIVERIES] = amount; /* ring of the latest */
    delivery_count++;
    delivered_total += amount;
    return 0;
}

void hal_motor_stop(void)
{
    motor_stops++;
}

size_t hal_radio_receive(uint8_t *buf, size_t max)
{
    (void)buf;
    (void)max;
    return 0; /* the unit tests hand frames to cmd_process() directly */
}

void hal_radio_send(const uint8_t *buf, size_t len)
{
    if (len > sizeof sent_frame) {
        len = sizeof sent_frame;
    }
    memcpy(sent_frame, buf, len);
    sent_len = len;
}

uint32_t hal_time_ms(void)
{
    return fake_time_ms;
}

int hal_nv_read(uint32_t addr, void *buf, size_t len)
{
    if (nv_fails || addr > HAL_NV_SIZE || len > HAL_NV_SIZE - addr) {
        return -1;
    }
    memcpy(buf, &nv_mem[addr], len);
    return 0;
}

int hal_nv_write(uint32_t addr, const void *buf, size_t len)
{
    if (nv_fails || addr > HAL_NV_SIZE || len > HAL_NV_SIZE - addr) {
        return -1;
    }
    memcpy(&nv_mem[addr], buf, len);
    return 0;
}
